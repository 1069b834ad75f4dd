/**
 * extractArtifact: a tar.gz artifact -> a directory, safely.
 *
 * Verify, then extract: with `expectedDigest` and a Buffer, the digest is checked before
 * anything touches the disk (with a stream, while reading; on mismatch everything written is
 * removed). Every entry is checked before it is written:
 * - names: no absolute paths, no `..` segment, no backslash, no NUL, nothing resolving
 *   outside the destination, no segment over 255 bytes and no path over 4096 bytes (what
 *   Linux file systems take); `.` (the root entry Flux writes) is skipped;
 * - types: regular files and directories only; symlinks, hard links, devices and FIFOs are
 *   refused (Flux artifacts never contain them);
 * - limits: total file bytes (`maxBytes`, default 100 MiB like Flux's untar) and number of
 *   entries (`maxFiles`: files plus directories, those implied by a file's path included,
 *   default 100 000), checked from the headers before the data is read, a cap on
 *   decompressed bytes against gzip bombs, and tar-stream's 4 MiB cap on one PAX or GNU
 *   long-name header.
 * Every error is typed (UnsafeArtifactError, ArtifactNameTooLongError, ArtifactTooLargeError,
 * ValidationError for a corrupt archive, EnvironmentError for the disk) and names entries by
 * their path in the artifact (shortened when long), never by a path on this host.
 * The destination must be empty or not exist, so nothing already there (a symlink planted
 * in it) can redirect a write; files are created with O_EXCL|O_NOFOLLOW. On any error the
 * destination is left as it was (removed if we created it, emptied otherwise).
 */
import { promises as fsp, constants as fsc } from 'node:fs';
import type { Stats } from 'node:fs';
import * as inlineFs from '../util/fs-inline.js';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { extract as tarExtract } from 'tar-stream';
import { EnvironmentError, FluxlessError, ValidationError } from '../util/errors.js';
import { ArtifactDigestMismatch, parseDigest, verifyDigest } from './digest.js';

/** Default cap on an artifact's total file bytes when extracting (100 MiB, as Flux's untar). */
export const DEFAULT_MAX_BYTES = 100 * 1024 * 1024;
/** Default cap on an artifact's entries (files plus directories) when extracting. */
export const DEFAULT_MAX_FILES = 100_000;
/** Longest path segment (bytes), NAME_MAX of Linux file systems. */
export const MAX_NAME_BYTES = 255;
/** Longest entry path (bytes), PATH_MAX of Linux. */
export const MAX_PATH_BYTES = 4096;
/** Entry names in messages are cut to this many characters. */
const SHOWN_NAME_CHARS = 200;

/** Options of extractArtifact and readArtifact: size and entry limits, expected digest, write concurrency. */
export interface ExtractOptions {
  /** Max total bytes of file contents (default 100 MiB). */
  maxBytes?: number;
  /** Max entries, files plus directories (default 100 000). */
  maxFiles?: number;
  /** Max bytes of one file read (default: no limit beyond maxBytes); files readArtifact does not keep are exempt. */
  maxFileBytes?: number;
  /** Check the compressed bytes against this digest (`sha256:<hex>`) first. */
  expectedDigest?: string;
  /** Files written at once (default 16). */
  writeConcurrency?: number;
}

/** What an extraction produced: how many files and directories, and the total file bytes. */
export interface ExtractResult {
  files: number;
  dirs: number;
  /** Sum of the file sizes. */
  bytes: number;
}

/** The archive holds something we refuse to write (unsafe path or entry type). */
export class UnsafeArtifactError extends FluxlessError {
  constructor(message: string, opts: { code?: string; hint?: string } = {}) {
    super(opts.code ?? 'ArtifactUnsafe', message, {
      hint: opts.hint ?? 'The artifact was not built by Fluxless or Flux, or was tampered with; rebuild it from the source.',
    });
  }
}

/** An entry's name is longer than a file system takes (a segment over 255 bytes, a path over 4096). */
export class ArtifactNameTooLongError extends UnsafeArtifactError {
  constructor(message: string) {
    super(message, {
      code: 'ArtifactNameTooLong',
      hint: `Shorten the file or directory name in the source: at most ${MAX_NAME_BYTES} bytes per name and ${MAX_PATH_BYTES} bytes per path.`,
    });
  }
}

