/**
 * `${var}` expansion with the exact behaviour of the engine Flux's kustomize-controller runs
 * for `spec.postBuild`: github.com/fluxcd/pkg/envsubst, a fork of github.com/drone/envsubst.
 *
 * The scanner, parser and string functions below follow that engine step by step, quirks
 * included, because users write manifests against what Flux does, not against bash:
 *  - only `${...}` expands; `$var` stays as written; `$$` becomes `$` (so `$${var}` yields the
 *    literal `${var}`, and a lone `$$` anywhere outside `${}` also collapses to `$`).
 *  - `${var:-d}`, `${var:=d}`, `${var=d}`, `${var:?d}` and `${var:+d}` ALL mean "the value, or
 *    `d` when the value is empty". None assigns, none fails, and `:+` is NOT bash's
 *    "alternate value". `${var-d}` and `${var+d}` are not supported: they fail to parse with
 *    "missing closing brace", as in Flux.
 *  - a default may hold several pieces of text and nested `${other}` expressions; all of
 *    them are evaluated, even when the default is not used.
 *  - `${#var}` and `${var:offset:length}` count UTF-8 bytes (Go strings are bytes).
 *  - `#`, `##`, `%`, `%%` take Go-path-style glob patterns (`*`, `?`, `[...]`, `\`), where
 *    `*` and `?` also match `/`; `/`, `//`, `/#`, `/%` take a literal string, not a pattern.
 *    Inside replacement patterns `\/` is a literal `/`, `\\` a literal `\`, `$$` a `$`.
 *  - a malformed expression fails the whole text with one of the engine's messages
 *    ("bad substitution", "missing closing brace", "unable to parse variable name",
 *    "unable to parse substitution within function", "unable to parse default function").
 *  - strict mode: a variable that is not defined makes any expression fail with
 *    `variable not set (strict mode): "NAME"`, unless the operator supplies a default
 *    (`-`, `=`, `?`, `+` with or without `:`). A variable defined as "" is defined.
 *
 * Known, deliberate deviations (only reachable with bytes that are not valid UTF-8):
 * where the Go engine would emit a broken UTF-8 sequence (a byte offset or trim that cuts
 * a multi-byte character), we emit U+FFFD instead, since JS strings cannot hold raw bytes.
 * Upper/lower-casing uses JS's per-character mapping restricted to one-character results,
 * which matches Go's `unicode.ToUpper`/`ToLower` for all but a handful of special letters.
 */
import { ValidationError } from '../util/errors.js';

/** What the engine knows about a variable: its value, or `undefined` when it is not set. */
export type VariableLookup = Record<string, string> | ((name: string) => string | undefined);

export interface EnvsubstOptions {
  /** Fail on a variable that is not set (unless the operator supplies a default). */
  strict: boolean;
}

/** Why `envsubst` failed: a malformed expression, or a variable missing in strict mode. */
export class EnvsubstError extends ValidationError {
  /** `parse`: malformed `${...}`; `unset`: strict mode and the variable is not defined. */
  readonly reason: 'parse' | 'unset';
  /** The variable that is not set (reason `unset`). */
  readonly variable?: string;
  /** The template text from the start of the failing top-level `${` (at most 60 chars). */
  readonly snippet?: string;
  constructor(
    reason: 'parse' | 'unset',
    message: string,
    opts: { variable?: string; snippet?: string; hint?: string } = {},
  ) {
    super(message, { hint: opts.hint });
    this.reason = reason;
    this.variable = opts.variable;
    this.snippet = opts.snippet;
  }
}

// ---------------------------------------------------------------------------------------
// UTF-8 helpers (Go strings are byte strings; offsets and lengths count bytes)
// ---------------------------------------------------------------------------------------

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');
const RUNE_ERROR = 0xfffd;

function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

function fromUtf8(b: Uint8Array): string {
  return decoder.decode(b);
}

