/**
 * Git pkt-line framing (gitprotocol-common): a 4-hex-digit length that counts itself,
 * then the payload; `0000` is a flush-pkt, `0001` a delim-pkt (protocol v2), `0002` a
 * response-end-pkt. Used by the SSH bridge and the advertisement fix; no I/O.
 */

/** `0000`: ends a message (advertisement, request, section list). */
export const FLUSH_PKT = Buffer.from('0000');

/** Largest pkt-line git sends or accepts (65520 bytes, header included). */
export const MAX_PKT_LEN = 65520;

/** Encodes one pkt-line with this payload. */
export function pktLine(payload: string | Uint8Array): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : Buffer.from(payload);
  const len = data.length + 4;
  if (len > MAX_PKT_LEN) throw new RangeError(`pkt-line payload of ${data.length} bytes is too long`);
  return Buffer.concat([Buffer.from(len.toString(16).padStart(4, '0')), data]);
}

/** One decoded packet: `data` for a data line, or a special packet. */
export type Pkt = { kind: 'data'; data: Buffer } | { kind: 'flush' } | { kind: 'delim' } | { kind: 'end' };

/** Thrown when bytes are not pkt-lines (a shell banner, a truncated stream). */
export class PktLineFormatError extends Error {}

/**
 * Reads the packet starting at `offset`: returns it and the offset after it, or undefined
 * when `buf` does not hold the whole packet yet. Throws PktLineFormatError on bad framing.
 */
export function readPkt(buf: Buffer, offset = 0): { pkt: Pkt; next: number } | undefined {
  if (buf.length - offset < 4) return undefined;
  const hex = buf.toString('latin1', offset, offset + 4);
  if (!/^[0-9a-fA-F]{4}$/.test(hex)) {
    throw new PktLineFormatError(`expected a pkt-line length, got ${JSON.stringify(buf.toString('latin1', offset, Math.min(buf.length, offset + 40)))}`);
  }
  const len = parseInt(hex, 16);
  if (len === 0) return { pkt: { kind: 'flush' }, next: offset + 4 };
  if (len === 1) return { pkt: { kind: 'delim' }, next: offset + 4 };
  if (len === 2) return { pkt: { kind: 'end' }, next: offset + 4 };
  if (len < 4) throw new PktLineFormatError(`invalid pkt-line length ${hex}`);
  if (buf.length - offset < len) return undefined;
  return { pkt: { kind: 'data', data: buf.subarray(offset + 4, offset + len) }, next: offset + len };
}

/** All complete packets of `buf` (which must hold whole packets only). */
export function splitPkts(buf: Buffer): Pkt[] {
  const out: Pkt[] = [];
  let off = 0;
  while (off < buf.length) {
    const r = readPkt(buf, off);
    if (!r) throw new PktLineFormatError(`truncated pkt-line at byte ${off} of ${buf.length}`);
    out.push(r.pkt);
    off = r.next;
  }
  return out;
}

/** Payload of a data packet as text without the trailing LF (clients must ignore it). */
export function pktText(data: Buffer): string {
  const s = data.toString('utf8');
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}
