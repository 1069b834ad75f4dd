/**
 * A cross-process lock on one file path, for the filesystem stores (local mode).
 *
 * Acquire: write our owner record `{pid, host, token}` to a temp file and hard-link it to
 * `<path>.lock`; link() fails if the lock exists, so exactly one process wins, and the lock
 * file is never seen empty. Release: unlink it (only if it is still ours). A writer that is
 * about to rename a new version over `<path>` can instead link that version's temp file, whose
 * leading `writer` field is the owner record (acquireLockLinking): the lock then costs no file
 * of its own.
 *
 * Stale locks (a writer crashed while holding one) are recovered when the owner is a process
 * on this host that no longer runs (or that is us but not held by us: a reused pid), or when
 * the lock is older than `staleMs` (owner on another host, or unreadable). Breaking is done by
 * renaming the lock to a unique name and checking it was the stale one we looked at; if we
 * grabbed a fresh lock by mistake (another process broke the stale lock and re-locked between
 * our look and our rename), we put it back. A holder re-checks that the lock is still its own
 * right before it commits, and refuses to commit after holding it for more than staleMs/2, so
 * a lock broken from under a slow holder costs a ConflictError, not a lost write.
 */
import fs, { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ConflictError } from './errors.js';
import { log } from './log.js';
import { removeFile, tempPathFor } from './fs-atomic.js';
import { sleep } from './time.js';
import { uniqueId } from './unique.js';

/** Options of acquireLock. */
export interface LockOptions {
  /** A lock older than this is stale (default 30 s). Holders commit within staleMs/2. */
  staleMs?: number;
  /** Give up acquiring after this long (default 15 s) with a ConflictError naming the owner; 0: fail at once ("in use by"). */
  timeoutMs?: number;
  /** Used in messages: what the lock protects. */
  what?: string;
}

/** Who holds a lock: pid and host (to tell a crashed owner), a token unique to one acquisition, and when. */
export interface LockOwner {
  pid: number;
  host: string;
  token: string;
  at: number;
}
type Owner = LockOwner;

/** The leading field of a record that is linked as its own lock (acquireLockLinking). */
const WRITER_FIELD = 'writer';
const WRITER_PREFIX = Buffer.from(`{"${WRITER_FIELD}":{`);
/** Bytes of a lock file read to find its owner (an owner record is about a hundred). */
const OWNER_HEAD_BYTES = 4096;

