/**
 * LocalWorkQueue: the work queue on local disk, for running Fluxless as one local process.
 * Same semantics as SqsWorkQueue (see types.ts): at-least-once, FIFO and one message in
 * flight per group, 5-minute deduplication, dead-letter queue with reasons.
 *
 * Layout of `dir`:
 *   owner.lock           the process that owns (consumes) the queue (util/file-lock.ts)
 *   messages/<id>.json   one file per queued message (written atomically, util/fs-atomic.ts),
 *                        with its group, send sequence, visibility time and receive count
 *   dead/<id>.json       dead-lettered messages with `reason` and `deadLetteredAt`
 *   incoming/*.json      messages sent by other processes, taken in by the owner
 *   dedup.log            append-only log of dedup ids (and the send sequence), compacted
 *
 * One process owns the directory (the lock); in that process any number of concurrent
 * consumers may share the instance. Another process (or another instance in the same
 * process that was not opened) can still `send()`: its messages are written to incoming/
 * and taken in by the owner (within `pollIntervalMs` when the owner is long-polling), with
 * deduplication applied at that point; `listDead()` reads the directory and works anywhere.
 *
 * Restart: the receive count is persisted when a message is received. When the owner
 * starts, messages that were in flight in the previous process become visible at once (that
 * process is gone, nobody is working on them); their earlier delivery counts as a failed
 * one, so a message that crashes the process is dead-lettered after `maxReceives`.
 * Extending visibility and releasing are in-memory only: after a restart everything that is
 * not dead is deliverable at once (a delay given at send time is kept).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ConflictError, EnvironmentError, errorMessage } from '../util/errors.js';
import { acquireLock, type HeldLock } from '../util/file-lock.js';
import { removeFile, removeStaleTemps, writeFileAtomic } from '../util/fs-atomic.js';
import { log } from '../util/log.js';
import { consume } from './consume.js';
import { parseMessage, type QueueMessage } from './message.js';
import {
  checkSeconds,
  cleanReason,
  resolveRawSend,
  resolveReceive,
  resolveSend,
  MAX_VISIBILITY_SECONDS,
  type ResolvedSend,
} from './options.js';
import {
  DEDUP_WINDOW_MS,
  MAX_DELAY_SECONDS,
  ReceiptExpiredError,
  type ConsumeOptions,
  type DeadMessage,
  type MessageHandler,
  type RawSendOptions,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendOptions,
  type SendResult,
  type WorkQueue,
} from './types.js';

const qlog = log.child({ component: 'queue', backend: 'local' });

/** Options of LocalWorkQueue: fsync of message files, and how often other processes' sends are picked up. */
export interface LocalWorkQueueOptions {
  /** fsync message files before renaming them into place (survives power loss). Default true. */
  fsync?: boolean;
  /** How often a long poll looks for messages sent by other processes. Default 250 ms. */
  pollIntervalMs?: number;
}

/** A message file. */
interface StoredMessage {
  id: string;
  seq: number;
  groupId: string;
  dedupId: string;
  body: string;
  sentAt: number;
  /** Not deliverable before this time (delay at send). */
  visibleAt: number;
  receiveCount: number;
  lastReceivedAt?: number;
}

interface StoredDead extends StoredMessage {
  reason: string;
  deadLetteredAt: number;
}

/** A message written to incoming/ by a process that does not own the queue. */
interface StoredIncoming {
  id: string;
  groupId: string;
  dedupId: string;
  body: string;
  sentAt: number;
  delaySeconds: number;
}

/** A queued message in memory. */
interface Live extends StoredMessage {
  receipt?: string;
  /** Visibility deadline of the current delivery. */
  deadline?: number;
}

interface DedupEntry {
  messageId: string;
  expiresAt: number;
  /** Written to dedup.log (only committed entries survive a compaction). */
  committed: boolean;
  /** Set while the first send is being written; resolves to whether it succeeded. */
  pending?: Promise<boolean>;
}

/** Owners in this process, by resolved directory. */
const owners = new Map<string, LocalWorkQueue>();
let incomingCounter = 0;

function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === code;
}

