/**
 * Go `encoding/json` output, for digests Flux computes over Go structs (`json.Encoder`:
 * HTML-safe escaping, sorted map keys, struct fields in declaration order, a trailing
 * newline). Plain JS objects are Go maps; `GoStruct` is a struct with ordered fields.
 */

/** A Go struct value: fields in declaration order (omitempty already applied). */
export class GoStruct {
  constructor(readonly fields: readonly (readonly [string, unknown])[]) {}
}

/** Go's omitempty: false, 0, '', nil, and empty slices/maps are left out. */
function isGoEmpty(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (v instanceof GoStruct) return false;
  if (typeof v === 'object') return Object.keys(v as object).length === 0;
  return false;
}

/**
 * Builds a GoStruct from `[name, value, omitempty?]` triples; `omitempty` drops empty
 * values, `omitzero` only undefined (a zero struct/time the caller mapped to undefined).
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

function quote(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += '\\u' + c.toString(16).padStart(4, '0');
    } else if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i] + s[i + 1];
        i++;
      } else {
        out += '\\ufffd';
      }
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      out += '\\ufffd';
    } else {
      out += s[i];
    }
  }
  return out + '"';
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Go json.Marshal of `v` (no trailing newline). */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (v instanceof GoStruct) return '{' + v.fields.map(([k, x]) => `${quote(k)}:${goJson(x)}`).join(',') + '}';
  if (Array.isArray(v)) return '[' + v.map(goJson).join(',') + ']';
  switch (typeof v) {
    case 'string':
      return quote(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(v)) throw new Error(`json: unsupported value: ${v}`);
      return String(v);
    case 'bigint':
      return v.toString();
    case 'object': {
      const entries = Object.entries(v as Record<string, unknown>).sort((a, b) => byteCompare(a[0], b[0]));
      return '{' + entries.map(([k, x]) => `${quote(k)}:${goJson(x)}`).join(',') + '}';
    }
    default:
      throw new Error(`json: unsupported type: ${typeof v}`);
  }
}

/** What json.NewEncoder(w).Encode(v) writes: goJson(v) plus a newline. */
export function goJsonEncode(v: unknown): string {
  return goJson(v) + '\n';
}

/** Go json.MarshalIndent(v, "", indent). */
export function goJsonIndent(v: unknown, indent = '  ', level = 0): string {
  const pad = indent.repeat(level + 1);
  const end = indent.repeat(level);
  if (v instanceof GoStruct) {
    if (v.fields.length === 0) return '{}';
    return '{\n' + v.fields.map(([k, x]) => `${pad}${quote(k)}: ${goJsonIndent(x, indent, level + 1)}`).join(',\n') + `\n${end}}`;
  }
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return '[\n' + v.map((x) => pad + goJsonIndent(x, indent, level + 1)).join(',\n') + `\n${end}]`;
  }
  if (v !== null && typeof v === 'object') {
    const entries = Object.entries(v as Record<string, unknown>).sort((a, b) => byteCompare(a[0], b[0]));
    if (entries.length === 0) return '{}';
    return '{\n' + entries.map(([k, x]) => `${pad}${quote(k)}: ${goJsonIndent(x, indent, level + 1)}`).join(',\n') + `\n${end}}`;
  }
  return goJson(v);
}
