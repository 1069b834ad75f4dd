/**
 * The envsubst scanner: a port of github.com/fluxcd/pkg/envsubst parse/scan.go. It reads
 * runes from the template bytes under a mode (identifiers, `${`, `}`, escapes) and an accept
 * function the parser sets before each token.
 */
import {
  BACKSLASH,
  CARET,
  COLON,
  COMMA,
  DOLLAR,
  EOF,
  EQUAL,
  HASH,
  LBRACE,
  MINUS,
  PERCENT,
  PLUS,
  QUESTION,
  RBRACE,
  SLASH,
  UNDERSCORE,
} from './chars.js';
import { decodeRuneAt, fromUtf8 } from './utf8.js';

/** Scanner mode: read an identifier (text accepted by the accept function). */
export const SCAN_IDENT = 1;
/** Scanner mode: recognise `${`. */
export const SCAN_LBRACK = 2;
/** Scanner mode: recognise `}`. */
export const SCAN_RBRACK = 4;
/** Scanner mode: drop escape characters (see escapeChars). */
export const SCAN_ESCAPE = 8;
/** Escape: `$$` is a literal `$`. */
export const ESC_DOLLAR = 1;
/** Escape: a backslash before `/` or another backslash is dropped. */
export const ESC_BACKSLASH = 2;
/** Both escapes. */
export const ESC_ALL = ESC_DOLLAR | ESC_BACKSLASH;

/** Token kinds. */
export enum Tok {
  Illegal,
  EOF,
  Ident,
  Lbrack,
  Rbrack,
}

/** Decides whether rune `r`, the `i`-th of the token (1-based), belongs to the token. */
export type Accept = (r: number, i: number) => boolean;

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
/** Accepts any rune. */
export const acceptRune: Accept = () => true;
/** Accepts a variable-name rune: `_`, ASCII letters and digits, and Unicode letters and digits (Go's unicode.IsLetter/IsDigit). */
export const acceptIdent: Accept = (r) =>
  r === UNDERSCORE ||
  (r >= 0x30 && r <= 0x39) ||
  (r >= 0x41 && r <= 0x5a) ||
  (r >= 0x61 && r <= 0x7a) ||
  (r >= 0x80 && LETTER_OR_DIGIT.test(String.fromCodePoint(r)));
/** Accepts `:` only. */
export const acceptColon: Accept = (r) => r === COLON;
/** Accepts a `#` as the first rune (`${#var}`). */
export const acceptOneHash: Accept = (r, i) => r === HASH && i === 1;
/** Accepts anything but `}`. */
export const acceptNotClosing: Accept = (r) => r !== RBRACE;
/** Accepts `#` or `##`. */
export const acceptHashFunc: Accept = (r, i) => r === HASH && i < 3;
/** Accepts `%` or `%%`. */
export const acceptPercentFunc: Accept = (r, i) => r === PERCENT && i < 3;
/** Accepts `:=`, `:-`, `:?` or `:+`. */
export const acceptDefaultFunc: Accept = (r, i) =>
  (i === 1 && r === COLON) || (i === 2 && (r === EQUAL || r === MINUS || r === QUESTION || r === PLUS));
/** Accepts `/`, `//`, `/#` or `/%`. */
export const acceptReplaceFunc: Accept = (r, i) =>
  (i === 1 && r === SLASH) || (i === 2 && (r === SLASH || r === HASH || r === PERCENT));
/** Accepts a single `=`. */
export const acceptOneEqual: Accept = (r, i) => i === 1 && r === EQUAL;
/** Accepts a single `:`. */
export const acceptOneColon: Accept = (r, i) => i === 1 && r === COLON;
/** Accepts anything but `:` and `}`. */
export const rejectColonClose: Accept = (r) => r !== COLON && r !== RBRACE;
/** Accepts `/` only. */
export const acceptSlash: Accept = (r) => r === SLASH;
/** Accepts anything but `/`. */
export const acceptNotSlash: Accept = (r) => r !== SLASH;
/** Accepts `,`, `,,`, `^` or `^^`. */
export const acceptCasingFunc: Accept = (r, i) => (r === COMMA || r === CARET) && i < 3;

/**
 * The Go scanner edits its buffer in place to drop escape characters (`skip`). Instead of
 * copying the buffer on every escape we keep the source bytes and a list of removed
 * positions: logical index `i` maps to source byte `i + #{removed q <= i}`.
 */
