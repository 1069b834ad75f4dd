/**
 * File-system calls run inline (synchronously) behind the `node:fs/promises` signatures, for
 * the small local files of a build tree (extracting, linking, scanning and reading manifests,
 * removing the tree).
 *
 * An asynchronous call is a round trip through libuv's thread pool (a futex wake-up on each
 * side, `readFile` is four of them); on a small file in the page cache that costs many times
 * the system call itself. bench:fleet at N=1000 spent about 100 such calls per Kustomization
 * and half of the process's CPU in the kernel. The calls here return the same results and
 * reject with the same errors (codes, messages) as their `fs/promises` namesakes, so a call
 * site changes only its import. Use them only on local disk (the work and cache directories),
 * never on a network file system or for large files read whole.
 */
import fs from 'node:fs';
import type { Dirent, MakeDirectoryOptions, RmOptions, Stats } from 'node:fs';

function run<T>(fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (err) {
    return Promise.reject(err as Error);
  }
}

/** `fs/promises.readFile`: a Buffer, or a string with an encoding. */
export function readFile(p: string): Promise<Buffer>;
export function readFile(p: string, encoding: BufferEncoding): Promise<string>;
export function readFile(p: string, encoding?: BufferEncoding): Promise<Buffer | string> {
  return run(() => (encoding ? fs.readFileSync(p, encoding) : fs.readFileSync(p)));
}

/** `fs/promises.lstat`. */
export function lstat(p: string): Promise<Stats> {
  return run(() => fs.lstatSync(p));
}

/** `fs/promises.stat`. */
export function stat(p: string): Promise<Stats> {
  return run(() => fs.statSync(p));
}

/** `fs/promises.realpath` (the native realpath, as the promise API uses). */
export function realpath(p: string): Promise<string> {
  return run(() => fs.realpathSync.native(p));
}

/** `fs/promises.readdir`: names, or Dirents with `withFileTypes`. */
export function readdir(p: string): Promise<string[]>;
export function readdir(p: string, opts: { withFileTypes: true }): Promise<Dirent[]>;
export function readdir(p: string, opts?: { withFileTypes: true }): Promise<string[] | Dirent[]> {
  return run(() => (opts?.withFileTypes ? fs.readdirSync(p, { withFileTypes: true }) : fs.readdirSync(p)));
}

/** `fs/promises.link`. */
export function link(existing: string, target: string): Promise<void> {
  return run(() => fs.linkSync(existing, target));
}

/** `fs/promises.copyFile`. */
export function copyFile(src: string, dest: string, mode?: number): Promise<void> {
  return run(() => fs.copyFileSync(src, dest, mode));
}

/** `fs/promises.mkdir`: with `recursive`, the first directory created (or undefined). */
export function mkdir(p: string, opts?: MakeDirectoryOptions): Promise<string | undefined> {
  return run(() => fs.mkdirSync(p, opts));
}

/** `fs/promises.rm`. */
export function rm(p: string, opts?: RmOptions): Promise<void> {
  return run(() => fs.rmSync(p, opts));
}

/** `fs/promises.writeFile` with a flag and a mode. */
export function writeFile(p: string, data: string | Uint8Array, opts?: { flag?: string | number; mode?: number; encoding?: BufferEncoding }): Promise<void> {
  // Numeric flags (O_EXCL | O_NOFOLLOW ...) are accepted at run time, as by fs/promises.
  return run(() => fs.writeFileSync(p, data, opts as fs.WriteFileOptions));
}

type SyncFn = (...args: never[]) => unknown;
function inline<F extends SyncFn>(fn: F): (...args: Parameters<F>) => Promise<ReturnType<F>> {
  return (...args) => run(() => fn(...args) as ReturnType<F>);
}

/**
 * The `fs.promises` subset isomorphic-git uses (its `fs` argument is `{ promises }`), run
 * inline: a checkout writes every file of the commit, thousands of small calls.
 */
export const inlinePromiseFs = {
  readFile: inline(fs.readFileSync as (p: string, o?: unknown) => Buffer | string),
  writeFile: inline(fs.writeFileSync as (p: string, d: string | Uint8Array, o?: unknown) => void),
  mkdir: inline(fs.mkdirSync as (p: string, o?: unknown) => string | undefined),
  rmdir: inline(fs.rmdirSync as (p: string, o?: unknown) => void),
  rm: inline(fs.rmSync as (p: string, o?: unknown) => void),
  unlink: inline(fs.unlinkSync as (p: string) => void),
  stat: inline(fs.statSync as (p: string, o?: unknown) => Stats),
  lstat: inline(fs.lstatSync as (p: string, o?: unknown) => Stats),
  readdir: inline(fs.readdirSync as (p: string, o?: unknown) => string[]),
  readlink: inline(fs.readlinkSync as (p: string, o?: unknown) => string | Buffer),
  symlink: inline(fs.symlinkSync as (target: string, p: string, type?: string) => void),
  chmod: inline(fs.chmodSync as (p: string, mode: number) => void),
};
