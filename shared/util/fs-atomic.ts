/**
 * Small filesystem helpers shared by the filesystem state and artifact stores and the local queue.
 *
 * Atomic replace: write a temp file in the same directory (its name starts with `.` so
 * listings skip it), fsync it, rename it over the target, fsync the directory. A reader sees
 * the old file or the new one, never a torn one; a crash leaves at most a temp file behind,
 * which every listing ignores and `removeStaleTemps` deletes later.
 */
import { promises as fsp, readFileSync } from 'node:fs';
import type { Dirent } from 'node:fs';
import path from 'node:path';
import { uniqueId } from './unique.js';

/** Marks temp files (`.<name>.tmp-<pid>-<rand>`): listings skip them. */
export const TEMP_MARK = '.tmp-';

/** A temp path next to `target`, named so listings skip it and the writer's pid is known. */
export function tempPathFor(target: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}${TEMP_MARK}${process.pid}-${uniqueId()}`);
}

/** True for a name made by tempPathFor. */
export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARK);
}

/** Options of writeFileAtomic. */
export interface AtomicWriteOptions {
  /** fsync file and directory (default true). Tests of crash behaviour do not depend on it. */
  durable?: boolean;
  /** fsync the directory after the rename (default: as durable). */
  syncDir?: boolean;
  mode?: number;
  /** Runs after the temp file is complete, before the rename; throwing aborts the write. */
  beforeRename?: () => Promise<void>;
}

/**
 * The first half of writeFileAtomic: writes `data` to a new temp file beside `target`
 * (creating parent dirs), fsynced when durable, and returns its path; the caller renames it
 * over `target` (then fsyncs the directory) or removes it.
 */
export async function writeTempFile(target: string, data: Uint8Array | string, opts: { durable?: boolean; mode?: number } = {}): Promise<string> {
  const tmp = tempPathFor(target);
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o600);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await fsp.mkdir(path.dirname(target), { recursive: true });
    fh = await fsp.open(tmp, 'wx', opts.mode ?? 0o600);
  }
  try {
    try {
      await fh.writeFile(data);
      if (opts.durable ?? true) await fh.datasync();
    } finally {
      await fh.close();
    }
  } catch (err) {
    await removeFile(tmp).catch(() => undefined);
    throw err;
  }
  return tmp;
}

/** Writes `data` to `target` atomically (temp + fsync + rename), creating parent dirs. */
export async function writeFileAtomic(target: string, data: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const durable = opts.durable ?? true;
  const tmp = await writeTempFile(target, data, { durable, mode: opts.mode });
  try {
    if (opts.beforeRename) await opts.beforeRename();
    await fsp.rename(tmp, target);
  } catch (err) {
    await removeFile(tmp).catch(() => undefined);
    throw err;
  }
  if (opts.syncDir ?? durable) await fsyncDir(path.dirname(target));
}

/** fsync a directory so a rename in it survives a power cut. Best effort (not all FS allow it). */
export async function fsyncDir(dir: string): Promise<void> {
  let fh: fsp.FileHandle | undefined;
  try {
    fh = await fsp.open(dir, 'r');
    await fh.sync();
  } catch {
    // Some filesystems refuse fsync on directories; the rename is still atomic.
  } finally {
    await fh?.close().catch(() => undefined);
  }
}

/** Reads a file, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<Buffer | undefined> {
  try {
    return await fsp.readFile(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Reads a small file (a state record, a lock's owner) synchronously, or undefined when it
 * does not exist. On a local disk that is a few microseconds of blocking, and about an eighth
 * of the CPU of `fsp.readFile` (four thread-pool round trips and a FileHandle per read), which
 * dominated the local runtime's profile at fleet size. Not for artifacts or anything large.
 */
export function readSmallIfExists(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return undefined;
    throw err;
  }
}

/**
 * Deletes one file; a file that does not exist is not an error (like `rm(file, { force: true })`
 * on a file). One unlink: `fs/promises.rm` first lstats the path and walks it as a tree, which
 * doubled the system calls of every lock release and queue acknowledgement. Not for directories.
 */
export async function removeFile(file: string): Promise<void> {
  try {
    await fsp.unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** Directory entries, or [] when the directory does not exist. */
export async function readDirIfExists(dir: string): Promise<Dirent[]> {
  try {
    return await fsp.readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return [];
    throw err;
  }
}

/** Deletes temp files left in `dir` by writers that crashed more than `olderThanMs` ago. */
export async function removeStaleTemps(dir: string, olderThanMs: number): Promise<number> {
  let removed = 0;
  const now = Date.now();
  for (const e of await readDirIfExists(dir)) {
    if (!e.isFile() || !isTempName(e.name)) continue;
    const p = path.join(dir, e.name);
    try {
      const st = await fsp.stat(p);
      if (now - st.mtimeMs > olderThanMs) {
        await removeFile(p);
        removed++;
      }
    } catch {
      // Gone already: another process cleaned it or its writer renamed it.
    }
  }
  return removed;
}