/** Go's utf8.DecodeRune over `at(i)`: `[rune, size]`, `[0xFFFD, 1]` on an invalid byte. */
function decodeRuneAt(at: (i: number) => number, i: number, len: number): [number, number] {
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

function decodeRune(b: Uint8Array, i: number): [number, number] {
  return decodeRuneAt((k) => b[k], i, b.length);
}

// ---------------------------------------------------------------------------------------
// Scanner (port of parse/scan.go)
// ---------------------------------------------------------------------------------------

const EOF = 0; // Go's scanner uses rune(0) as EOF, so a NUL character also ends the text
const DOLLAR = 0x24;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const COLON = 0x3a;
const HASH = 0x23;
const PERCENT = 0x25;
const EQUAL = 0x3d;
const MINUS = 0x2d;
const QUESTION = 0x3f;
const PLUS = 0x2b;
const COMMA = 0x2c;
const CARET = 0x5e;
const UNDERSCORE = 0x5f;

const SCAN_IDENT = 1;
const SCAN_LBRACK = 2;
const SCAN_RBRACK = 4;
const SCAN_ESCAPE = 8;
const ESC_DOLLAR = 1;
const ESC_BACKSLASH = 2;
const ESC_ALL = ESC_DOLLAR | ESC_BACKSLASH;

const enum Tok {
  Illegal,
  EOF,
  Ident,
  Lbrack,
  Rbrack,
}

type Accept = (r: number, i: number) => boolean;

const LETTER_OR_DIGIT = /^[\p{L}\p{Nd}]$/u;
const acceptRune: Accept = () => true;
const acceptIdent: Accept = (r) =>
  r === UNDERSCORE ||
  (r >= 0x30 && r <= 0x39) ||
  (r >= 0x41 && r <= 0x5a) ||
  (r >= 0x61 && r <= 0x7a) ||
  (r >= 0x80 && LETTER_OR_DIGIT.test(String.fromCodePoint(r)));
const acceptColon: Accept = (r) => r === COLON;
const acceptOneHash: Accept = (r, i) => r === HASH && i === 1;
const acceptNotClosing: Accept = (r) => r !== RBRACE;
const acceptHashFunc: Accept = (r, i) => r === HASH && i < 3;
const acceptPercentFunc: Accept = (r, i) => r === PERCENT && i < 3;
const acceptDefaultFunc: Accept = (r, i) =>
  (i === 1 && r === COLON) || (i === 2 && (r === EQUAL || r === MINUS || r === QUESTION || r === PLUS));
const acceptReplaceFunc: Accept = (r, i) =>
  (i === 1 && r === SLASH) || (i === 2 && (r === SLASH || r === HASH || r === PERCENT));
const acceptOneEqual: Accept = (r, i) => i === 1 && r === EQUAL;
const acceptOneColon: Accept = (r, i) => i === 1 && r === COLON;
const rejectColonClose: Accept = (r) => r !== COLON && r !== RBRACE;
const acceptSlash: Accept = (r) => r === SLASH;
const acceptNotSlash: Accept = (r) => r !== SLASH;
const acceptCasingFunc: Accept = (r, i) => (r === COMMA || r === CARET) && i < 3;

/**
 * The Go scanner edits its buffer in place to drop escape characters (`skip`). Instead of
 * copying the buffer on every escape we keep the source bytes and a list of removed
 * positions: logical index `i` maps to source byte `i + #{removed q <= i}`.
 */
class Scanner {
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

// ---------------------------------------------------------------------------------------
// Parser (port of parse/parse.go)
// ---------------------------------------------------------------------------------------

type Node = TextNode | FuncNode;
interface TextNode {
  kind: 'text';
  value: string;
}
interface FuncNode {
  kind: 'func';
  param: string;
  name: string;
  args: Node[];
}

const ERR_BAD_SUBSTITUTION = 'bad substitution';
const ERR_MISSING_CLOSING_BRACE = 'missing closing brace';
const ERR_PARSE_VARIABLE_NAME = 'unable to parse variable name';
const ERR_PARSE_FUNC_SUBSTITUTION = 'unable to parse substitution within function';
const ERR_PARSE_DEFAULT_FUNCTION = 'unable to parse default function';

class ParseFailure extends Error {}

const text = (value: string): TextNode => ({ kind: 'text', value });

class Parser {
  private readonly s: Scanner;
  /** Logical position of the `${` that opened the current top-level expression. */
  exprStart = -1;

  constructor(s: Scanner) {
    this.s = s;
  }

  /** `parseAny`, iteratively (the Go version recurses once per token). */
  parse(): Node[] {
    const nodes: Node[] = [];
    for (;;) {
      this.s.accept = acceptRune;
      this.s.mode = SCAN_IDENT | SCAN_LBRACK | SCAN_ESCAPE;
      this.s.escapeChars = ESC_DOLLAR;
      switch (this.s.scan()) {
        case Tok.Ident:
          nodes.push(text(this.s.string()));
          break;
        case Tok.EOF:
          return nodes;
        case Tok.Lbrack:
          this.exprStart = this.s.start;
          nodes.push(this.parseFunc());
          break;
        default:
          throw new ParseFailure(ERR_BAD_SUBSTITUTION);
      }
    }
  }

  private parseFunc(): Node {
    const s = this.s;
    s.escapeChars = ESC_ALL;
    if (s.peek() === HASH) return this.parseLenFunc();

    s.accept = acceptIdent;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_PARSE_VARIABLE_NAME);
    const name = s.string();

    switch (s.peek()) {
      case COLON:
        return this.parseDefaultOrSubstr(name);
      case EQUAL:
        return this.parseDefaultFunc(name);
      case COMMA:
      case CARET:
        return this.parseCasingFunc(name);
      case SLASH:
        return this.parseReplaceFunc(name);
      case HASH:
        return this.parseRemoveFunc(name, acceptHashFunc);
      case PERCENT:
        return this.parseRemoveFunc(name, acceptPercentFunc);
    }

    s.accept = acceptIdent;
    s.mode = SCAN_RBRACK;
    if (s.scan() === Tok.Rbrack) return { kind: 'func', param: name, name: '', args: [] };
    throw new ParseFailure(ERR_MISSING_CLOSING_BRACE);
  }

  private parseParam(accept: Accept, mode: number): Node {
    const s = this.s;
    s.accept = accept;
    s.mode = mode | SCAN_LBRACK;
    switch (s.scan()) {
      case Tok.Lbrack:
        return this.parseFunc();
      case Tok.Ident:
      case Tok.Rbrack:
        return text(s.string());
      default:
        throw new ParseFailure(ERR_PARSE_FUNC_SUBSTITUTION);
    }
  }

  private parseDefaultOrSubstr(name: string): Node {
    const s = this.s;
    s.read();
    const r = s.peek();
    s.unread();
    if (r === EQUAL || r === MINUS || r === QUESTION || r === PLUS) return this.parseDefaultFunc(name);
    return this.parseSubstrFunc(name);
  }

  private newFunc(param: string, accept: Accept, err: string): FuncNode {
    const s = this.s;
    s.accept = accept;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(err);
    return { kind: 'func', param, name: s.string(), args: [] };
  }

  private parseSubstrFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(name, acceptOneColon, ERR_BAD_SUBSTITUTION);
    node.args.push(this.parseParam(rejectColonClose, SCAN_IDENT));
    s.accept = acceptColon;
    s.mode = SCAN_IDENT | SCAN_RBRACK;
    switch (s.scan()) {
      case Tok.Rbrack:
        return node;
      case Tok.Ident:
        break;
      default:
        throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    }
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    this.consumeRbrack();
    return node;
  }

  private parseRemoveFunc(name: string, accept: Accept): Node {
    const node = this.newFunc(name, accept, ERR_BAD_SUBSTITUTION);
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    this.consumeRbrack();
    return node;
  }

  private parseReplaceFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(name, acceptReplaceFunc, ERR_BAD_SUBSTITUTION);
    // An empty pattern (${v/#/x}) is recorded as "" so evaluation still sees two arguments.
    if (s.peek() === SLASH) node.args.push(text(''));
    else node.args.push(this.parseParam(acceptNotSlash, SCAN_IDENT | SCAN_ESCAPE));

    s.accept = acceptSlash;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);

    if (s.peek() === RBRACE) {
      this.consumeRbrack();
      return node;
    }
    node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT | SCAN_ESCAPE));
    this.consumeRbrack();
    return node;
  }

  private parseDefaultFunc(name: string): Node {
    const s = this.s;
    const node = this.newFunc(
      name,
      s.peek() === EQUAL ? acceptOneEqual : acceptDefaultFunc,
      ERR_PARSE_DEFAULT_FUNCTION,
    );
    for (;;) {
      if (s.peek() === RBRACE) {
        this.consumeRbrack();
        return node;
      }
      node.args.push(this.parseParam(acceptNotClosing, SCAN_IDENT));
    }
  }

  private parseCasingFunc(name: string): Node {
    const node = this.newFunc(name, acceptCasingFunc, ERR_BAD_SUBSTITUTION);
    this.consumeRbrack();
    return node;
  }

  private parseLenFunc(): Node {
    const s = this.s;
    s.accept = acceptOneHash;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    const fname = s.string();
    s.accept = acceptIdent;
    s.mode = SCAN_IDENT;
    if (s.scan() !== Tok.Ident) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
    const node: FuncNode = { kind: 'func', param: s.string(), name: fname, args: [] };
    this.consumeRbrack();
    return node;
  }

  private consumeRbrack(): void {
    this.s.mode = SCAN_RBRACK;
    if (this.s.scan() !== Tok.Rbrack) throw new ParseFailure(ERR_BAD_SUBSTITUTION);
  }
}

