/**
 * Hand-made tar archives for the bad-archive set: raw ustar headers with any type flag,
 * PAX and GNU long-name headers, sizes that lie (base-256 for the huge ones), bad
 * checksums. A tar library would refuse to write most of these, which is the point.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';

/** One raw tar entry. */
export interface RawEntry {
  name: string;
  /** Type flag: '0' file, '1' hard link, '2' symlink, '3' char device, '4' block device, '5' directory, '6' fifo, any other byte. */
  type?: string;
  data?: Buffer | string;
  linkname?: string;
  mode?: number;
  /** Size written in the header instead of the data's (a header that lies). */
  declaredSize?: number;
  /** Break the checksum. */
  badChecksum?: boolean;
}

function octal(n: number, width: number): string {
  return n.toString(8).padStart(width - 1, '0') + '\0';
}

/** A 512-byte ustar header. */
export function header(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  const size = e.declaredSize ?? data.length;
  h.write(e.name.slice(0, 100), 0, 100, 'utf8');
  h.write(octal(e.mode ?? 0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  if (size > 0o77777777777) {
    // base-256: high bit set, big-endian value in the rest of the field
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  } else {
    h.write(octal(size, 12), 124, 'ascii');
  }
  h.write(octal(0, 12), 136, 'ascii');
  h.write(e.type ?? '0', 156, 1, 'latin1');
  if (e.linkname) h.write(e.linkname.slice(0, 100), 157, 100, 'utf8');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  if (e.type === '3' || e.type === '4') {
    h.write(octal(1, 8), 329, 'ascii');
    h.write(octal(3, 8), 337, 'ascii');
  }
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  if (e.badChecksum) sum += 1;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % 512;
  return rest ? Buffer.concat([data, Buffer.alloc(512 - rest)]) : data;
}

/** Header + data blocks of one entry. */
export function entry(e: RawEntry): Buffer {
  const data = e.data === undefined ? Buffer.alloc(0) : Buffer.from(e.data);
  return Buffer.concat([header(e), padded(data)]);
}

/** A PAX extended header ('x') for the next entry, with these records. */
export function pax(records: Record<string, string>, type = 'x'): Buffer {
  let body = '';
  for (const [k, v] of Object.entries(records)) {
    const rest = ` ${k}=${v}\n`;
    let len = Buffer.byteLength(rest) + 1;
    while (String(len).length + Buffer.byteLength(rest) !== len) len = String(len).length + Buffer.byteLength(rest);
    body += `${len}${rest}`;
  }
  return entry({ name: 'PaxHeader', type, data: Buffer.from(body) });
}

/** A GNU long-name header ('L') for the next entry (or 'K', a long link name). */
export function gnuLong(name: string, type: 'L' | 'K' = 'L'): Buffer {
  return entry({ name: '././@LongLink', type, data: Buffer.concat([Buffer.from(name), Buffer.from([0])]) });
}

/** A whole tar: the blocks, then the two zero blocks that end it. */
export function tar(...blocks: Buffer[]): Buffer {
  return Buffer.concat([...blocks, Buffer.alloc(1024)]);
}

/** gzip of a tar. */
export function gz(t: Buffer): Buffer {
  return zlib.gzipSync(t);
}

/** A gzip stream of the blocks `next()` returns until it returns undefined, made as it is read. */
export function gzipStream(next: () => Buffer | undefined): Readable {
  const src = new Readable({
    read() {
      this.push(next() ?? null);
    },
  });
  const gzip = zlib.createGzip({ level: 1 });
  src.pipe(gzip);
  gzip.once('close', () => src.destroy());
  return gzip;
}

/**
 * A gzip stream of a valid little tar followed by `zeroBytes` of zeros (Infinity: no end),
 * compressed as it is read: the bomb never exists in memory or on disk.
 */
export function gzipBombStream(zeroBytes: number): Readable {
  const head = entry({ name: 'a.yaml', data: 'a: 1\n' });
  const chunk = Buffer.alloc(1024 * 1024);
  let sent = 0;
  let first = true;
  const src = new Readable({
    read() {
      if (first) {
        first = false;
        this.push(head);
        return;
      }
      if (sent >= zeroBytes) {
        this.push(null);
        return;
      }
      const n = Math.min(chunk.length, zeroBytes - sent);
      sent += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  const gzip = zlib.createGzip({ level: 1 });
  src.pipe(gzip);
  gzip.once('close', () => src.destroy());
  return gzip;
}
