/**
 * Tar headers as Flux writes them (Go archive/tar via source-controller's Archive): USTAR,
 * uid/gid 0, empty uname/gname, mtime 0, the mode given; names up to 100 bytes in the name
 * field, longer ASCII names split into prefix + name, anything else (too long, non-ASCII) in
 * a PAX `path` record, as Go does.
 */
import { ValidationError } from '../util/errors.js';

/** Size in bytes of a tar block; headers and file data are padded to it. */
export const BLOCK = 512;
const NAME_SIZE = 100;
const PREFIX_SIZE = 155;
const MAX_OCTAL_11 = 0o77777777777; // 8 GiB - 1

/** Entry types an artifact's tar holds: regular files and directories. */
export type TarEntryType = 'file' | 'dir';

/** The header block(s) for one entry; for files the caller appends data + padding. */
export function tarHeader(name: string, type: TarEntryType, mode: number, size: number): Buffer {
  if (size > MAX_OCTAL_11) throw new ValidationError(`file ${name} is too large for an artifact (${size} bytes; the limit is 8 GiB)`);
  const ascii = isPrintableAscii(name);
  if (ascii && name.length <= NAME_SIZE) return ustar(name, '', type, mode, size);
  if (ascii) {
    const split = splitUstarPath(name);
    if (split) return ustar(split.name, split.prefix, type, mode, size);
  }
  // PAX extended header carrying the full path, then a USTAR header with a placeholder name.
  const record = paxRecord('path', name);
  const paxName = paxHeaderName(name);
  const pax = ustar(paxName, '', 'x', 0o644, record.length);
  const padded = Buffer.alloc(padTo512(record.length));
  record.copy(padded);
  const fallback = asciiFallbackName(name);
  return Buffer.concat([pax, padded, ustar(fallback, '', type, mode, size)]);
}

/** Zero bytes to pad `size` bytes of data to a 512-byte boundary. */
export function padding(size: number): number {
  const r = size % BLOCK;
  return r === 0 ? 0 : BLOCK - r;
}

/** Two zero blocks end a tar archive. */
export const END_OF_ARCHIVE = Buffer.alloc(BLOCK * 2);

function padTo512(n: number): number {
  return n + padding(n);
}

function ustar(name: string, prefix: string, type: TarEntryType | 'x', mode: number, size: number): Buffer {
  const b = Buffer.alloc(BLOCK);
  b.write(name, 0, NAME_SIZE, 'utf8');
  octal(b, 100, 8, mode & 0o7777);
  octal(b, 108, 8, 0); // uid
  octal(b, 116, 8, 0); // gid
  octal(b, 124, 12, size);
  octal(b, 136, 12, 0); // mtime
  b.fill(0x20, 148, 156); // checksum placeholder: spaces
  b[156] = type === 'file' ? 0x30 : type === 'dir' ? 0x35 : 0x78; // '0' | '5' | 'x'
  b.write('ustar\0', 257, 6, 'latin1');
  b.write('00', 263, 2, 'latin1');
  octal(b, 329, 8, 0); // devmajor
  octal(b, 337, 8, 0); // devminor
  if (prefix) b.write(prefix, 345, PREFIX_SIZE, 'utf8');
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  octal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** Writes `value` as zero-padded octal filling `len - 1` bytes followed by NUL. */
function octal(b: Buffer, off: number, len: number, value: number): void {
  const s = value.toString(8).padStart(len - 1, '0');
  b.write(s, off, len - 1, 'latin1');
  b[off + len - 1] = 0;
}

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c >= 0x80) return false;
  }
  return true;
}

/** Go's splitUSTARPath: split at a `/` so prefix <= 155 and name <= 100 bytes. */
function splitUstarPath(name: string): { prefix: string; name: string } | undefined {
  let length = name.length;
  if (length <= NAME_SIZE) return undefined;
  if (length > PREFIX_SIZE + 1) length = PREFIX_SIZE + 1;
  else if (name[length - 1] === '/') length--;
  const i = name.lastIndexOf('/', length - 1);
  const nlen = name.length - i - 1;
  if (i <= 0 || nlen > NAME_SIZE || nlen === 0 || i > PREFIX_SIZE) return undefined;
  return { prefix: name.slice(0, i), name: name.slice(i + 1) };
}

function paxRecord(key: string, value: string): Buffer {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body, 'utf8');
  let n = bodyLen + 1;
  while (String(n).length + bodyLen !== n) n = String(n).length + bodyLen;
  return Buffer.from(`${n}${body}`, 'utf8');
}

function paxHeaderName(name: string): string {
  const slash = name.lastIndexOf('/');
  const dir = slash >= 0 ? name.slice(0, slash) : '';
  const file = slash >= 0 ? name.slice(slash + 1) : name;
  const joined = (dir ? `${dir}/` : '') + `PaxHeaders.0/${file}`;
  return asciiFallbackName(joined);
}

function asciiFallbackName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[^\x01-\x7f]/g, '_').slice(0, NAME_SIZE);
}