/** An entry name as messages show it: quoted, and cut when long (a PAX name can be megabytes). */
export function shownName(name: string): string {
  return JSON.stringify(name.length > SHOWN_NAME_CHARS ? `${name.slice(0, SHOWN_NAME_CHARS)}…` : name);
}

/** Which limit an archive broke: total bytes, one file's bytes, or the number of entries. */
export type ArtifactLimit = 'bytes' | 'fileBytes' | 'entries';

/** The archive is bigger than the limits allow. */
export class ArtifactTooLargeError extends FluxlessError {
  /**
   * @param limit which limit was broken
   * @param entry the entry (its name in the archive) at which it was broken
   */
  constructor(
    message: string,
    readonly limit: ArtifactLimit = 'bytes',
    readonly entry?: string,
  ) {
    super('ArtifactTooLarge', message, { hint: 'Exclude files with .sourceignore or spec.ignore, or raise the limit.' });
  }
}

/** Extracts a tar.gz artifact into an empty or missing directory, refusing unsafe entries and enforcing limits and digest. */
export async function extractArtifact(tarGz: Buffer | Readable, destDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxFiles = opts.maxFiles ?? DEFAULT_MAX_FILES;
  if (opts.expectedDigest !== undefined && Buffer.isBuffer(tarGz)) verifyDigest(tarGz, opts.expectedDigest);

  const dest = path.resolve(destDir);
  const createdDest = await prepareDest(dest);
  try {
    return await extractInto(tarGz, dest, maxBytes, maxFiles, opts);
  } catch (err) {
    await cleanup(dest, createdDest);
    throw err;
  }
}