// ---------------------------------------------------------------------------------------
// String functions (port of funcs.go, Go string semantics)
// ---------------------------------------------------------------------------------------

type SubstituteFunc = (s: string, args: string[]) => string;

/** Go's strconv.Atoi: optional sign, decimal digits, int64 range; `undefined` on error. */
function atoi(s: string): number | undefined {
  if (!/^[+-]?[0-9]+$/.test(s)) return undefined;
  const n = BigInt(s);
  if (n > 9223372036854775807n || n < -9223372036854775808n) return undefined;
  return Number(n);
}

/** Go maps one rune to one rune; JS may expand (ß -> SS, İ -> i̇). */
function mapRune(ch: string, upper: boolean): string {
  const m = upper ? ch.toUpperCase() : ch.toLowerCase();
  if (m.length === ch.length || Array.from(m).length === 1) return m;
  // No one-rune mapping: keep the letter when upper-casing, take the base letter otherwise.
  return upper ? ch : String.fromCodePoint(m.codePointAt(0) as number);
}

function mapRunes(s: string, upper: boolean): string {
  // ASCII fast path, as in Go.
  let ascii = true;
  for (let i = 0; i < s.length && ascii; i++) ascii = s.charCodeAt(i) < 0x80;
  if (ascii) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) out += mapRune(ch, upper);
  return out;
}

