/**
 * Extracts an OCI layer (tar+gzip) into a new directory the way source-controller does for
 * `layerSelector.operation: extract` (fluxcd/pkg tar.Untar with WithSkipSymlinks): regular
 * files and directories are written, symlinks are skipped, any other entry type (hard
 * links, devices, FIFOs) fails; names must be relative without `..` or `\`; a later entry
 * for the same file replaces the earlier one. The total file size, the decompressed stream
 * and the entries (directories a path implies included) are capped (Flux has no cap for
 * OCI layers; a function's disk, inodes and time are not unlimited).
 */
import { constants as fsc, promises as fsp } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { entrySegments } from '../artifacts/extract.js';
import { FluxlessError } from '../util/errors.js';

/** Default cap on the sum of file sizes in an extracted layer (512 MiB). */
export const DEFAULT_MAX_EXTRACTED_BYTES = 512 * 1024 * 1024;

/** Default cap on entries: files, directories (those a path implies included) and skipped symlinks. */
export const DEFAULT_MAX_LAYER_ENTRIES = 100_000;

/** What an extraction wrote. */
export interface UntarResult {
  files: number;
  dirs: number;
  bytes: number;
  /** Symlinks left out. */
  skippedSymlinks: number;
}

/** The layer cannot be extracted (bad gzip/tar, unsafe name, unsupported entry, too big). */
export class LayerExtractError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('LayerExtractFailed', message, options);
  }
}

const WRITE_FLAGS = fsc.O_WRONLY | fsc.O_CREAT | fsc.O_TRUNC | (fsc.O_NOFOLLOW ?? 0);

/**
 * Extracts the gzip-compressed tar `source` into `dest` (created; must not exist or be
 * empty). Errors from `source` (a digest mismatch found at its end) fail the extraction.
 */
export async function untarLayer(source: Readable, dest: string, opts: { maxBytes?: number; maxEntries?: number } = {}): Promise<UntarResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_EXTRACTED_BYTES;
  const maxEntries = opts.maxEntries ?? DEFAULT_MAX_LAYER_ENTRIES;
  const root = path.resolve(dest);
  await fsp.mkdir(root, { recursive: true });
  const made = new Set<string>([root]);
  let entries = 0;
  const count = (n: number) => {
    entries += n;
    if (entries > maxEntries) throw new LayerExtractError(`layer has more than ${maxEntries} entries (files, directories and symlinks)`);
  };
  const mkdirp = async (dir: string) => {
    if (made.has(dir)) return;
    // Every directory the path implies counts, not only the entry: a few deep names must not
    // create directories without bound.
    let implied = 0;
    for (let d = dir; !made.has(d) && d.startsWith(root + path.sep); d = path.dirname(d)) implied++;
    count(implied);
    try {
      await fsp.mkdir(dir, { recursive: true, mode: 0o750 });
    } catch (err) {
      throw new LayerExtractError(`cannot create directory ${JSON.stringify(path.relative(root, dir))}: ${(err as Error).message}`, { cause: err });
    }
    made.add(dir);
  };
  const result: UntarResult = { files: 0, dirs: 0, bytes: 0, skippedSymlinks: 0 };
  const ex = tarExtract();
  const gunzip = zlib.createGunzip();
  // Decompressed bytes, headers and data of skipped entries included, within what the limits
  // allow (the file bytes plus a header, padding and a PAX record per entry).
  const streamLimit = maxBytes + (Math.min(maxEntries, 1_000_000) + 2) * 1536 + (1 << 20);
  let streamed = 0;
  const limit = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      streamed += chunk.length;
      if (streamed > streamLimit) cb(new LayerExtractError(`layer decompresses to more than ${streamLimit} bytes; refusing to extract (possible gzip bomb)`));
      else cb(null, chunk);
    },
  });
  const consume = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const type: string = h.type ?? 'unknown';
      let segs: string[];
      try {
        segs = entrySegments(h.name);
      } catch (err) {
        entry.resume();
        throw new LayerExtractError(`tar contained invalid name error ${JSON.stringify(h.name)}: ${(err as Error).message}`, { cause: err });
      }
      if (type === 'symlink') {
        count(1);
        result.skippedSymlinks++;
        entry.resume();
        continue;
      }
      const abs = path.join(root, ...segs);
      if (segs.length > 0 && !abs.startsWith(root + path.sep)) throw new LayerExtractError(`tar entry ${JSON.stringify(h.name)} resolves outside the destination`);
      if (type === 'directory') {
        entry.resume();
        if (segs.length > 0 && !made.has(abs)) {
          await mkdirp(abs);
          result.dirs++;
        }
        continue;
      }
      if (type !== 'file' && type !== 'contiguous-file') {
        entry.resume();
        throw new LayerExtractError(`tar file entry ${h.name} contained unsupported file type ${type}`);
      }
      if (segs.length === 0) throw new LayerExtractError(`tar file entry ${JSON.stringify(h.name)} has no name`);
      count(1);
      result.bytes += h.size ?? 0;
      if (result.bytes > maxBytes) {
        entry.resume();
        throw new LayerExtractError(`tar ${JSON.stringify(h.name)} is bigger than max archive size of ${maxBytes} bytes`);
      }
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      await mkdirp(path.dirname(abs));
      const mode = ((h.mode ?? 0o644) & 0o777) | 0o600;
      try {
        await fsp.writeFile(abs, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), { flag: WRITE_FLAGS, mode });
        if (mode & 0o111) await fsp.chmod(abs, mode);
      } catch (err) {
        throw new LayerExtractError(`error writing to ${JSON.stringify(h.name)}: ${(err as Error).message}`, { cause: err });
      }
      result.files++;
    }
  })();
  consume.catch(() => undefined);
  let pipeErr: unknown;
  await pipeline(source, gunzip, limit, ex).catch((err: unknown) => {
    pipeErr = err;
  });
  let consumeErr: unknown;
  await consume.catch((err: unknown) => {
    consumeErr = err;
  });
  if (consumeErr instanceof LayerExtractError) throw consumeErr;
  if (pipeErr) {
    if (pipeErr instanceof FluxlessError) throw pipeErr;
    const msg = (pipeErr as Error).message ?? String(pipeErr);
    const code = (pipeErr as NodeJS.ErrnoException).code;
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR' || /incorrect header check|unexpected end of file/.test(msg)) {
      throw new LayerExtractError(`requires gzip-compressed body: ${msg}`, { cause: pipeErr });
    }
    throw new LayerExtractError(`tar error: ${msg}`, { cause: pipeErr });
  }
  if (consumeErr) throw consumeErr;
  return result;
}
