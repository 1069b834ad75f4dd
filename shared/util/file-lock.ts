/**
 * A cross-process lock on one file path, for the filesystem stores (local mode).
 *
 * Acquire: write our owner record `{pid, host, token}` to a temp file and hard-link it to
 * `<path>.lock`; link() fails if the lock exists, so exactly one process wins, and the lock
 * file is never seen empty. Release: unlink it (only if it is still ours).
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
import { promises as fsp } from 'node:fs';
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { ConflictError } from './errors.js';
import { log } from './log.js';
import { readSmallIfExists, removeFile, tempPathFor } from './fs-atomic.js';
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

interface Owner {
  pid: number;
  host: string;
  token: string;
  at: number;
}

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
    const raw = readSmallIfExists(lockPath);
    if (raw === undefined) return undefined;
    const o = JSON.parse(raw.toString('utf8')) as Partial<Owner> & { hostname?: string; startedAt?: string };
    // `hostname`/`startedAt`: the format older local queues wrote.
    const host = o.host ?? o.hostname;
    const at = o.at ?? (o.startedAt ? Date.parse(o.startedAt) : 0);
    if (typeof o.pid === 'number' && typeof host === 'string' && typeof o.token === 'string') return { pid: o.pid, host, token: o.token, at };
  } catch {
    // Missing or unreadable: treated as unknown owner.
  }
  return undefined;
}

function ownerIsGone(o: Owner): boolean {
  if (o.host !== HOST) return false;
  if (o.pid === process.pid) return !heldTokens.has(o.token);
  return !pidAlive(o.pid);
}

/** Takes the lock `<target>.lock` (breaking it when its owner is gone or it is older than staleMs). */
export async function acquireLock(target: string, opts: LockOptions = {}): Promise<HeldLock> {
  const staleMs = opts.staleMs ?? 30_000;
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const lockPath = `${target}.lock`;
  const token = uniqueId();
  const owner: Owner = { pid: process.pid, host: HOST, token, at: Date.now() };
  const deadline = Date.now() + timeoutMs;
  let tmp: string | undefined;
  try {
    for (let attempt = 0; ; attempt++) {
      // Creating and linking stay asynchronous: they wait on the filesystem's journal while
      // other writers fsync, which must not stall the event loop (reads do not, see readOwner).
      if (!tmp) {
        tmp = tempPathFor(lockPath);
        try {
          await fsp.writeFile(tmp, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
          await fsp.mkdir(path.dirname(lockPath), { recursive: true });
          await fsp.writeFile(tmp, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
        }
      }
      try {
        heldTokens.add(token);
        await fsp.link(tmp, lockPath);
        const acquiredAt = Date.now();
        return makeHeld(lockPath, token, acquiredAt, staleMs, opts.what ?? target);
      } catch (err) {
        heldTokens.delete(token);
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') {
          // Directory removed under us: recreate the temp on the next round.
          tmp = undefined;
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
  } finally {
    if (tmp) await removeFile(tmp).catch(() => undefined);
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