function mapFirstRune(s: string, upper: boolean): string {
  if (s === '') return s;
  const first = String.fromCodePoint(s.codePointAt(0) as number);
  return mapRune(first, upper) + s.slice(first.length);
}

const toLen: SubstituteFunc = (s) => String(utf8(s).length);
const toLower: SubstituteFunc = (s) => mapRunes(s, false);
const toUpper: SubstituteFunc = (s) => mapRunes(s, true);
const toLowerFirst: SubstituteFunc = (s) => mapFirstRune(s, false);
const toUpperFirst: SubstituteFunc = (s) => mapFirstRune(s, true);
const toDefault: SubstituteFunc = (s, args) => (s.length === 0 && args.length > 0 ? args.join('') : s);

const toSubstr: SubstituteFunc = (s, args) => {
  if (args.length === 0) return s;
  let pos = atoi(args[0]);
  if (pos === undefined) return s;
  const b = utf8(s);
  const n = b.length;
  if (pos < 0) {
    pos = n + pos;
    if (pos < 0) pos = 0;
  }
  if (args.length === 1) return pos < n ? fromUtf8(b.subarray(pos)) : '';
  const length = atoi(args[1]);
  if (length === undefined) return s;
  if (length < 0) {
    const end = n + length;
    if (end < pos) return '';
    return fromUtf8(b.subarray(pos, end));
  }
  if (pos + length >= n) return pos < n ? fromUtf8(b.subarray(pos)) : '';
  return fromUtf8(b.subarray(pos, pos + length));
};

/** Go's strings.Replace (n < 0: all), including its behaviour for an empty `old`. */
function goReplace(s: string, old: string, repl: string, n: number): string {
  if (old === repl || n === 0) return s;
  if (old === '') {
    const runes = Array.from(s);
    const max = n < 0 ? runes.length + 1 : Math.min(n, runes.length + 1);
    let out = '';
    for (let i = 0; i < runes.length; i++) out += (i < max ? repl : '') + runes[i];
    return out + (runes.length < max ? repl : '');
  }
  if (n < 0) return s.split(old).join(repl);
  let out = '';
  let start = 0;
  for (let i = 0; i < n; i++) {
    const j = s.indexOf(old, start);
    if (j < 0) break;
    out += s.slice(start, j) + repl;
    start = j + old.length;
  }
  return out + s.slice(start);
}

