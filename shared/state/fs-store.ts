/**
 * StateStore on a local directory (local mode): `<root>/<kind>/<namespace|_>/<name>.json`.
 *
 * Reads take no lock: records are only ever replaced by rename, so a reader sees a whole old
 * or whole new document. A write first writes the new document to a temp file and fsyncs it,
 * then takes the record's lock by hard-linking that temp file as `<name>.json.lock` (the
 * document's leading `writer` field names the lock's owner, see file-lock.ts), checks the
 * version, renames the temp file over the record and fsyncs the directory, and unlinks the
 * lock. A delete takes the lock with an owner file of its own. So the version check and the
 * rename are atomic across processes on this host. A writer that crashes leaves the old
 * record intact plus, at most, a temp file (ignored, cleaned later) and a lock (recovered:
 * dead owner at once, otherwise after `staleLockMs`).
 */
import path from 'node:path';
import { promises as fsp } from 'node:fs';
import { acquireLock, acquireLockLinking, newLockOwner, withWriterField, type HeldLock, type LockOptions } from '../util/file-lock.js';
import { uniqueId } from '../util/unique.js';
import { readDirIfExists, readSmallIfExists, removeFile, writeTempFile, fsyncDir } from '../util/fs-atomic.js';
import { CLUSTER_SCOPE_SEGMENT, compareKeys, describeKey, isValidSegment, keyFromSegments, keySegments, prefixSegments, type ObjectKey } from './key.js';
import {
  ENVELOPE_TAG,
  checkPutOptions,
  conflict,
  parseEnvelope,
  updateWithRetry,
  type DeleteOptions,
  type PutOptions,
  type StateStore,
  type StoredEnvelope,
  type UpdateOptions,
  type Updater,
  type Versioned,
} from './store.js';

/** Options of FsStateStore: lock staleness and wait, fsync, and a test hook before commit. */
export interface FsStateStoreOptions {
  /** A lock older than this is taken over as stale (default 30 s). */
  staleLockMs?: number;
  /** How long a writer waits for a held lock before a ConflictError (default 15 s). */
  lockTimeoutMs?: number;
  /** fsync files and directories (default true). */
  durable?: boolean;
  /** Test-only: runs after the new document is written to its temp file, before the rename. */
  beforeCommit?: (key: ObjectKey) => Promise<void> | void;
}

const SUFFIX = '.json';

/** StateStore on a local directory (local mode): one JSON file per object, replaced atomically under a per-record lock. */
export class FsStateStore implements StateStore {
  readonly rootDir: string;
  private readonly opts: FsStateStoreOptions;
  /** In-process queue per record so our own callers do not spin on the lock file. */
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(rootDir: string, opts: FsStateStoreOptions = {}) {
    this.rootDir = path.resolve(rootDir);
    this.opts = opts;
  }

  /** Path of the record's file (exists only while the record does). */
  fileFor(key: ObjectKey): string {
    const [kind, ns, name] = keySegments(key);
    return path.join(this.rootDir, kind, ns, name + SUFFIX);
  }

  async get<T>(key: ObjectKey): Promise<Versioned<T> | undefined> {
    const file = this.fileFor(key);
    const raw = readSmallIfExists(file);
    if (raw === undefined) return undefined;
    const env = parseEnvelope<T>(raw, file);
    return { value: env.value, version: env.nonce };
  }

  async put<T>(key: ObjectKey, value: T, opts: PutOptions = {}): Promise<string> {
    checkPutOptions(key, opts);
    const file = this.fileFor(key);
    const nonce = newVersion();
    const env: StoredEnvelope<T> = { fluxless: ENVELOPE_TAG, key: normKey(key), nonce, updatedAt: new Date().toISOString(), value };
    const json = JSON.stringify(env);
    // The new record's temp file, written (and fsynced) before the lock is taken, is the lock
    // itself: its leading `writer` field names us (acquireLockLinking), so a write creates one file.
    return this.queued(file, async () => {
      const owner = newLockOwner();
      const durable = this.opts.durable ?? true;
      let tmp: string | undefined = await writeTempFile(file, withWriterField(owner, json), { durable });
      let lock: HeldLock | undefined;
      try {
        lock = await acquireLockLinking(file, tmp, owner, this.lockOptions(key));
        if (opts.ifVersion !== undefined || opts.ifAbsent) {
          const cur = await this.currentVersion(file);
          if (opts.ifAbsent && cur !== undefined) throw conflict(key, 'already exists');
          if (opts.ifVersion !== undefined && cur !== opts.ifVersion) {
            throw conflict(key, cur === undefined ? `does not exist (expected version ${opts.ifVersion})` : `changed since version ${opts.ifVersion}`);
          }
        }
        await this.opts.beforeCommit?.(key);
        await lock.assertHeld();
        await fsp.rename(tmp, file);
        tmp = undefined;
        if (durable) await fsyncDir(path.dirname(file));
        return nonce;
      } finally {
        if (tmp) await removeFile(tmp).catch(() => undefined);
        await lock?.release();
      }
    });
  }