function isStr(v: unknown): v is string {
  return typeof v === 'string';
}
function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function decodeStored(text: string): StoredMessage {
  const v = JSON.parse(text) as Record<string, unknown>;
  if (
    typeof v !== 'object' || v === null ||
    !isStr(v.id) || !isNum(v.seq) || !isStr(v.groupId) || !isStr(v.dedupId) || !isStr(v.body) ||
    !isNum(v.sentAt) || !isNum(v.visibleAt) || !isNum(v.receiveCount)
  ) {
    throw new Error('not a queue message record');
  }
  const rec: StoredMessage = {
    id: v.id, seq: v.seq, groupId: v.groupId, dedupId: v.dedupId, body: v.body,
    sentAt: v.sentAt, visibleAt: v.visibleAt, receiveCount: v.receiveCount,
  };
  if (isNum(v.lastReceivedAt)) rec.lastReceivedAt = v.lastReceivedAt;
  return rec;
}

function decodeIncoming(text: string): StoredIncoming {
  const v = JSON.parse(text) as Record<string, unknown>;
  if (
    typeof v !== 'object' || v === null ||
    !isStr(v.id) || !isStr(v.groupId) || !isStr(v.dedupId) || !isStr(v.body) || !isNum(v.sentAt) || !isNum(v.delaySeconds)
  ) {
    throw new Error('not an incoming message record');
  }
  return { id: v.id, groupId: v.groupId, dedupId: v.dedupId, body: v.body, sentAt: v.sentAt, delaySeconds: v.delaySeconds };
}

function toStored(rec: Live): StoredMessage {
  const s: StoredMessage = {
    id: rec.id, seq: rec.seq, groupId: rec.groupId, dedupId: rec.dedupId, body: rec.body,
    sentAt: rec.sentAt, visibleAt: rec.visibleAt, receiveCount: rec.receiveCount,
  };
  if (rec.lastReceivedAt !== undefined) s.lastReceivedAt = rec.lastReceivedAt;
  return s;
}

function bySeq(a: Live, b: Live): number {
  return a.seq - b.seq;
}

/** WorkQueue in a local directory for `fluxless serve`, with SqsWorkQueue's semantics; one process owns and consumes it. */
export class LocalWorkQueue implements WorkQueue {
  readonly dir: string;
  private readonly fsync: boolean;
  private readonly pollIntervalMs: number;
  private readonly paths: {
    messages: string; dead: string; incoming: string; lock: string; dedupLog: string;
  };

  private opened = false;
  private closed = false;
  private opening?: Promise<void>;
  private lock?: HeldLock;

  private readonly records = new Map<string, Live>();
  /** Per group, messages in send order; the head is the only one that can be in flight. */
  private readonly groups = new Map<string, Live[]>();
  private readonly receipts = new Map<string, Live>();
  private readonly dedup = new Map<string, DedupEntry>();
  private seq = 0;

  private readonly waiters = new Set<() => void>();
  private readonly pending = new Set<Promise<unknown>>();
  private ingesting?: Promise<void>;
  private lastIngestAt = 0;

  private logQueue: Array<{ line: string; resolve: () => void; reject: (err: unknown) => void }> = [];
  private logDraining = false;
  private logLines = 0;

  constructor(dir: string, opts: LocalWorkQueueOptions = {}) {
    this.dir = path.resolve(dir);
    this.fsync = opts.fsync ?? true;
    this.pollIntervalMs = Math.max(10, opts.pollIntervalMs ?? 250);
    this.paths = {
      messages: path.join(this.dir, 'messages'),
      dead: path.join(this.dir, 'dead'),
      incoming: path.join(this.dir, 'incoming'),
      lock: path.join(this.dir, 'owner.lock'),
      dedupLog: path.join(this.dir, 'dedup.log'),
    };
  }

  /** Creates an instance and opens it (takes ownership of the directory). */
  static async open(dir: string, opts?: LocalWorkQueueOptions): Promise<LocalWorkQueue> {
    const q = new LocalWorkQueue(dir, opts);
    await q.open();
    return q;
  }