const replaceAll: SubstituteFunc = (s, args) =>
  args.length === 0 ? s : goReplace(s, args[0], args.length === 1 ? '' : args[1], -1);
const replaceFirst: SubstituteFunc = (s, args) =>
  args.length === 0 ? s : goReplace(s, args[0], args.length === 1 ? '' : args[1], 1);
const replacePrefix: SubstituteFunc = (s, args) => {
  if (args.length !== 2) return s;
  return s.startsWith(args[0]) ? goReplace(s, args[0], args[1], 1) : s;
};
const replaceSuffix: SubstituteFunc = (s, args) => {
  if (args.length !== 2) return s;
  return s.endsWith(args[0]) ? s.slice(0, s.length - args[0].length) + args[1] : s;
};

const reverse = (s: string): string => Array.from(s).reverse().join('');

function trimShortest(s: string, pattern: string): string {
  const b = utf8(s);
  const p = utf8(pattern);
  let shortest = 0;
  for (let i = 0; i < b.length; i++) {
    const m = globMatch(p, b.subarray(0, b.length - i));
    if (m === 'error') return s;
    if (m) shortest = b.length - i;
  }
  return shortest > 0 ? fromUtf8(b.subarray(shortest)) : s;
}

function trimLongest(s: string, pattern: string): string {
  const b = utf8(s);
  const p = utf8(pattern);
  for (let i = 0; i < b.length; i++) {
    const m = globMatch(p, b.subarray(0, b.length - i));
    if (m === 'error') return s;
    if (m) return fromUtf8(b.subarray(b.length - i));
  }
  return s;
}

const trimShortestPrefix: SubstituteFunc = (s, args) => (args.length ? trimShortest(s, args[0]) : s);
const trimLongestPrefix: SubstituteFunc = (s, args) => (args.length ? trimLongest(s, args[0]) : s);
const trimShortestSuffix: SubstituteFunc = (s, args) =>
  args.length ? reverse(trimShortest(reverse(s), reverse(args[0]))) : s;
const trimLongestSuffix: SubstituteFunc = (s, args) =>
  args.length ? reverse(trimLongest(reverse(s), reverse(args[0]))) : s;

function lookupFunc(name: string, nargs: number): SubstituteFunc {
  switch (name) {
    case ',':
      return toLowerFirst;
    case ',,':
      return toLower;
    case '^':
      return toUpperFirst;
    case '^^':
      return toUpper;
    case '#':
      return nargs === 0 ? toLen : trimShortestPrefix;
    case '##':
      return trimLongestPrefix;
    case '%':
      return trimShortestSuffix;
    case '%%':
      return trimLongestSuffix;
    case ':':
      return toSubstr;
    case '/#':
      return replacePrefix;
    case '/%':
      return replaceSuffix;
    case '/':
      return replaceFirst;
    case '//':
      return replaceAll;
    default:
      // '=', ':=', ':-', ':?', ':+' and any other operator spelling (e.g. ',^').
      return toDefault;
  }
}

/** Operators that tolerate an unset variable in strict mode. */
function isDefaultOp(name: string): boolean {
  switch (name) {
    case '-':
    case '+':
    case '=':
    case '?':
    case ':-':
    case ':+':
    case ':=':
    case ':?':
      return true;
    default:
      return false;
  }
}

// ---------------------------------------------------------------------------------------
// Glob matching (port of envsubst/path/match.go: Go's path.Match with `*`/`?` matching `/`)
// ---------------------------------------------------------------------------------------

const STAR = 0x2a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;

function scanChunk(pattern: Uint8Array): [boolean, Uint8Array, Uint8Array] {
  let star = false;
  while (pattern.length > 0 && pattern[0] === STAR) {
    pattern = pattern.subarray(1);
    star = true;
  }
  let inrange = false;
  let i = 0;
  scan: for (; i < pattern.length; i++) {
    switch (pattern[i]) {
      case BACKSLASH:
        if (i + 1 < pattern.length) i++;
        break;
      case LBRACKET:
        inrange = true;
        break;
      case RBRACKET:
        inrange = false;
        break;
      case STAR:
        if (!inrange) break scan;
        break;
    }
  }
  return [star, pattern.subarray(0, i), pattern.subarray(i)];
}