export class Scanner {
  private readonly src: Uint8Array;
  private readonly skipLogical: number[] = [];
  private readonly skipPhysical: number[] = [];
  pos = 0;
  start = 0;
  private width = 0;
  mode = 0;
  escapeChars = 0;
  accept: Accept = acceptRune;

  constructor(src: Uint8Array) {
    this.src = src;
  }

  private get length(): number {
    return this.src.length - this.skipLogical.length;
  }

  private physical(i: number): number {
    let c = this.skipLogical.length;
    while (c > 0 && this.skipLogical[c - 1] > i) c--;
    return i + c;
  }

  private byteAt = (i: number): number => this.src[this.physical(i)];

  /** Physical offset of the current logical position (for error snippets). */
  physicalPos(i: number): number {
    return this.physical(i);
  }

  read(): number {
    if (this.pos >= this.length) {
      this.width = 0;
      return EOF;
    }
    const [r, w] = decodeRuneAt(this.byteAt, this.pos, this.length);
    this.width = w;
    this.pos += w;
    return r;
  }

  unread(): void {
    this.pos -= this.width;
  }

  /** Remove the byte just before `pos` (an escape character) from the buffer. */
  private skip(): void {
    const q = this.pos - 1;
    const p = this.physical(q);
    let k = this.skipLogical.length;
    while (k > 0 && this.skipLogical[k - 1] > q) k--;
    // Physical positions grow with logical ones, so the same index keeps both sorted.
    this.skipLogical.splice(k, 0, q);
    this.skipPhysical.splice(k, 0, p);
  }

  peek(): number {
    const r = this.read();
    this.unread();
    return r;
  }

  /** Text of the most recent token, escapes removed. */
  string(): string {
    if (this.pos <= this.start) return '';
    const from = this.physical(this.start);
    const to = this.physical(this.pos - 1) + 1;
    const sp = this.skipPhysical;
    let lo = 0;
    let hi = sp.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sp[mid] < from) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= sp.length || sp[lo] >= to) return fromUtf8(this.src.subarray(from, to));
    const parts: Uint8Array[] = [];
    let at = from;
    for (let k = lo; k < sp.length && sp[k] < to; k++) {
      parts.push(this.src.subarray(at, sp[k]));
      at = sp[k] + 1;
    }
    parts.push(this.src.subarray(at, to));
    return parts.map(fromUtf8).join('');
  }

  scan(): Tok {
    this.start = this.pos;
    const r = this.read();
    if (r === EOF) return Tok.EOF;
    if (this.scanLbrack(r)) return Tok.Lbrack;
    if (this.scanRbrack(r)) return Tok.Rbrack;
    if (this.scanIdent(r)) return Tok.Ident;
    return Tok.Illegal;
  }

  private scanIdent(r: number): boolean {
    if ((this.mode & SCAN_IDENT) === 0) return false;
    if (this.scanEscaped(r)) this.skip();
    else if (!this.accept(r, this.pos - this.start)) return false;
    for (;;) {
      const c = this.read();
      if (c === EOF) {
        this.unread();
        break;
      }
      if (this.scanLbrack(c)) {
        this.unread();
        this.unread();
        break;
      }
      if (this.scanEscaped(c)) {
        this.skip();
        continue;
      }
      if (!this.accept(c, this.pos - this.start)) {
        this.unread();
        break;
      }
    }
    return true;
  }

  private scanLbrack(r: number): boolean {
    if ((this.mode & SCAN_LBRACK) === 0) return false;
    if (r === DOLLAR) {
      if (this.read() === LBRACE) return true;
      this.unread();
    }
    return false;
  }

  private scanRbrack(r: number): boolean {
    if ((this.mode & SCAN_RBRACK) === 0) return false;
    return r === RBRACE;
  }

  private scanEscaped(r: number): boolean {
    if ((this.mode & SCAN_ESCAPE) === 0) return false;
    if (r === DOLLAR && (this.escapeChars & ESC_DOLLAR) !== 0) {
      if (this.peek() === DOLLAR) return true;
    }
    if (r === BACKSLASH && (this.escapeChars & ESC_BACKSLASH) !== 0) {
      const n = this.peek();
      return n === SLASH || n === BACKSLASH;
    }
    return false;
  }
}