  /**
   * Takes ownership of the directory and loads its state. Called by receive() and the other
   * consumer methods on first use. Throws EnvironmentError if another live process owns it.
   */
  async open(): Promise<void> {
    if (this.closed) throw this.closedError();
    if (this.opened) return;
    if (!this.opening) {
      this.opening = this.doOpen().then(
        () => {
          this.opened = true;
        },
        (err: unknown) => {
          this.opening = undefined;
          throw err;
        },
      );
    }
    return this.opening;
  }

  private closedError(): EnvironmentError {
    return new EnvironmentError(`the local work queue in ${this.dir} was closed`, {
      hint: 'Create a new LocalWorkQueue for the directory.',
    });
  }

  private async doOpen(): Promise<void> {
    const other = owners.get(this.dir);
    if (other && other !== this) {
      throw new EnvironmentError(`the local work queue in ${this.dir} is already open in this process`, {
        hint: 'Share one LocalWorkQueue instance per directory (or close the other one first).',
      });
    }
    owners.set(this.dir, this);
    try {
      for (const p of [this.paths.messages, this.paths.dead, this.paths.incoming]) {
        await mkdir(p, { recursive: true });
      }
      await this.acquireLock();
      try {
        await this.load();
      } catch (err) {
        await this.releaseLock();
        throw err;
      }
    } catch (err) {
      if (owners.get(this.dir) === this) owners.delete(this.dir);
      if (err instanceof EnvironmentError) throw err;
      throw new EnvironmentError(`could not open the local work queue in ${this.dir}: ${errorMessage(err)}`, {
        cause: err,
        hint: 'Check that the directory is writable.',
      });
    }
  }

  private async acquireLock(): Promise<void> {
    try {
      // Held for the life of the process: never stale by age, only when its owner is gone.
      this.lock = await acquireLock(path.join(this.dir, 'owner'), { staleMs: Number.POSITIVE_INFINITY, timeoutMs: 0, what: `the local work queue in ${this.dir}` });
    } catch (err) {
      if (err instanceof ConflictError) throw new EnvironmentError(errorMessage(err), { hint: `Stop the other Fluxless process. If it is gone, delete ${this.paths.lock}.` });
      throw err;
    }
  }

  private async releaseLock(): Promise<void> {
    await this.lock?.release();
    this.lock = undefined;
  }

  private async load(): Promise<void> {
    const now = Date.now();
    // We own the directory: temp files are what a crashed owner left behind.
    for (const d of [this.dir, this.paths.messages, this.paths.dead]) await removeStaleTemps(d, 0);
    await rm(path.join(this.dir, 'tmp'), { recursive: true, force: true }); // staging dir of older versions
    for (const f of await readdir(this.paths.incoming)) {
      if (!f.startsWith('.tmp-')) continue;
      const p = path.join(this.paths.incoming, f);
      const st = await stat(p).catch(() => undefined);
      if (st && now - st.mtimeMs > 3_600_000) await rm(p, { force: true });
    }
    const dead = new Set(await readdir(this.paths.dead));
    let inFlight = 0;
    for (const f of await readdir(this.paths.messages)) {
      if (!f.endsWith('.json')) continue;
      const p = path.join(this.paths.messages, f);
      if (dead.has(f)) {
        // Crashed between writing the dead-letter file and removing the message: dead wins.
        await rm(p, { force: true });
        continue;
      }
      let text: string;
      try {
        text = await readFile(p, 'utf8');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        if (isErrno(err, 'EISDIR') || isErrno(err, 'EACCES')) {
          await this.setAside(p, `queue file ${f} cannot be read (${(err as NodeJS.ErrnoException).code})`);
          continue;
        }
        throw err;
      }
      let rec: StoredMessage;
      try {
        rec = decodeStored(text);
      } catch (err) {
        await this.quarantine(p, text, `queue file ${f} is unreadable (${errorMessage(err)})`);
        continue;
      }
      if (rec.lastReceivedAt !== undefined) inFlight++;
      this.index(rec);
      if (rec.seq > this.seq) this.seq = rec.seq;
    }
    await this.loadDedup(now);
    for (const rec of this.records.values()) {
      if (!this.dedup.has(rec.dedupId) && rec.sentAt + DEDUP_WINDOW_MS > now) {
        this.dedup.set(rec.dedupId, { messageId: rec.id, expiresAt: rec.sentAt + DEDUP_WINDOW_MS, committed: true });
      }
    }
    qlog.debug('local work queue opened', { dir: this.dir, messages: this.records.size, previouslyReceived: inFlight });
    await this.ingest(true);
  }