interface ChunkResult {
  rest: Uint8Array;
  ok: boolean;
  err: boolean;
}
const EMPTY = new Uint8Array(0);
const NO_MATCH: ChunkResult = { rest: EMPTY, ok: false, err: false };
const BAD_PATTERN: ChunkResult = { rest: EMPTY, ok: false, err: true };

/** Go's getEsc: a possibly escaped character of a class, or `undefined` on a bad pattern. */
function getEsc(chunk: Uint8Array): [number, Uint8Array] | undefined {
  if (chunk.length === 0 || chunk[0] === MINUS || chunk[0] === RBRACKET) return undefined;
  if (chunk[0] === BACKSLASH) {
    chunk = chunk.subarray(1);
    if (chunk.length === 0) return undefined;
  }
  const [r, n] = decodeRune(chunk, 0);
  if (r === RUNE_ERROR && n === 1) return undefined;
  const rest = chunk.subarray(n);
  if (rest.length === 0) return undefined;
  return [r, rest];
}

function matchChunk(chunk: Uint8Array, s: Uint8Array): ChunkResult {
  while (chunk.length > 0) {
    if (s.length === 0) return NO_MATCH;
    switch (chunk[0]) {
      case LBRACKET: {
        const [r, n] = decodeRune(s, 0);
        s = s.subarray(n);
        chunk = chunk.subarray(1);
        let notNegated = true;
        if (chunk.length > 0 && chunk[0] === CARET) {
          notNegated = false;
          chunk = chunk.subarray(1);
        }
        let match = false;
        let nrange = 0;
        for (;;) {
          if (chunk.length > 0 && chunk[0] === RBRACKET && nrange > 0) {
            chunk = chunk.subarray(1);
            break;
          }
          const lo = getEsc(chunk);
          if (!lo) return BAD_PATTERN;
          let hi: number = lo[0];
          chunk = lo[1];
          if (chunk[0] === MINUS) {
            const h = getEsc(chunk.subarray(1));
            if (!h) return BAD_PATTERN;
            hi = h[0];
            chunk = h[1];
          }
          if (lo[0] <= r && r <= hi) match = true;
          nrange++;
        }
        if (match !== notNegated) return NO_MATCH;
        break;
      }
      case QUESTION: {
        const [, n] = decodeRune(s, 0);
        s = s.subarray(n);
        chunk = chunk.subarray(1);
        break;
      }
      case BACKSLASH:
        chunk = chunk.subarray(1);
        if (chunk.length === 0) return BAD_PATTERN;
        if (chunk[0] !== s[0]) return NO_MATCH;
        s = s.subarray(1);
        chunk = chunk.subarray(1);
        break;
      default:
        if (chunk[0] !== s[0]) return NO_MATCH;
        s = s.subarray(1);
        chunk = chunk.subarray(1);
    }
  }
  return { rest: s, ok: true, err: false };
}

/** Whether all of `name` matches `pattern`; 'error' for a malformed pattern. */
function globMatch(pattern: Uint8Array, name: Uint8Array): boolean | 'error' {
  outer: while (pattern.length > 0) {
    const [star, chunk, rest] = scanChunk(pattern);
    pattern = rest;
    if (star && chunk.length === 0) return true;
    const first = matchChunk(chunk, name);
    if (first.ok && (first.rest.length === 0 || pattern.length > 0)) {
      name = first.rest;
      continue;
    }
    if (first.err) return 'error';
    if (star) {
      for (let i = 0; i < name.length; i++) {
        const m = matchChunk(chunk, name.subarray(i + 1));
        if (m.ok) {
          if (pattern.length === 0 && m.rest.length > 0) continue;
          name = m.rest;
          continue outer;
        }
        if (m.err) return 'error';
      }
    }
    return false;
  }
  return name.length === 0;
}

// ---------------------------------------------------------------------------------------
// Evaluation (port of template.go)
// ---------------------------------------------------------------------------------------

class UnsetFailure extends Error {
  constructor(readonly variable: string) {
    super(`variable not set (strict mode): ${JSON.stringify(variable)}`);
  }
}

type Mapper = (name: string) => [string, boolean];

