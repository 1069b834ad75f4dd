/**
 * Parallel gzip (the pigz technique) producing one ordinary single-member gzip stream.
 *
 * The input is cut into fixed-size blocks; each block is raw-deflated on the libuv thread
 * pool with the previous block's last 32 KiB as its dictionary and ends with a sync flush
 * (byte-aligned, not final), the last block ends with a final block. Concatenated, they form
 * one valid deflate stream; a gzip header and the CRC-32/length trailer wrap it. Output only
 * depends on the input and the settings (block size, level), so equal inputs give equal bytes
 * and equal digests. The SHA-256 digest of the compressed bytes is computed on the way.
 */
import zlib from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';

const WINDOW = 32 * 1024;
// Go's gzip writer header: no name, mtime 0, XFL 0, OS 255 (unknown).
const GZIP_HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);

/** Options of ParallelGzip: compression level, block size, and how many blocks compress at once. */
export interface GzipOptions {
  /** zlib level (default 6, like gzip and Go's default). */
  level?: number;
  /** Uncompressed bytes per parallel block (default 1 MiB). */
  blockSize?: number;
  /** Blocks compressing at once (default 4, the libuv thread pool size). */
  parallel?: number;
}

/** A finished gzip stream: its parts in order, total size, sha256 digest and uncompressed size. */
export interface GzipResult {
  parts: Buffer[];
  size: number;
  /** `sha256:<hex>` of the compressed bytes. */
  digest: string;
  uncompressedSize: number;
}

const crc32: (data: Uint8Array, value?: number) => number =
  typeof (zlib as { crc32?: unknown }).crc32 === 'function' ? zlib.crc32 : crc32Js;

function deflateBlock(block: Buffer, level: number, dictionary: Buffer | undefined, final: boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const opts: zlib.ZlibOptions = {
      level,
      finishFlush: final ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (dictionary && dictionary.length > 0) opts.dictionary = dictionary;
    zlib.deflateRaw(block, opts, (err, out) => (err ? reject(err) : resolve(out)));
  });
}

/** Compresses a byte stream into one gzip member, deflating blocks in parallel on the thread pool (pigz-style). */
export class ParallelGzip {
  private readonly level: number;
  private readonly blockSize: number;
  private readonly parallel: number;
  private pending: Buffer[] = [];
  private pendingLen = 0;
  private prevTail: Buffer | undefined;
  private crc = 0;
  private total = 0;
  private readonly jobs: Promise<Buffer>[] = [];
  private readonly out: Buffer[] = [GZIP_HEADER];
  private outLen = GZIP_HEADER.length;
  private readonly hash: Hash = createHash('sha256').update(GZIP_HEADER);
  private ended = false;

  constructor(opts: GzipOptions = {}) {
    this.level = opts.level ?? 6;
    this.blockSize = Math.max(64 * 1024, opts.blockSize ?? 1024 * 1024);
    this.parallel = Math.max(1, opts.parallel ?? 4);
  }

  /** Adds bytes; resolves when the caller may write more (bounded memory). */
  async write(chunk: Buffer): Promise<void> {
    if (chunk.length === 0) return;
    this.pending.push(chunk);
    this.pendingLen += chunk.length;
    while (this.pendingLen >= this.blockSize) {
      this.cut(false);
      while (this.jobs.length >= this.parallel) await this.drainOne();
    }
  }

  async end(): Promise<GzipResult> {
    if (this.ended) throw new Error('gzip stream already ended');
    this.ended = true;
    this.cut(true);
    while (this.jobs.length > 0) await this.drainOne();
    const trailer = Buffer.alloc(8);
    trailer.writeUInt32LE(this.crc >>> 0, 0);
    trailer.writeUInt32LE(this.total % 2 ** 32, 4);
    this.push(trailer);
    return { parts: this.out, size: this.outLen, digest: `sha256:${this.hash.digest('hex')}`, uncompressedSize: this.total };
  }

  private cut(final: boolean): void {
    let block: Buffer;
    if (final) {
      block = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
      this.pending = [];
      this.pendingLen = 0;
    } else {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingLen);
      block = all.subarray(0, this.blockSize);
      const rest = all.subarray(this.blockSize);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingLen = rest.length;
    }
    this.crc = crc32(block, this.crc);
    this.total += block.length;
    const job = deflateBlock(block, this.level, this.prevTail, final);
    job.catch(() => undefined); // awaited in order by drainOne; avoid an unhandled rejection meanwhile
    this.jobs.push(job);
    this.prevTail = block.length >= WINDOW ? block.subarray(block.length - WINDOW) : Buffer.concat([this.prevTail ?? Buffer.alloc(0), block]).subarray(-WINDOW);
  }

  private async drainOne(): Promise<void> {
    const out = await this.jobs.shift()!;
    this.push(out);
  }

  private push(b: Buffer): void {
    this.out.push(b);
    this.outLen += b.length;
    this.hash.update(b);
  }
}

let table: Int32Array | undefined;
/** CRC-32 (IEEE) for Node versions without zlib.crc32. */
function crc32Js(data: Uint8Array, value = 0): number {
  if (!table) {
    table = new Int32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      table[n] = c;
    }
  }
  let c = ~value;
  for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}
