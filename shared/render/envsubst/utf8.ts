/** UTF-8 helpers for the envsubst port: Go strings are byte strings, so offsets and lengths count bytes. */

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
/** Go's utf8.RuneError (U+FFFD). */
export const RUNE_ERROR = 0xfffd;

/** The UTF-8 bytes of `s`. */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/** `b` decoded as UTF-8 (invalid sequences become U+FFFD). */
export function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Go's utf8.DecodeRune over `at(i)`: `[rune, size]`, `[0xFFFD, 1]` on an invalid byte. */
export function decodeRuneAt(at: (i: number) => number, i: number, len: number): [number, number] {
  const b0 = at(i);
  if (b0 < 0x80) return [b0, 1];
  let size: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) size = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    size = 3;
    if (b0 === 0xe0) lo = 0xa0;
    else if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    size = 4;
    if (b0 === 0xf0) lo = 0x90;
    else if (b0 === 0xf4) hi = 0x8f;
  } else return [RUNE_ERROR, 1];
  if (i + size > len) return [RUNE_ERROR, 1];
  const b1 = at(i + 1);
  if (b1 < lo || b1 > hi) return [RUNE_ERROR, 1];
  let r = b1 & 0x3f;
  for (let k = 2; k < size; k++) {
    const b = at(i + k);
    if (b < 0x80 || b > 0xbf) return [RUNE_ERROR, 1];
    r = (r << 6) | (b & 0x3f);
  }
  const lead = size === 2 ? b0 & 0x1f : size === 3 ? b0 & 0x0f : b0 & 0x07;
  return [(lead << (6 * (size - 1))) | r, size];
}

/** Go's utf8.DecodeRune over the bytes `b` at `i`. */
export function decodeRune(b: Uint8Array, i: number): [number, number] {
  return decodeRuneAt((k) => b[k], i, b.length);
}

