/**
 * Keeps Secret values out of text that leaves the engine: API server error messages,
 * diffs, anything that is stored, logged or printed.
 *
 * Two layers. By value: every value under a Secret's `data` and `stringData` (any shape:
 * strings, numbers, booleans, nested maps and lists) is masked in every form the API
 * server may echo it in: as is, base64-encoded or decoded, JSON-escaped (once, twice, Go's
 * HTML-safe escaping), Go-quoted (`%q`), as Go prints a number (`%v`: `1e+06`) or bytes
 * (`[104 117]`, `[]byte{0x68, 0x75}`, hex). By shape, for errors about a Secret: the spots
 * where the API server echoes a value it was given (`{Value:...}`, `Invalid value: ...`,
 * json-iterator's `...|context|...`) are masked whatever is in them, so a value the server
 * transformed or cut in half does not get through either.
 */
import { splitApiVersion } from '../kube/object.js';
import { trimEnd } from '../util/trim.js';

/** What a masked value is replaced with (as Flux's diff does). */
export const MASK = '***';

/** A text transformation that masks secret values. */
export type Masker = (text: string) => string;

/** Forms shorter than this are masked only as a whole token (not inside a word). */
const MIN_SUBSTRING = 4;
/** Byte-list forms are made for values up to this size (longer ones are never echoed whole). */
const MAX_BYTE_FORMS = 4096;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** True for a core-group Secret, any version (a LIST item without apiVersion included). */
export function isSecretObject(obj: unknown): boolean {
  if (!isRecord(obj) || obj.kind !== 'Secret') return false;
  const av = obj.apiVersion;
  return av === undefined || (typeof av === 'string' && splitApiVersion(av).group === '');
}

type Encoding = 'base64' | 'plain';

/** Leaves (and nested map keys) of a value, with the encoding the top-level field implies. */
function collect(v: unknown, enc: Encoding, out: Array<{ value: unknown; enc: Encoding }>, depth = 0): void {
  if (v === null || v === undefined || depth > 32) return;
  if (Array.isArray(v)) {
    for (const x of v) collect(x, enc, out, depth + 1);
    return;
  }
  if (isRecord(v)) {
    for (const [k, x] of Object.entries(v)) {
      out.push({ value: k, enc: 'plain' });
      collect(x, enc, out, depth + 1);
    }
    return;
  }
  out.push({ value: v, enc });
}

/** The values of the Secrets among `objects`: everything under `data` and `stringData` but their top-level keys. */
export function secretValues(objects: Iterable<unknown>): unknown[] {
  const out: Array<{ value: unknown; enc: Encoding }> = [];
  for (const o of objects) {
    if (!isSecretObject(o)) continue;
    const r = o as Record<string, unknown>;
    for (const [field, enc] of [
      ['data', 'base64'],
      ['stringData', 'plain'],
    ] as const) {
      const d = r[field];
      if (isRecord(d)) for (const v of Object.values(d)) collect(v, enc, out);
      else collect(d, enc, out);
    }
  }
  return out.map((x) => (x.enc === 'base64' && typeof x.value === 'string' ? new Base64Value(x.value) : x.value));
}

/** A `data` value: base64 of the secret bytes. */
class Base64Value {
  constructor(readonly text: string) {}
}

// ---- the forms a value is echoed in ----