/** Evaluate a node. With `unset`, record strict-mode failures there instead of throwing. */
function evalNode(node: Node, mapper: Mapper, unset?: string[]): string {
  if (node.kind === 'text') return node.value;
  const args: string[] = [];
  for (const a of node.args) args.push(evalNode(a, mapper, unset));
  const [v, exists] = mapper(node.param);
  if (!exists && !isDefaultOp(node.name)) {
    if (!unset) throw new UnsetFailure(node.param);
    if (!unset.includes(node.param)) unset.push(node.param);
  }
  return lookupFunc(node.name, args.length)(v, args);
}

function toMapper(lookup: VariableLookup, strict: boolean): Mapper {
  const get: (name: string) => string | undefined =
    typeof lookup === 'function' ? lookup : (name) => (Object.hasOwn(lookup, name) ? lookup[name] : undefined);
  if (strict) {
    return (name) => {
      const v = get(name);
      return v === undefined ? ['', false] : [v, true];
    };
  }
  return (name) => [get(name) ?? '', true];
}

const UNSET_HINT =
  'define the variable in spec.postBuild.substitute or a spec.postBuild.substituteFrom ' +
  'ConfigMap/Secret, give it a default (${VAR:=default}), write $${VAR} for a literal ${VAR}, ' +
  'or opt the object out with the label or annotation kustomize.toolkit.fluxcd.io/substitute: disabled';

/**
 * Expand every `${...}` in `text` as Flux's postBuild substitution does. `lookup` gives a
 * variable's value, `undefined` meaning "not set". Throws EnvsubstError on a malformed
 * expression, or (strict) on a variable that is not set and has no default operator.
 */
export function envsubst(text: string, lookup: VariableLookup, opts: EnvsubstOptions): string {
  // Fast path: without a '$' (or a NUL, which the engine treats as end of text) nothing changes.
  if (!text.includes('$') && !text.includes('\0')) return text;
  const src = utf8(text);
  const scanner = new Scanner(src);
  const parser = new Parser(scanner);
  let nodes: Node[];
  try {
    nodes = parser.parse();
  } catch (err) {
    if (err instanceof ParseFailure || err instanceof RangeError) {
      const message = err instanceof ParseFailure ? err.message : `${ERR_BAD_SUBSTITUTION}: expressions nested too deeply`;
      const snippet = snippetAt(src, parser.exprStart < 0 ? 0 : scanner.physicalPos(parser.exprStart));
      throw new EnvsubstError('parse', message, {
        snippet,
        hint:
          'fix the ${...} expression (supported: ${var}, ${var:=default}, ${var:-default}, ${#var}, ' +
          '${var^^}, ${var:offset:length}, ${var#pattern}, ${var/old/new}, ...) or write $${ for a literal ${',
      });
    }
    throw err;
  }
  const mapper = toMapper(lookup, opts.strict);
  let out = '';
  try {
    for (const n of nodes) out += evalNode(n, mapper);
  } catch (err) {
    if (err instanceof UnsetFailure) {
      throw new EnvsubstError('unset', err.message, { variable: err.variable, hint: UNSET_HINT });
    }
    if (err instanceof RangeError) {
      throw new EnvsubstError('parse', `${ERR_BAD_SUBSTITUTION}: expressions nested too deeply`);
    }
    throw err;
  }
  return out;
}

/**
 * Every variable that strict mode would reject in `text`, in order of appearance (the first
 * is the one `envsubst` reports). Empty when the text does not parse.
 */
export function findUnsetVariables(text: string, lookup: VariableLookup): string[] {
  if (!text.includes('$')) return [];
  let nodes: Node[];
  try {
    nodes = new Parser(new Scanner(utf8(text))).parse();
  } catch {
    return [];
  }
  const mapper = toMapper(lookup, true);
  const unset: string[] = [];
  try {
    for (const n of nodes) evalNode(n, mapper, unset);
  } catch {
    // only a stack overflow on absurd nesting can land here; report what we found
  }
  return unset;
}

function snippetAt(src: Uint8Array, at: number): string {
  const s = fromUtf8(src.subarray(at, Math.min(src.length, at + 240)));
  const line = s.split('\n', 1)[0];
  const cps = Array.from(line);
  return cps.length > 60 ? cps.slice(0, 60).join('') + '...' : line;
}