async function prepareDest(dest: string): Promise<boolean> {
  let st: Stats;
  try {
    st = await fsp.lstat(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, 'the destination directory');
    try {
      await fsp.mkdir(dest, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw fsError(e, 'the destination directory');
    }
    return true;
  }
  if (!st.isDirectory()) throw new ValidationError('cannot extract the artifact: the destination exists and is not a directory');
  if ((await fsp.readdir(dest)).length > 0) {
    throw new ValidationError('cannot extract the artifact: the destination directory is not empty; give an empty or new directory');
  }
  return false;
}

/** What a file system error says, without the host path Node appends to its message. */
function errnoText(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const msg = typeof e?.message === 'string' ? e.message : String(err);
  // Node: "ENOSPC: no space left on device, open '/tmp/x'": keep what comes before the path.
  const cut = msg.indexOf(', ');
  return (e?.code && cut > 0 ? msg.slice(0, cut) : e?.code) || 'unknown file system error';
}

/** A typed error for a failed write of `what` (an entry, by its artifact path), without host paths. */
function fsError(err: unknown, what: string): FluxlessError {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENAMETOOLONG') return new ArtifactNameTooLongError(`cannot extract ${what}: its path is too long for this file system`);
  return new EnvironmentError(`cannot extract ${what}: ${errnoText(err)}`, {
    hint: 'Check the free space, the inode count and the permissions of the temporary directory.',
  });
}

async function cleanup(dest: string, createdDest: boolean): Promise<void> {
  if (createdDest) {
    await fsp.rm(dest, { recursive: true, force: true }).catch(() => undefined);
    return;
  }
  const names = await fsp.readdir(dest).catch(() => [] as string[]);
  await Promise.all(names.map((n) => fsp.rm(path.join(dest, n), { recursive: true, force: true }).catch(() => undefined)));
}

/** Validates an entry name; returns its path segments ([] for the root). */
export function entrySegments(name: string): string[] {
  if (name === '' || name.includes('\0')) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} has an empty or invalid name`);
  if (name.startsWith('/') || /^[A-Za-z]:/.test(name)) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} is an absolute path`);
  if (name.includes('\\')) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} contains a backslash`);
  const segs: string[] = [];
  for (const s of name.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') throw new UnsafeArtifactError(`artifact entry ${shownName(name)} climbs out of the destination ("..")`);
    if (Buffer.byteLength(s) > MAX_NAME_BYTES) {
      throw new ArtifactNameTooLongError(`artifact entry ${shownName(name)} has a name of ${Buffer.byteLength(s)} bytes; the limit is ${MAX_NAME_BYTES}`);
    }
    segs.push(s);
  }
  const bytes = Buffer.byteLength(segs.join('/'));
  if (bytes > MAX_PATH_BYTES) throw new ArtifactNameTooLongError(`artifact entry ${shownName(name)} has a path of ${bytes} bytes; the limit is ${MAX_PATH_BYTES}`);
  return segs;
}

class ByteLimit extends Transform {
  private seen = 0;
  constructor(private readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      cb(new ArtifactTooLargeError(`artifact decompresses to more than ${this.limit} bytes; refusing to extract (possible gzip bomb)`));
      return;
    }
    cb(null, chunk);
  }
}

class DigestTap extends Transform {
  readonly hash;
  constructor(algorithm: string) {
    super();
    this.hash = createHash(algorithm);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    cb(null, chunk);
  }
}

/** Where scanArchive puts validated entries. */
interface ArchiveSink {
  dir(segs: string[], name: string): Promise<void> | void;
  /** May return a promise: up to `concurrency` of them run at once. */
  file(segs: string[], name: string, data: Buffer, mode: number): Promise<void> | void;
  /** Whether the sink wants this file's contents; an unwanted file is counted and skipped unread. */
  wants?(segs: string[]): boolean;
}

/**
 * Streams the archive through gunzip and the tar parser, validates every entry (name, type,
 * limits) and hands it to the sink; checks a streamed digest at the end.
 */
async function scanArchive(
  tarGz: Buffer | Readable,
  maxBytes: number,
  maxFiles: number,
  opts: { expectedDigest?: string; concurrency?: number; maxFileBytes?: number },
  sink: ArchiveSink,
): Promise<ExtractResult> {
  const source = Buffer.isBuffer(tarGz) ? Readable.from([tarGz]) : tarGz;
  const tap = opts.expectedDigest !== undefined && !Buffer.isBuffer(tarGz) ? new DigestTap(parseDigest(opts.expectedDigest).algorithm) : undefined;
  // Headers and padding cost at most 1.5 KiB per entry on top of the contents.
  const limit = maxBytes + Math.min(maxFiles + 2, 1_000_000) * 1536 + 1024 * 1024;
  const ex = tarExtract();
  const streams: (NodeJS.ReadableStream | NodeJS.WritableStream)[] = [source];
  if (tap) streams.push(tap);
  streams.push(zlib.createGunzip(), new ByteLimit(limit), ex);
  let pipeErr: unknown;
  const piped = (pipeline as (...s: unknown[]) => Promise<void>)(...streams).catch((e: unknown) => {
    pipeErr = e;
  });

  const result: ExtractResult = { files: 0, dirs: 0, bytes: 0 };
  const concurrency = Math.max(1, opts.concurrency ?? 16);
  const inflight = new Set<Promise<void>>();
  let sinkErr: unknown;
  /** Directories seen so far, with an entry or implied by a path: they count towards maxFiles. */
  const dirsSeen = new Set<string>();
  /** Counts an entry and the directories its path implies; throws past maxFiles. */
  const countEntry = (segs: string[], isDir: boolean) => {
    let p = '';
    for (let i = 0; i < (isDir ? segs.length : segs.length - 1); i++) {
      p = i === 0 ? segs[0]! : `${p}/${segs[i]}`;
      dirsSeen.add(p);
    }
    if (result.files + (isDir ? 0 : 1) + dirsSeen.size > maxFiles) {
      throw new ArtifactTooLargeError(`artifact has more than ${maxFiles} entries (files and directories); the limit is ${maxFiles}`, 'entries');
    }
  };

  try {
    for await (const entry of ex) {
      if (sinkErr) throw sinkErr;
      const h = entry.header;
      // tar-stream consumes PAX and GNU long-name headers itself; an unknown type flag is null.
      const type: string = h.type ?? 'unknown';
      const segs = entrySegments(h.name);
      if (type === 'symlink' || type === 'link') {
        throw new UnsafeArtifactError(`artifact entry ${shownName(h.name)} is a ${type === 'link' ? 'hard link' : 'symlink'} (to ${shownName(h.linkname ?? '')}); artifacts hold only files and directories`);
      }
      if (type !== 'file' && type !== 'contiguous-file' && type !== 'directory') {
        const what = type === 'unknown' ? 'an entry of unknown type' : `a ${type}`;
        throw new UnsafeArtifactError(`artifact entry ${shownName(h.name)} is ${what}; artifacts hold only files and directories`);
      }
      if (segs.length === 0) {
        if (type !== 'directory') throw new UnsafeArtifactError(`artifact entry ${shownName(h.name)} is a file with no name`);
        entry.resume();
        continue;
      }
      countEntry(segs, type === 'directory');
      if (type === 'directory') {
        entry.resume();
        await sink.dir(segs, h.name);
        result.dirs++;
        continue;
      }
      const size = h.size ?? 0;
      if (!Number.isSafeInteger(size) || size < 0) throw pipeErrToUser(new Error(`entry ${shownName(h.name)} has an invalid size`));
      result.bytes += size;
      if (result.bytes > maxBytes) {
        throw new ArtifactTooLargeError(`artifact is bigger than the limit of ${maxBytes} bytes (at entry ${shownName(h.name)}, ${result.bytes} bytes so far)`, 'bytes', h.name);
      }
      if (sink.wants && !sink.wants(segs)) {
        entry.resume();
        result.files++;
        continue;
      }
      if (opts.maxFileBytes !== undefined && size > opts.maxFileBytes) {
        throw new ArtifactTooLargeError(`artifact entry ${shownName(h.name)} is ${size} bytes, over the limit of ${opts.maxFileBytes} bytes per file`, 'fileBytes', h.name);
      }
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      const mode = ((h.mode ?? 0o600) & 0o777) | 0o600;
      while (inflight.size >= concurrency) await Promise.race(inflight);
      if (sinkErr) throw sinkErr;
      const ret = sink.file(segs, h.name, data, mode);
      if (ret) {
        const p: Promise<void> = ret
          .catch((e: unknown) => {
            sinkErr ??= e;
          })
          .finally(() => inflight.delete(p));
        inflight.add(p);
      }
      result.files++;
    }
  } catch (err) {
    ex.destroy();
    await piped;
    await Promise.allSettled(inflight);
    if (err instanceof FluxlessError) throw err;
    if (pipeErr) throw pipeErrToUser(pipeErr);
    if (err === sinkErr) throw err;
    throw pipeErrToUser(err);
  }
  await piped;
  await Promise.all(inflight);
  if (pipeErr) throw pipeErrToUser(pipeErr);
  if (sinkErr) throw sinkErr;
  if (tap) {
    const actual = `${parseDigest(opts.expectedDigest!).algorithm}:${tap.hash.digest('hex')}`;
    if (actual !== opts.expectedDigest) throw new ArtifactDigestMismatch(opts.expectedDigest!, actual);
  }
  return result;
}

function extractInto(tarGz: Buffer | Readable, dest: string, maxBytes: number, maxFiles: number, opts: ExtractOptions): Promise<ExtractResult> {
  const madeDirs = new Map<string, Promise<void>>([[dest, Promise.resolve()]]);
  const mkdirp = (dir: string): Promise<void> => {
    let p = madeDirs.get(dir);
    if (!p) {
      p = inlineFs.mkdir(dir, { recursive: true, mode: 0o755 }).then(
        () => undefined,
        (err: NodeJS.ErrnoException) => {
          const rel = path.relative(dest, dir);
          if (err.code === 'EEXIST' || err.code === 'ENOTDIR') {
            throw new UnsafeArtifactError(`artifact directory ${shownName(rel)} clashes with a file of the same name`);
          }
          throw fsError(err, `artifact directory ${shownName(rel)}`);
        },
      );
      madeDirs.set(dir, p);
    }
    return p;
  };
  const resolveInDest = (segs: string[], name: string): string => {
    const abs = path.join(dest, ...segs);
    if (!abs.startsWith(dest + path.sep)) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} resolves outside the destination`);
    return abs;
  };
  return scanArchive(tarGz, maxBytes, maxFiles, { expectedDigest: opts.expectedDigest, concurrency: opts.writeConcurrency, maxFileBytes: opts.maxFileBytes }, {
    dir: (segs, name) => mkdirp(resolveInDest(segs, name)),
    file: (segs, name, data, mode) => {
      const abs = resolveInDest(segs, name);
      return mkdirp(path.dirname(abs)).then(() => writeNew(abs, data, mode, name));
    },
  });
}

