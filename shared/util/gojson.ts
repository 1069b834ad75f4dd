/**
 * Go `encoding/json` output, for bytes Flux produces from Go values: digests over Go
 * structs (helm-controller, source-controller) and the payloads Flux's notifiers send (the
 * bytes a provider receives, and an HMAC over them). Struct fields in declaration order
 * (`GoStruct`), maps with sorted keys, `json.Marshal`'s HTML-safe escaping of `<`, `>`, `&`
 * (and U+2028, U+2029), or none of it for encoders with `SetEscapeHTML(false)`.
 */

/** A Go struct value: fields in declaration order (omitempty already applied). */
export class GoStruct {
  constructor(readonly fields: ReadonlyArray<readonly [string, unknown]>) {}
}

/** A json.RawMessage: JSON text written as it is (compact, already escaped as its producer chose). */
export class GoRawJson {
  constructor(readonly json: string) {}
}

/** Marks a field to leave out (Go's omitempty on an empty value). */
export const OMIT: unique symbol = Symbol('omit');

/** True for what Go's omitempty leaves out: false, 0, '', nil, and empty slices/maps. */
export function isGoEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof GoStruct) return false;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/** A struct from `[name, value]` pairs; pairs whose value is OMIT are left out. */
export function S(fields: ReadonlyArray<readonly [string, unknown]>): GoStruct {
  return new GoStruct(fields.filter(([, v]) => v !== OMIT));
}

/** Go's omitempty: OMIT for an empty value (isGoEmpty), the value otherwise. */
export function omitEmpty<T>(v: T): T | typeof OMIT {
  return isGoEmpty(v) ? OMIT : v;
}

/**
 * A struct from `[name, value, tag?]` triples: `omitempty` drops empty values, `omitzero`
 * only undefined (a zero struct/time the caller mapped to undefined); undefined is null.
 */
export function goStruct(fields: readonly (readonly [string, unknown, ('omitempty' | 'omitzero')?])[]): GoStruct {
  const kept: [string, unknown][] = [];
  for (const [name, value, tag] of fields) {
    if (tag === 'omitempty' && isGoEmpty(value)) continue;
    if (tag === 'omitzero' && value === undefined) continue;
    kept.push([name, value === undefined ? null : value]);
  }
  return new GoStruct(kept);
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

function sortedEntries(v: object): Array<[string, unknown]> {
  return Object.entries(v as Record<string, unknown>).sort((a, b) => byteCompare(a[0], b[0]));
}

function encode(v: unknown, html: boolean): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof GoStruct) return '{' + v.fields.map(([k, x]) => `${quote(k, html)}:${encode(x, html)}`).join(',') + '}';
  if (v instanceof GoRawJson) return v.json;
  if (Array.isArray(v)) return '[' + v.map((x) => encode(x, html)).join(',') + ']';
  switch (typeof v) {
    case 'string':
      return quote(v, html);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
      return String(v);
    case 'bigint':
      return v.toString();
    case 'object':
      return '{' + sortedEntries(v).map(([k, x]) => `${quote(k, html)}:${encode(x, html)}`).join(',') + '}';
    default:
      throw new Error(`json: unsupported type: ${typeof v}`);
  }
}

/** Go json.Marshal of `v` (no trailing newline). */
export function goJson(v: unknown): string {
  return encode(v, true);
}

/** json.Marshal(v) (the notifiers' name for goJson). */
export const goMarshal = goJson;

/** What json.NewEncoder(w).Encode(v) writes: goJson(v) plus a newline. */
export function goJsonEncode(v: unknown): string {
  return goJson(v) + '\n';
}

/** What go-github's request encoder writes: no HTML escaping, a trailing newline. */
export function goEncodeNoEscape(v: unknown): string {
  return encode(v, false) + '\n';
}

/** Go json.MarshalIndent(v, "", indent). */
export function goJsonIndent(v: unknown, indent = '  ', level = 0): string {
  const pad = indent.repeat(level + 1);
  const end = indent.repeat(level);
  if (v instanceof GoStruct) {
    if (v.fields.length === 0) return '{}';
    return '{\n' + v.fields.map(([k, x]) => `${pad}${quote(k, true)}: ${goJsonIndent(x, indent, level + 1)}`).join(',\n') + `\n${end}}`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return '[\n' + v.map((x) => pad + goJsonIndent(x, indent, level + 1)).join(',\n') + `\n${end}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = sortedEntries(v);
    if (entries.length === 0) return '{}';
    return '{\n' + entries.map(([k, x]) => `${pad}${quote(k, true)}: ${goJsonIndent(x, indent, level + 1)}`).join(',\n') + `\n${end}}`;
  }
  return goJson(v);
}