  /** Renames something that is not a readable message file out of the way (never deleted), and says so. */
  private async setAside(p: string, reason: string): Promise<void> {
    const to = `${p}.unreadable-${randomUUID()}`;
    await rename(p, to).catch(() => undefined);
    qlog.warn('set aside an entry of the local work queue that is not a message file', { file: p, movedTo: to, reason });
  }

  /** Moves an unreadable file to dead/ with the reason, so nothing is silently dropped. */
  private async quarantine(file: string, text: string, reason: string): Promise<void> {
    const id = `unreadable-${randomUUID()}`;
    const dead: StoredDead = {
      id, seq: 0, groupId: '', dedupId: '', body: text, sentAt: Date.now(), visibleAt: 0, receiveCount: 0,
      reason, deadLetteredAt: Date.now(),
    };
    await this.atomicWrite(path.join(this.paths.dead, `${id}.json`), JSON.stringify(dead));
    await rm(file, { force: true });
    qlog.warn('unreadable queue file moved to the dead-letter directory', { file, reason });
  }

  // ---------------------------------------------------------------- dedup log

  private async loadDedup(now: number): Promise<void> {
    let text = '';
    try {
      text = await readFile(this.paths.dedupLog, 'utf8');
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
    }
    let lines = 0;
    for (const line of text.split('\n')) {
      if (!line) continue;
      lines++;
      let e: { d?: unknown; m?: unknown; e?: unknown; s?: unknown };
      try {
        e = JSON.parse(line) as typeof e;
      } catch {
        continue; // a torn last line after a crash
      }
      if (isNum(e.s) && e.s > this.seq) this.seq = e.s;
      if (isStr(e.d) && isStr(e.m) && isNum(e.e) && e.e > now) {
        this.dedup.set(e.d, { messageId: e.m, expiresAt: e.e, committed: true });
      }
    }
    this.logLines = lines;
    if (lines > this.dedup.size + 1) await this.compactLog();
  }

  private dedupLine(dedupId: string, entry: DedupEntry, seq: number): string {
    return `${JSON.stringify({ d: dedupId, m: entry.messageId, e: entry.expiresAt, s: seq })}\n`;
  }