  async delete(key: ObjectKey, opts: DeleteOptions = {}): Promise<boolean> {
    const file = this.fileFor(key);
    return this.locked(file, key, async (assertHeld) => {
      const cur = await this.currentVersion(file);
      if (opts.ifVersion !== undefined && cur !== opts.ifVersion) {
        throw conflict(key, cur === undefined ? `does not exist (expected version ${opts.ifVersion})` : `changed since version ${opts.ifVersion}`);
      }
      if (cur === undefined) return Boolean(opts.blind && opts.ifVersion === undefined);
      await assertHeld();
      await removeFile(file);
      if (this.opts.durable ?? true) await fsyncDir(path.dirname(file));
      return true;
    });
  }

  async list(prefix: { kind?: string; namespace?: string } = {}): Promise<ObjectKey[]> {
    const segs = prefixSegments(prefix);
    const out: ObjectKey[] = [];
    const kinds = segs[0] !== undefined ? [segs[0]] : await subdirs(this.rootDir);
    await Promise.all(
      kinds.map(async (kind) => {
        const nss = segs[1] !== undefined ? [segs[1]] : await subdirs(path.join(this.rootDir, kind));
        await Promise.all(
          nss.map(async (ns) => {
            for (const e of await readDirIfExists(path.join(this.rootDir, kind, ns))) {
              if (!e.isFile() || !e.name.endsWith(SUFFIX)) continue;
              const name = e.name.slice(0, -SUFFIX.length);
              if (isValidSegment(name)) out.push(keyFromSegments(kind, ns, name));
            }
          }),
        );
      }),
    );
    return out.sort(compareKeys);
  }

  update<T>(key: ObjectKey, fn: Updater<T>, opts?: UpdateOptions): Promise<Versioned<T> | undefined> {
    return updateWithRetry(this, key, fn, opts);
  }

  private async currentVersion(file: string): Promise<string | undefined> {
    const raw = readSmallIfExists(file);
    return raw === undefined ? undefined : parseEnvelope(raw, file).nonce;
  }

  private lockOptions(key: ObjectKey): LockOptions {
    return { staleMs: this.opts.staleLockMs, timeoutMs: this.opts.lockTimeoutMs, what: `state record ${describeKey(key)}` };
  }

  /** Runs `fn` holding the record's in-process queue slot and its cross-process lock. */
  private locked<R>(file: string, key: ObjectKey, fn: (assertHeld: () => Promise<void>) => Promise<R>): Promise<R> {
    return this.queued(file, async () => {
      const lock = await acquireLock(file, this.lockOptions(key));
      try {
        return await fn(() => lock.assertHeld());
      } finally {
        await lock.release();
      }
    });
  }

  /** Runs `fn` after the calls for the same record before it in this process (so they do not spin on its lock file). */
  private async queued<R>(file: string, fn: () => Promise<R>): Promise<R> {
    const prev = this.queues.get(file) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(fn);
    this.queues.set(file, run);
    try {
      return await run;
    } finally {
      if (this.queues.get(file) === run) this.queues.delete(file);
    }
  }
}

function newVersion(): string {
  return `${Date.now().toString(36)}-${uniqueId()}`;
}

function normKey(key: ObjectKey): ObjectKey {
  return { kind: key.kind, namespace: key.namespace ?? '', name: key.name };
}

async function subdirs(dir: string): Promise<string[]> {
  return (await readDirIfExists(dir))
    .filter((e) => e.isDirectory() && (isValidSegment(e.name) || e.name === CLUSTER_SCOPE_SEGMENT))
    .map((e) => e.name);
}
