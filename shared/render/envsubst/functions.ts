/**
 * The envsubst string functions: a port of github.com/fluxcd/pkg/envsubst funcs.go with Go
 * string semantics (byte offsets, one-rune case mapping, Go's strings.Replace).
 */
import { globMatch } from './match.js';
import { fromUtf8, utf8 } from './utf8.js';

/** One operator: the variable's value and the evaluated arguments in, the result out. */
export type SubstituteFunc = (s: string, args: string[]) => string;

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

/** The function for operator `name` (with `nargs` arguments); unknown spellings are the default operator. */
export function lookupFunc(name: string, nargs: number): SubstituteFunc {
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
export function isDefaultOp(name: string): boolean {
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