  private appendDedup(line: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.logQueue.push({ line, resolve, reject });
      if (!this.logDraining) this.track(this.drainLog());
    });
  }

  /** Writes queued dedup lines in batches (one append per batch), compacting now and then. */
  private async drainLog(): Promise<void> {
    this.logDraining = true;
    try {
      while (this.logQueue.length) {
        const batch = this.logQueue.splice(0);
        try {
          const fh = await open(this.paths.dedupLog, 'a');
          try {
            await fh.writeFile(batch.map((b) => b.line).join(''));
            if (this.fsync) await fh.datasync();
          } finally {
            await fh.close();
          }
          this.logLines += batch.length;
          for (const b of batch) b.resolve();
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
        if (this.logLines > 1000 && this.logLines > 4 * this.dedup.size) {
          await this.compactLog().catch((err: unknown) =>
            qlog.warn('could not compact the dedup log', { dir: this.dir, error: errorMessage(err) }),
          );
        }
      }
    } finally {
      this.logDraining = false;
    }
  }

  /** Rewrites dedup.log with the live entries and the current sequence. */
  private async compactLog(): Promise<void> {
    const now = Date.now();
    const lines = [`${JSON.stringify({ s: this.seq })}\n`];
    for (const [d, entry] of this.dedup) {
      if (entry.expiresAt <= now && !entry.pending) this.dedup.delete(d);
      else if (entry.committed) lines.push(this.dedupLine(d, entry, 0));
    }
    await this.atomicWrite(this.paths.dedupLog, lines.join(''));
    this.logLines = lines.length;
  }

  // ---------------------------------------------------------------- files

  private async atomicWrite(file: string, data: string): Promise<void> {
    await writeFileAtomic(file, data, { durable: this.fsync, syncDir: false });
  }

  private msgPath(id: string): string {
    return path.join(this.paths.messages, `${id}.json`);
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = () => this.pending.delete(p);
    p.then(done, done);
    return p;
  }

  // ---------------------------------------------------------------- index

  private index(rec: Live): void {
    this.records.set(rec.id, rec);
    if (rec.receipt) this.receipts.set(rec.receipt, rec);
    let list = this.groups.get(rec.groupId);
    if (!list) {
      list = [];
      this.groups.set(rec.groupId, list);
    }
    if (list.length === 0 || list[list.length - 1].seq < rec.seq) list.push(rec);
    else {
      list.push(rec);
      list.sort(bySeq);
    }
  }

  private unindex(rec: Live): void {
    this.records.delete(rec.id);
    if (rec.receipt) this.receipts.delete(rec.receipt);
    const list = this.groups.get(rec.groupId);
    if (!list) return;
    const i = list.indexOf(rec);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.groups.delete(rec.groupId);
  }

  private notify(): void {
    for (const w of [...this.waiters]) w();
  }

  /** The earliest future time at which a group head becomes deliverable. */
  private nextAvailableAt(now: number): number | undefined {
    let next: number | undefined;
    for (const list of this.groups.values()) {
      const h = list[0];
      const at = Math.max(h.visibleAt, h.receipt && h.deadline !== undefined ? h.deadline : 0);
      if (at > now && (next === undefined || at < next)) next = at;
    }
    return next;
  }

  private waitForChange(until: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      const now = Date.now();
      let wakeAt = Math.min(until, now + this.pollIntervalMs);
      const next = this.nextAvailableAt(now);
      if (next !== undefined && next < wakeAt) wakeAt = next;
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, wakeAt - now));
      this.waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  // ---------------------------------------------------------------- send

  async send(msg: QueueMessage, opts?: SendOptions): Promise<SendResult> {
    return this.sendResolved(resolveSend(msg, opts));
  }

  async sendRaw(body: string, opts: RawSendOptions): Promise<SendResult> {
    return this.sendResolved(resolveRawSend(body, opts));
  }

  private async sendResolved(r: ResolvedSend): Promise<SendResult> {
    if (this.closed) throw this.closedError();
    if (this.opened || this.opening) {
      await this.open();
      return this.track(this.enqueue(r, randomUUID(), Date.now()));
    }
    const owner = owners.get(this.dir);
    if (owner && owner !== this) return owner.sendResolved(r);
    return this.writeIncoming(r);
  }

  /** Send from a process (or instance) that does not own the queue. */
  private async writeIncoming(r: ResolvedSend): Promise<SendResult> {
    const id = randomUUID();
    const sentAt = Date.now();
    const rec: StoredIncoming = { id, groupId: r.groupId, dedupId: r.dedupId, body: r.body, sentAt, delaySeconds: r.delaySeconds };
    const name = [
      String(sentAt).padStart(15, '0'),
      String(process.pid).padStart(10, '0'),
      String(++incomingCounter).padStart(10, '0'),
      id,
    ].join('-') + '.json';
    const tmp = path.join(this.paths.incoming, `.tmp-${name}`);
    try {
      await mkdir(this.paths.incoming, { recursive: true });
      const fh = await open(tmp, 'w');
      try {
        await fh.writeFile(JSON.stringify(rec));
        if (this.fsync) await fh.datasync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path.join(this.paths.incoming, name));
    } catch (err) {
      await removeFile(tmp).catch(() => undefined);
      throw new EnvironmentError(`could not write a message to the local work queue in ${this.dir}: ${errorMessage(err)}`, {
        cause: err,
        hint: 'Check that the directory exists and is writable, and that the disk is not full.',
      });
    }
    return { messageId: id };
  }

  private async enqueue(r: ResolvedSend, id: string, sentAt: number): Promise<SendResult> {
    const existing = this.dedup.get(r.dedupId);
    if (existing && existing.expiresAt > Date.now()) {
      if (!existing.pending || (await existing.pending)) return { messageId: existing.messageId };
      return this.enqueue(r, id, sentAt); // the first send failed: this one is not a duplicate
    }
    const rec: Live = {
      id, seq: ++this.seq, groupId: r.groupId, dedupId: r.dedupId, body: r.body, sentAt,
      visibleAt: sentAt + r.delaySeconds * 1000, receiveCount: 0,
    };
    let settle!: (ok: boolean) => void;
    const entry: DedupEntry = {
      messageId: id,
      expiresAt: sentAt + DEDUP_WINDOW_MS,
      committed: false,
      pending: new Promise<boolean>((resolve) => (settle = resolve)),
    };
    this.dedup.set(r.dedupId, entry);
    try {
      await this.atomicWrite(this.msgPath(id), JSON.stringify(toStored(rec)));
      try {
        await this.appendDedup(this.dedupLine(r.dedupId, entry, rec.seq));
      } catch (err) {
        await removeFile(this.msgPath(id)).catch(() => undefined);
        throw err;
      }
    } catch (err) {
      if (this.dedup.get(r.dedupId) === entry) this.dedup.delete(r.dedupId);
      settle(false);
      throw new EnvironmentError(`could not write a message to the local work queue in ${this.dir}: ${errorMessage(err)}`, {
        cause: err,
        hint: 'Check that the directory is writable and the disk is not full.',
      });
    }
    entry.committed = true;
    entry.pending = undefined;
    settle(true);
    this.index(rec);
    this.notify();
    return { messageId: id };
  }

  /** Takes in messages other processes wrote to incoming/ (throttled unless forced). */
  private ingest(force: boolean): Promise<void> {
    if (this.ingesting) return this.ingesting;
    if (!force && Date.now() - this.lastIngestAt < this.pollIntervalMs) return Promise.resolve();
    this.ingesting = this.track(
      this.doIngest().finally(() => {
        this.lastIngestAt = Date.now();
        this.ingesting = undefined;
      }),
    );
    return this.ingesting;
  }

  private async doIngest(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.paths.incoming);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return;
      throw err;
    }
    names = names.filter((n) => !n.startsWith('.') && n.endsWith('.json')).sort();
    for (const n of names) {
      if (this.closed) return;
      const p = path.join(this.paths.incoming, n);
      let text: string;
      try {
        text = await readFile(p, 'utf8');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        if (isErrno(err, 'EISDIR') || isErrno(err, 'EACCES')) {
          await this.setAside(p, `incoming message file ${n} cannot be read (${(err as NodeJS.ErrnoException).code})`);
          continue;
        }
        throw err;
      }
      let inc: StoredIncoming;
      let resolved: ResolvedSend;
      try {
        inc = decodeIncoming(text);
        resolved = resolveRawSend(inc.body, {
          groupId: inc.groupId,
          dedupId: inc.dedupId,
          delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(inc.delaySeconds))),
        });
      } catch (err) {
        await this.quarantine(p, text, `incoming message file ${n} is invalid (${errorMessage(err)})`);
        continue;
      }
      if (!this.records.has(inc.id)) await this.enqueue(resolved, inc.id, inc.sentAt);
      await removeFile(p);
    }
  }

  // ---------------------------------------------------------------- receive

  async receive(opts: ReceiveOptions): Promise<ReceivedMessage[]> {
    const o = resolveReceive(opts);
    await this.open();
    const until = Date.now() + o.waitSeconds * 1000;
    for (;;) {
      if (this.closed) return [];
      await this.ingest(false).catch((err: unknown) =>
        qlog.warn('could not take in messages from other processes', { dir: this.dir, error: errorMessage(err) }),
      );
      const { delivered, touched } = await this.take(o.max, o.visibilityTimeoutSeconds);
      if (delivered.length > 0 || o.signal?.aborted || this.closed || Date.now() >= until) return delivered;
      if (!touched) await this.waitForChange(until, o.signal);
    }
  }

  private async take(max: number, vt: number): Promise<{ delivered: ReceivedMessage[]; touched: boolean }> {
    const now = Date.now();
    const heads: Live[] = [];
    for (const list of this.groups.values()) {
      const h = list[0];
      if (h.visibleAt <= now && (!h.receipt || (h.deadline ?? 0) <= now)) heads.push(h);
    }
    if (heads.length === 0) return { delivered: [], touched: false };
    heads.sort(bySeq);
    const chosen = heads.slice(0, max);
    const valid: Array<{ rec: Live; message: QueueMessage }> = [];
    const malformed: Array<{ rec: Live; reason: string }> = [];
    for (const rec of chosen) {
      if (rec.receipt) this.receipts.delete(rec.receipt);
      rec.receiveCount++;
      rec.lastReceivedAt = now;
      rec.receipt = `${rec.id}.${randomUUID()}`;
      rec.deadline = now + vt * 1000;
      this.receipts.set(rec.receipt, rec);
      const parsed = parseMessage(rec.body);
      if (parsed.ok) valid.push({ rec, message: parsed.message });
      else malformed.push({ rec, reason: `malformed message: ${parsed.error.message}` });
    }
    // Persist the receive counts before handing the messages out (a crash counts as a failure).
    const results = await Promise.allSettled(
      valid.map(({ rec }) => this.track(this.atomicWrite(this.msgPath(rec.id), JSON.stringify(toStored(rec))))),
    );
    const delivered: ReceivedMessage[] = [];
    let firstError: unknown;
    results.forEach((res, i) => {
      const { rec, message } = valid[i];
      if (res.status === 'fulfilled' && rec.receipt) {
        delivered.push({ message, receipt: rec.receipt, receiveCount: rec.receiveCount, raw: rec.body, messageId: rec.id, groupId: rec.groupId });
        return;
      }
      firstError ??= res.status === 'rejected' ? res.reason : undefined;
      if (rec.receipt) this.receipts.delete(rec.receipt);
      rec.receipt = undefined;
      rec.deadline = undefined;
      rec.receiveCount--;
    });
    for (const { rec, reason } of malformed) {
      qlog.warn('malformed message dead-lettered', { messageId: rec.id, group: rec.groupId, reason });
      await this.track(this.deadLetterRecord(rec, reason)).catch((err: unknown) => {
        qlog.warn('could not dead-letter a malformed message; will retry', { messageId: rec.id, error: errorMessage(err) });
        if (rec.receipt) this.receipts.delete(rec.receipt);
        rec.receipt = undefined;
        rec.deadline = undefined;
        rec.visibleAt = Date.now() + 5000; // do not spin on a failing disk
      });
    }
    if (delivered.length === 0 && firstError !== undefined) {
      throw new EnvironmentError(`could not record a delivery in the local work queue in ${this.dir}: ${errorMessage(firstError)}`, {
        cause: firstError,
        hint: 'Check that the directory is writable and the disk is not full.',
      });
    }
    if (firstError !== undefined) qlog.warn('could not record some deliveries', { dir: this.dir, error: errorMessage(firstError) });
    return { delivered, touched: true };
  }

  // ---------------------------------------------------------------- settle

  async ack(receipt: string): Promise<void> {
    const rec = this.receipts.get(receipt);
    if (!rec) return; // settled already, or delivered again after its timeout
    this.unindex(rec);
    try {
      await this.track(removeFile(this.msgPath(rec.id)));
    } catch (err) {
      this.index(rec);
      throw new EnvironmentError(`could not remove message ${rec.id} from the local work queue in ${this.dir}: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    this.notify();
  }

  async extend(receipt: string, seconds: number): Promise<void> {
    checkSeconds('seconds', seconds, MAX_VISIBILITY_SECONDS);
    const rec = this.receipts.get(receipt);
    if (!rec) throw this.expired(receipt);
    rec.deadline = Date.now() + seconds * 1000;
    if (seconds === 0) this.notify();
  }

  async release(receipt: string, delaySeconds = 0): Promise<void> {
    checkSeconds('delaySeconds', delaySeconds, MAX_VISIBILITY_SECONDS);
    const rec = this.receipts.get(receipt);
    if (!rec) return;
    this.receipts.delete(receipt);
    rec.receipt = undefined;
    rec.deadline = undefined;
    rec.visibleAt = Date.now() + delaySeconds * 1000;
    this.notify();
  }

  async deadLetter(receipt: string, reason: string): Promise<void> {
    const rec = this.receipts.get(receipt);
    if (!rec) throw this.expired(receipt);
    await this.track(this.deadLetterRecord(rec, cleanReason(reason)));
  }

  private expired(receipt: string): ReceiptExpiredError {
    return new ReceiptExpiredError(
      `receipt ${receipt.slice(0, 60)} no longer holds its message: it was acked, released, dead-lettered, or delivered again after its visibility timeout`,
    );
  }

  private async deadLetterRecord(rec: Live, reason: string): Promise<void> {
    this.unindex(rec);
    const dead: StoredDead = { ...toStored(rec), reason, deadLetteredAt: Date.now() };
    try {
      await this.atomicWrite(path.join(this.paths.dead, `${rec.id}.json`), JSON.stringify(dead));
    } catch (err) {
      this.index(rec);
      throw new EnvironmentError(`could not dead-letter message ${rec.id} in ${this.dir}: ${errorMessage(err)}`, { cause: err });
    }
    await removeFile(this.msgPath(rec.id)).catch((err: unknown) =>
      qlog.warn('could not remove a dead-lettered message file; it is removed on the next start', {
        messageId: rec.id,
        error: errorMessage(err),
      }),
    );
    this.notify();
  }

  /** Reads dead/ (works without owning the queue, e.g. from the CLI). */
  async listDead(): Promise<DeadMessage[]> {
    let names: string[];
    try {
      names = await readdir(this.paths.dead);
    } catch (err) {
      if (isErrno(err, 'ENOENT')) return [];
      throw err;
    }
    const out: Array<DeadMessage & { at: number; seq: number }> = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      let text: string;
      try {
        text = await readFile(path.join(this.paths.dead, n), 'utf8');
      } catch (err) {
        if (isErrno(err, 'ENOENT')) continue;
        if (isErrno(err, 'EISDIR') || isErrno(err, 'EACCES')) {
          out.push({ messageId: n.replace(/\.json$/, ''), raw: '', reason: `dead-letter entry ${n} is not a readable file (${(err as NodeJS.ErrnoException).code})`, at: 0, seq: 0 });
          continue;
        }
        throw err;
      }
      try {
        const v = JSON.parse(text) as Partial<StoredDead>;
        const rec = decodeStored(text);
        const parsed = parseMessage(rec.body);
        const d: DeadMessage & { at: number; seq: number } = {
          messageId: rec.id,
          raw: rec.body,
          reason: typeof v.reason === 'string' ? v.reason : 'no reason recorded',
          receiveCount: rec.receiveCount,
          at: isNum(v.deadLetteredAt) ? v.deadLetteredAt : 0,
          seq: rec.seq,
        };
        if (rec.groupId) d.groupId = rec.groupId;
        if (parsed.ok) d.message = parsed.message;
        if (isNum(v.deadLetteredAt)) d.deadLetteredAt = new Date(v.deadLetteredAt).toISOString();
        out.push(d);
      } catch {
        out.push({ messageId: n.replace(/\.json$/, ''), raw: text, reason: `dead-letter file ${n} is unreadable`, at: 0, seq: 0 });
      }
    }
    out.sort((a, b) => a.at - b.at || a.seq - b.seq);
    return out.map(({ at: _at, seq: _seq, ...d }) => d);
  }

  consume(handler: MessageHandler, opts?: ConsumeOptions): Promise<void> {
    return consume(this, handler, opts);
  }

  /**
   * Stops long polls, waits for pending writes and gives up ownership. In-flight messages
   * stay as they are on disk: the next owner delivers them again.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.notify();
    await this.opening?.catch(() => undefined);
    while (this.pending.size) await Promise.allSettled([...this.pending]);
    if (owners.get(this.dir) === this) {
      await this.releaseLock();
      owners.delete(this.dir);
    }
  }
}