/** An artifact read into memory by readArtifact: file contents by relative path, and its directories. */
export interface ArtifactContents extends ExtractResult {
  /** Files by relative path (`a/b.yaml`), in archive order. */
  entries: Map<string, { data: Buffer; mode: number }>;
  /** Directory paths that had an entry or hold a file. */
  directories: Set<string>;
}

/** Options of readArtifact: extractArtifact's, plus which files to keep in memory. */
export interface ReadOptions extends Omit<ExtractOptions, 'writeConcurrency'> {
  /** Keep only the files this accepts (by relative path); the others are checked and counted but not held. */
  keep?: (rel: string) => boolean;
}

/**
 * Reads an artifact into memory with the same checks and limits as extractArtifact, for
 * consumers that do not need the files on disk.
 */
export async function readArtifact(tarGz: Buffer | Readable, opts: ReadOptions = {}): Promise<ArtifactContents> {
  if (opts.expectedDigest !== undefined && Buffer.isBuffer(tarGz)) verifyDigest(tarGz, opts.expectedDigest);
  const entries = new Map<string, { data: Buffer; mode: number }>();
  const directories = new Set<string>();
  const addDirs = (segs: string[], name: string) => {
    for (let i = 1; i <= segs.length; i++) {
      const d = segs.slice(0, i).join('/');
      if (entries.has(d)) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} clashes with the file ${shownName(d)}`);
      directories.add(d);
    }
  };
  const keep = opts.keep;
  const res = await scanArchive(tarGz, opts.maxBytes ?? DEFAULT_MAX_BYTES, opts.maxFiles ?? DEFAULT_MAX_FILES, { expectedDigest: opts.expectedDigest, maxFileBytes: opts.maxFileBytes }, {
    wants: keep ? (segs) => keep(segs.join('/')) : undefined,
    dir: (segs, name) => addDirs(segs, name),
    file: (segs, name, data, mode) => {
      const rel = segs.join('/');
      if (entries.has(rel) || directories.has(rel)) throw new UnsafeArtifactError(`artifact entry ${shownName(name)} appears twice (or clashes with a directory)`);
      addDirs(segs.slice(0, -1), name);
      entries.set(rel, { data, mode });
    },
  });
  return { ...res, entries, directories };
}

const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | (fsc.O_NOFOLLOW ?? 0);

async function writeNew(abs: string, data: Buffer, mode: number, name: string): Promise<void> {
  try {
    await inlineFs.writeFile(abs, data, { flag: WRITE_FLAGS, mode });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'EISDIR' || code === 'ELOOP') {
      throw new UnsafeArtifactError(`artifact entry ${shownName(name)} appears twice (or clashes with a directory)`);
    }
    throw fsError(err, `artifact entry ${shownName(name)}`);
  }
}

function pipeErrToUser(err: unknown): unknown {
  if (err instanceof FluxlessError) return err;
  const msg = err instanceof Error ? err.message : String(err);
  // tar-stream refuses a PAX or GNU long-name header over 4 MiB (held in memory to parse it).
  if (/header exceeds max size/i.test(msg)) {
    return new ArtifactTooLargeError('artifact has a tar header (PAX or GNU long name) over 4 MiB; refusing to extract it');
  }
  return new ValidationError(`artifact is not a valid tar.gz: ${msg}`, {
    cause: err,
    hint: 'The artifact is corrupt or not a Flux artifact (a gzip-compressed tar); rebuild it from the source.',
  });
}