/** A lock this process holds. */
export interface HeldLock {
  readonly lockPath: string;
  readonly token: string;
  readonly acquiredAt: number;
  /** Throws ConflictError unless the lock is still ours and young enough to commit under. */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

const HOST = os.hostname();
/** Tokens of locks this process holds: a lock with our pid but not in here is stale. */
const heldTokens = new Set<string>();

/** True when a process with that pid exists on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(lockPath: string): Promise<Owner | undefined> {
  try {
    const raw = readHead(lockPath, OWNER_HEAD_BYTES);
    if (raw === undefined) return undefined;
    const o = parseOwner(raw) as (Partial<Owner> & { hostname?: string; startedAt?: string }) | undefined;
    if (!o) return undefined;
    // `hostname`/`startedAt`: the format older local queues wrote.
    const host = o.host ?? o.hostname;
    const at = o.at ?? (o.startedAt ? Date.parse(o.startedAt) : 0);
    if (typeof o.pid === 'number' && typeof host === 'string' && typeof o.token === 'string') return { pid: o.pid, host, token: o.token, at };
  } catch {
    // Missing or unreadable: treated as unknown owner.
  }
  return undefined;
}

/** The first `max` bytes of a file, or undefined when it does not exist (three system calls, inline). */
function readHead(file: string, max: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const buf = Buffer.allocUnsafe(max);
    const n = fs.readSync(fd, buf, 0, max, 0);
    return buf.subarray(0, n);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The owner object of a lock file's head: the whole file (an owner record), or the leading
 * `writer` field of a record linked as its lock, found without parsing the rest of the record.
 */
function parseOwner(head: Buffer): Record<string, unknown> | undefined {
  if (head.subarray(0, WRITER_PREFIX.length).equals(WRITER_PREFIX)) {
    // The owner object ends at one of the first closing braces (a host name could hold one).
    const start = WRITER_PREFIX.length - 1;
    for (let end = head.indexOf(0x7d, start), tries = 0; end !== -1 && tries < 8; end = head.indexOf(0x7d, end + 1), tries++) {
      try {
        const o: unknown = JSON.parse(head.subarray(start, end + 1).toString('utf8'));
        if (o && typeof o === 'object') return o as Record<string, unknown>;
      } catch {
        // Not the end of the object yet.
      }
    }
    return undefined;
  }
  const o: unknown = JSON.parse(head.toString('utf8'));
  return o && typeof o === 'object' ? (o as Record<string, unknown>) : undefined;
}

function ownerIsGone(o: Owner): boolean {
  if (o.host !== HOST) return false;
  if (o.pid === process.pid) return !heldTokens.has(o.token);
  return !pidAlive(o.pid);
}

/** Takes the lock `<target>.lock` (breaking it when its owner is gone or it is older than staleMs). */
export async function acquireLock(target: string, opts: LockOptions = {}): Promise<HeldLock> {
  const lockPath = `${target}.lock`;
  const owner = newLockOwner();
  let tmp: string | undefined;
  try {
    return await linkAsLock(target, owner, opts, async (fresh) => {
      if (tmp && !fresh) return tmp;
      tmp = tempPathFor(lockPath);
      try {
        await fsp.writeFile(tmp, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        await fsp.mkdir(path.dirname(lockPath), { recursive: true });
        await fsp.writeFile(tmp, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      }
      return tmp;
    });
  } finally {
    if (tmp) await removeFile(tmp).catch(() => undefined);
  }
}

/** A new owner record for one acquisition by this process (for acquireLockLinking). */
export function newLockOwner(): LockOwner {
  return { pid: process.pid, host: HOST, token: uniqueId(), at: Date.now() };
}

/**
 * `objectJson` (the JSON text of an object, `{...}`) with `owner` as its leading `writer`
 * field: the text a file given to acquireLockLinking must hold. Still the same object to
 * any JSON reader, plus that field.
 */
export function withWriterField(owner: LockOwner, objectJson: string): string {
  if (!objectJson.startsWith('{')) throw new TypeError('withWriterField takes the JSON text of an object');
  const rest = objectJson.slice(1).trimStart();
  return `{"${WRITER_FIELD}":${JSON.stringify(owner)}${rest.startsWith('}') ? '' : ','}${rest}`;
}

/**
 * Takes the lock `<target>.lock` by hard-linking `file` to it: a file the caller wrote
 * (withWriterField(owner, ...)), typically the temp file of the new record it is about to
 * rename over `target`. Same rules as acquireLock, with no owner file of its own to create
 * and delete (a new file is the dearest operation of a write on most filesystems). The
 * caller keeps `file`; after renaming it over `target`, the lock and the record are two names
 * of one file until release() unlinks the lock.
 */
export async function acquireLockLinking(target: string, file: string, owner: LockOwner, opts: LockOptions = {}): Promise<HeldLock> {
  let first = true;
  return linkAsLock(target, owner, opts, async (fresh) => {
    // The file went with its directory: only the caller can write it again.
    if (fresh) throw new ConflictError(`${opts.what ?? target}: ${file} was removed before the lock was taken; nothing was written`);
    // A lock's age is its file's mtime: after waiting, make it this attempt's.
    if (!first) {
      const now = new Date();
      await fsp.utimes(file, now, now);
    }
    first = false;
    return file;
  });
}

/**
 * The acquire loop: link the file `source()` gives (a fresh one when `fresh`, after its
 * directory vanished) to `<target>.lock` until the link succeeds, breaking stale locks, or
 * the timeout passes.
 */
async function linkAsLock(target: string, owner: Owner, opts: LockOptions, source: (fresh: boolean) => Promise<string>): Promise<HeldLock> {
  const staleMs = opts.staleMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const lockPath = `${target}.lock`;
  const token = owner.token;
  const deadline = Date.now() + timeoutMs;
  let fresh = false;
  for (let attempt = 0; ; attempt++) {
    // Creating and linking stay asynchronous: they wait on the filesystem's journal while
    // other writers fsync, which must not stall the event loop (reads do not, see readOwner).
    const from = await source(fresh);
    fresh = false;
    try {
      heldTokens.add(token);
      await fsp.link(from, lockPath);
      const acquiredAt = Date.now();
      return makeHeld(lockPath, token, acquiredAt, staleMs, opts.what ?? target);
    } catch (err) {
      heldTokens.delete(token);
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        // Directory removed under us: recreate the file on the next round.
        fresh = true;
        continue;
      }
      if (code !== 'EEXIST') throw err;
    }
    if (await breakIfStale(lockPath, staleMs)) continue;
    if (Date.now() >= deadline) {
      const o = await readOwner(lockPath);
      if (timeoutMs === 0) {
        throw new ConflictError(
          `${opts.what ?? target} is in use by ${o ? `process ${o.pid} on ${o.host} (since ${new Date(o.at).toISOString()})` : 'another process'}; only one process may hold it. ` +
            `If that process is gone, delete ${lockPath}.`,
        );
      }
      throw new ConflictError(
        `${opts.what ?? target} is locked by ${o ? `process ${o.pid} on ${o.host} since ${new Date(o.at).toISOString()}` : 'another writer'}` +
          ` (lock file ${lockPath}); gave up after ${timeoutMs} ms. If no Fluxless process is running, delete the lock file.`,
      );
    }
    await sleep(Math.min(50, 1 + attempt * 2) * (0.5 + Math.random()));
  }
}

function makeHeld(lockPath: string, token: string, acquiredAt: number, staleMs: number, what: string): HeldLock {
  let released = false;
  return {
    lockPath,
    token,
    acquiredAt,
    async assertHeld() {
      const o = await readOwner(lockPath);
      if (!o || o.token !== token) {
        throw new ConflictError(`lost the lock on ${what} (it was taken over as stale); nothing was written`);
      }
      if (Date.now() - acquiredAt > staleMs / 2) {
        throw new ConflictError(`held the lock on ${what} for too long (over ${staleMs / 2} ms); nothing was written`);
      }
    },
    async release() {
      if (released) return;
      released = true;
      heldTokens.delete(token);
      const o = await readOwner(lockPath);
      if (o && o.token === token) await removeFile(lockPath);
    },
  };
}

/** Removes `lockPath` if it is stale; returns true if it is gone now (retry at once). */
async function breakIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  const o = await readOwner(lockPath);
  let st: Stats;
  try {
    st = await fsp.stat(lockPath);
  } catch {
    return true; // released meanwhile
  }
  const ownerGone = o !== undefined && ownerIsGone(o);
  const stale = ownerGone || Date.now() - st.mtimeMs > staleMs;
  if (!stale) return false;
  const grave = `${lockPath}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await fsp.rename(lockPath, grave);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw err;
  }
  const taken = await readOwner(grave);
  const graveSt = await fsp.stat(grave).catch(() => undefined);
  const sameLock = o ? taken?.token === o.token : graveSt?.ino === st.ino;
  if (!sameLock) {
    // We grabbed a lock someone took after our look: put it back if nobody locked since.
    await fsp.link(grave, lockPath).catch(() => undefined);
    await removeFile(grave);
    return false;
  }
  await removeFile(grave);
  log.warn('recovered a stale lock left by a crashed writer', {
    lock: lockPath,
    ownerPid: o?.pid,
    ownerHost: o?.host,
    ageMs: Math.round(Date.now() - st.mtimeMs),
  });
  if (o && ownerGone && o.pid !== process.pid) await removeTempsOf(path.dirname(lockPath), o.pid);
  return true;
}

/** Deletes temp files written by a (dead) process, named `.<file>.tmp-<pid>-<rand>`. */
async function removeTempsOf(dir: string, pid: number): Promise<void> {
  const mark = `.tmp-${pid}-`;
  try {
    for (const name of await fsp.readdir(dir)) {
      if (name.startsWith('.') && name.includes(mark)) await removeFile(path.join(dir, name));
    }
  } catch {
    // best effort
  }
}