function jsonInner(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

/** Go's encoding/json escapes <, >, & and U+2028/U+2029 too. */
function goJsonInner(s: string): string {
  return jsonInner(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Go's strconv.Quote without the quotes (close enough: control bytes as \xNN, \a \v too). */
function goQuoteInner(s: string): string {
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += '\\x' + c.toString(16).padStart(2, '0');
    else if ((c >= 0x80 && c < 0xa0) || c === 0xfeff) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += ch;
  }
  return out;
}

function stringForms(s: string, add: (f: string) => void): void {
  add(s);
  const j = jsonInner(s);
  add(j);
  add(goJsonInner(s));
  add(goQuoteInner(s));
  add(jsonInner(j)); // JSON in a JSON string (an annotation, a quoted message)
  add(goQuoteInner(j));
}

function bytesForms(b: Buffer, add: (f: string) => void): void {
  if (b.length > MAX_BYTE_FORMS) return;
  const bytes = [...b];
  add(bytes.join(' ')); // Go %v of []byte
  add(bytes.map((x) => '0x' + x.toString(16)).join(', ')); // Go %#v of []byte
  add(b.toString('hex'));
}

function isUtf8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

function decodeBase64(s: string): Buffer | undefined {
  const t = s.replace(/\s+/g, '');
  if (!t || !/^[A-Za-z0-9+/]*={0,2}$/.test(t)) return undefined;
  const b = Buffer.from(t, 'base64');
  return trimEnd(b.toString('base64'), '=') === trimEnd(t, '=') ? b : undefined;
}

/** Go's %e / %g exponent: at least two digits (`e+06`). */
function goExp(e: number): string {
  const a = Math.abs(e);
  return (e < 0 ? 'e-' : 'e+') + (a < 10 ? '0' + a : String(a));
}

function numberForms(n: number, add: (f: string) => void): void {
  if (!Number.isFinite(n)) return;
  add(String(n));
  if (Number.isInteger(n)) add(BigInt(n).toString());
  const [mant, expStr] = n.toExponential().split('e');
  const exp = Number(expStr);
  add(mant + goExp(exp)); // Go %v / %g of a float64 (1.234e+12)
  add(mant + 'e' + (exp < 0 ? '' : '+') + exp); // JS exponent form
  add(mant.replace('.', '') + 'e' + exp);
  // Plain decimal (Go's 'f' with the shortest digits).
  const neg = mant.startsWith('-');
  const digits = mant.replace('-', '').replace('.', '');
  let fixed: string;
  if (exp >= 0) {
    const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
    const frac = digits.slice(exp + 1);
    fixed = frac ? `${int}.${frac}` : int;
  } else fixed = `0.${'0'.repeat(-exp - 1)}${digits}`;
  add((neg ? '-' : '') + fixed);
}

/** Every form in which the API server (or our own JSON) may show one of `values`. */
function formsOf(values: Iterable<unknown>): Set<string> {
  const forms = new Set<string>();
  const add = (f: string) => {
    if (!f) return;
    if (f.length < MIN_SUBSTRING && !/[A-Za-z0-9]/.test(f)) return; // "," or " ": masking it would mask the text
    forms.add(f);
  };
  for (const v of values) {
    if (v instanceof Base64Value) {
      stringForms(v.text, add);
      add(trimEnd(v.text, '='));
      const b = decodeBase64(v.text);
      if (b) {
        bytesForms(b, add);
        if (isUtf8(b)) stringForms(b.toString('utf8'), add);
      }
    } else if (typeof v === 'string') {
      stringForms(v, add);
      const b = Buffer.from(v, 'utf8');
      const b64 = b.toString('base64');
      add(b64);
      add(trimEnd(b64, '='));
      bytesForms(b, add);
    } else if (typeof v === 'number') numberForms(v, add);
    else if (typeof v === 'bigint') add(v.toString());
    else if (typeof v === 'boolean') add(String(v));
  }
  return forms;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

/**
 * A masker for raw values (strings, numbers, booleans, nested maps/lists): each is masked
 * in all the forms above. Values shorter than 4 characters are masked only as whole tokens.
 */
export function valueMasker(values: Iterable<unknown>): Masker {
  const forms = [...formsOf(values)].sort((a, b) => b.length - a.length);
  if (!forms.length) return (text) => text;
  const long = forms.filter((f) => f.length >= MIN_SUBSTRING).map(escapeRegExp);
  const short = forms.filter((f) => f.length < MIN_SUBSTRING).map(escapeRegExp);
  const parts: string[] = [];
  if (long.length) parts.push(`(?:${long.join('|')})`);
  if (short.length) parts.push(`(?<![A-Za-z0-9])(?:${short.join('|')})(?![A-Za-z0-9])`);
  const re = new RegExp(parts.join('|'), 'g');
  return (text) => (text ? text.replace(re, MASK) : text);
}

/** A masker for the values of the Secrets among `objects` (others are ignored). Compile once, use often. */
export function secretMasker(objects: Iterable<unknown>): Masker {
  return valueMasker(secretValues(objects));
}

/**
 * Masks, in `text`, every value of the Secrets among `objects` (core-group `Secret`s;
 * everything under `data` and `stringData`, whatever its shape), in every form the API
 * server or a JSON rendering may show it. Other objects are ignored.
 */
export function maskSecretValues(text: string, objects: Iterable<unknown>): string {
  return secretMasker(objects)(text);
}

/** Index just past a Go-quoted string starting at `i` (a `"`), or -1. */
function endOfQuoted(text: string, i: number): number {
  for (let j = i + 1; j < text.length; j++) {
    if (text[j] === '\\') j++;
    else if (text[j] === '"') return j + 1;
  }
  return -1;
}

/** Index of the end of a Go %v/%#v value starting at `i`: up to the next `: ` or `, ` at depth 0, or the end. */
function endOfGoValue(text: string, i: number): number {
  let depth = 0;
  for (let j = i; j < text.length; j++) {
    const c = text[j];
    if (c === '"') {
      const e = endOfQuoted(text, j);
      if (e < 0) return text.length;
      j = e - 1;
    } else if (c === '{' || c === '[' || c === '(') depth++;
    else if (c === '}' || c === ']' || c === ')') {
      if (depth === 0) return j;
      depth--;
    } else if (depth === 0 && (c === ':' || c === ',' || c === ';') && (text[j + 1] === ' ' || j + 1 === text.length)) return j;
    else if (depth === 0 && c === '\n') return j;
  }
  return text.length;
}

/**
 * Where each `expected [A-Za-z ]+, got ` match ends, as `matchAll` of that regex finds them, in
 * linear time: the regex rescans the whole run of letters and spaces from every `expected `
 * in it (quadratic: 400,000 characters of `expected expected ...` took 18 s).
 */
function* expectedGotEnds(text: string): Generator<number> {
  const isClass = (c: number) => c === 0x20 || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
  for (let i = text.indexOf('expected '); i >= 0; ) {
    let j = i + 9;
    while (j < text.length && isClass(text.charCodeAt(j))) j++;
    if (j > i + 9 && text.startsWith(', got ', j)) {
      yield j + 6;
      i = text.indexOf('expected ', j + 6);
    } else {
      // Every `expected ` inside this run ends at the same place, and fails the same way.
      i = text.indexOf('expected ', Math.max(j, i + 1));
    }
  }
}

/** Field paths whose echoed value is not secret (names, type): kept readable. */
const PLAIN_PATH = /^(?:metadata\.|\.?metadata\b|type$|\.type$|immutable$|\.immutable$|kind$|apiVersion$)/;

/**
 * Masks the spots where the API server echoes a value it was given, whatever the value:
 * `{Value:...}` and `expected string, got ...` (structured-merge-diff), `Invalid value: ...`
 * (field validation; names and `type` are kept), and json-iterator's `...|context|...`
 * decode snippets. For errors
 * about a Secret: catches values the server transformed or cut that no value list matches.
 */
export function maskEchoedValues(text: string): string {
  if (!text) return text;
  let out = text.replace(/\.\.\.\|[\s\S]*?\|\.\.\./g, `...|${MASK}|...`);
  // {Value:...} with balanced braces.
  let from = 0;
  for (;;) {
    const i = out.indexOf('{Value:', from);
    if (i < 0) break;
    const start = i + '{Value:'.length;
    let depth = 1;
    let j = start;
    for (; j < out.length && depth > 0; j++) {
      if (out[j] === '"') {
        const e = endOfQuoted(out, j);
        if (e < 0) {
          j = out.length;
          break;
        }
        j = e - 1;
      } else if (out[j] === '{') depth++;
      else if (out[j] === '}') depth--;
    }
    const end = depth === 0 ? j - 1 : out.length;
    out = out.slice(0, start) + MASK + out.slice(end);
    from = start + MASK.length;
  }
  // structured-merge-diff's "expected string, got &{...}" (the value as Go prints it).
  for (const start of [...expectedGotEnds(out)].reverse()) {
    if (out.startsWith(MASK, start)) continue;
    out = out.slice(0, start) + MASK + out.slice(endOfGoValue(out, start));
  }
  // Invalid value: X
  const marker = 'Invalid value: ';
  from = 0;
  for (;;) {
    const i = out.indexOf(marker, from);
    if (i < 0) break;
    const start = i + marker.length;
    const before = out.slice(0, i).replace(/:\s*$/, '');
    const path = before.slice(Math.max(before.lastIndexOf(' '), before.lastIndexOf('\n')) + 1);
    if (PLAIN_PATH.test(path)) {
      from = start;
      continue;
    }
    let end: number;
    if (out[start] === '"') {
      const e = endOfQuoted(out, start);
      end = e < 0 ? out.length : e;
      out = out.slice(0, start) + `"${MASK}"` + out.slice(end);
      from = start + MASK.length + 2;
    } else {
      end = endOfGoValue(out, start);
      out = out.slice(0, start) + MASK + out.slice(end);
      from = start + MASK.length;
    }
  }
  return out;
}

/**
 * Masks an error in place, with its `cause` chain: message, stack, hint, the API server's
 * Status causes (`causes[].message/field`) and per-object `failures[].reason`. Returns it.
 */
export function maskError<E>(err: E, mask: Masker): E {
  const seen = new Set<unknown>();
  let cur: unknown = err;
  while (cur instanceof Error && !seen.has(cur)) {
    seen.add(cur);
    const e = cur as Error & { hint?: unknown; causes?: unknown; failures?: unknown };
    if (typeof e.stack === 'string') e.stack = mask(e.stack);
    e.message = mask(e.message);
    if (typeof e.hint === 'string') Object.defineProperty(e, 'hint', { value: mask(e.hint), enumerable: true, configurable: true });
    for (const list of [e.causes, e.failures]) {
      if (!Array.isArray(list)) continue;
      for (const c of list) {
        if (!isRecord(c)) continue;
        for (const k of ['message', 'field', 'reason']) if (typeof c[k] === 'string') c[k] = mask(c[k]);
      }
    }
    if (e instanceof AggregateError) for (const x of e.errors) maskError(x, mask);
    cur = e.cause;
  }
  return err;
}

/** Masks secret values anywhere in a JSON-like value (every string leaf), returning a copy. */
export function maskStrings<T>(value: T, mask: Masker, depth = 0): T {
  if (typeof value === 'string') return mask(value) as T;
  if (depth > 64 || value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map((v) => maskStrings(v, mask, depth + 1)) as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[k] = maskStrings(v, mask, depth + 1);
  return out as T;
}
