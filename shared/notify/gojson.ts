/**
 * Go `encoding/json` output for the payloads Flux's notifiers send, so the bytes a
 * provider receives (and an HMAC over them) are the ones Flux would send: struct fields
 * in declaration order (`S([...])`, omitempty applied by the caller with `omit`), maps
 * with sorted keys, `json.Marshal`'s HTML-safe escaping of `<`, `>`, `&` (and U+2028,
 * U+2029), or none of it for encoders with `SetEscapeHTML(false)` (go-github).
 */

/** A Go struct value: fields in declaration order. */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

/** Marks a field to leave out (Go's omitempty on an empty value). */
export const OMIT: unique symbol = Symbol('omit');

/** A struct from `[name, value]` pairs; pairs whose value is OMIT are left out. */
export function S(fields: ReadonlyArray<readonly [string, unknown]>): GoStruct {
  return new GoStruct(fields.filter(([, v]) => v !== OMIT));
}

/** Go's omitempty: OMIT for '', false, 0, nil, and empty maps/slices; the value otherwise. */
export function omitEmpty<T>(v: T): T | typeof OMIT {
  if (v === undefined || v === null || v === '' || v === false || v === 0) return OMIT;
  if (Array.isArray(v) && v.length === 0) return OMIT;
  if (typeof v === 'object' && !(v instanceof GoStruct) && !Array.isArray(v) && Object.keys(v as object).length === 0) return OMIT;
  return v;
}

function quote(s: string, html: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || (html && (c === 0x3c || c === 0x3e || c === 0x26)) || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else out += '\\ufffd';
    } else if (c >= 0xdc00 && c <= 0xdfff) out += '\\ufffd';
    else out += s[i];
  }
  return out + '"';
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

function encode(v: unknown, html: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof GoStruct) return '{' + v.fields.map(([k, x]) => `${quote(k, html)}:${encode(x, html)}`).join(',') + '}';
  if (Array.isArray(v)) return '[' + v.map((x) => encode(x, html)).join(',') + ']';
  switch (typeof v) {
    case 'string':
      return quote(v, html);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
      return String(v);
    case 'object': {
      const entries = Object.entries(v as Record<string, unknown>).sort((a, b) => byteCompare(a[0], b[0]));
      return '{' + entries.map(([k, x]) => `${quote(k, html)}:${encode(x, html)}`).join(',') + '}';
    }
    default:
      throw new Error(`json: unsupported type: ${typeof v}`);
  }
}

/** json.Marshal(v). */
export function goMarshal(v: unknown): string {
  return encode(v, true);
}

/** What go-github's request encoder writes: no HTML escaping, a trailing newline. */
export function goEncodeNoEscape(v: unknown): string {
  return encode(v, false) + '\n';
}
