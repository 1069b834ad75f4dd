/**
 * The JSON and binary stores (getsops/sops `stores/json`): a top-level object read token by
 * token (key order and duplicate keys kept, integers that fit int64 become ints, other
 * numbers floats), written back as Go's `encoding/json` would (HTML-safe escapes, tab
 * indentation, trailing newline). The binary store reads the same JSON envelope and emits the
 * plaintext of its `data` key.
 */
import { SopsError } from './errors.js';
import { formatFloatJSON, parseGoFloat } from './go-strconv.js';
import { Branch, Comment, SopsTime, type TreeItem, type TreeValue } from './types.js';

const MAX_DEPTH = 10000;

class JsonParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  private error(msg: string): SopsError {
    return new SopsError('SopsFormatInvalid', `Could not unmarshal input data: ${msg} at offset ${this.pos}`);
  }

  private ws(): void {
    const t = this.text;
    while (this.pos < t.length) {
      const c = t.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.pos++;
      else break;
    }
  }

  parseTop(): Branch {
    this.ws();
    const c = this.text[this.pos];
    if (c === undefined) throw this.error('unexpected end of JSON input');
    if (c === '{') {
      this.pos++;
      return this.object(1);
    }
    if (c === '[') {
      throw new SopsError('SopsFormatInvalid',
        "Could not unmarshal input data: SOPS only supports JSON files with a top-level object (starting with '{'), not arrays or other types");
    }
    this.value(1);
    throw new SopsError('SopsFormatInvalid',
      "Could not unmarshal input data: SOPS only supports JSON files with a top-level object (starting with '{'), not other JSON types");
  }

  private object(depth: number): Branch {
    if (depth > MAX_DEPTH) throw this.error('exceeded max depth');
    const items: TreeItem[] = [];
    this.ws();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return new Branch(items);
    }
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') throw this.error('invalid character looking for beginning of object key string');
      const key = this.string();
      this.ws();
      if (this.text[this.pos] !== ':') throw this.error("invalid character after object key, expected ':'");
      this.pos++;
      const value = this.value(depth);
      items.push({ key, value });
      this.ws();
      const c = this.text[this.pos++];
      if (c === ',') continue;
      if (c === '}') return new Branch(items);
      this.pos--;
      throw this.error("invalid character after object key:value pair, expected ',' or '}'");
    }
  }

  private array(depth: number): TreeValue[] {
    if (depth > MAX_DEPTH) throw this.error('exceeded max depth');
    const out: TreeValue[] = [];
    this.ws();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return out;
    }
    for (;;) {
      out.push(this.value(depth));
      this.ws();
      const c = this.text[this.pos++];
      if (c === ',') continue;
      if (c === ']') return out;
      this.pos--;
      throw this.error("invalid character after array element, expected ',' or ']'");
    }
  }

  private value(depth: number): TreeValue {
    this.ws();
    const t = this.text;
    const c = t[this.pos];
    if (c === '{') {
      this.pos++;
      return this.object(depth + 1);
    }
    if (c === '[') {
      this.pos++;
      return this.array(depth + 1);
    }
    if (c === '"') return this.string();
    if (t.startsWith('true', this.pos)) { this.pos += 4; return true; }
    if (t.startsWith('false', this.pos)) { this.pos += 5; return false; }
    if (t.startsWith('null', this.pos)) { this.pos += 4; return null; }
    const m = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(t.slice(this.pos, this.pos + 400));
    if (!m || m[0] === '') throw this.error('invalid character looking for beginning of value');
    this.pos += m[0].length;
    const num = m[0];
    if (!m[2] && !m[3]) {
      const v = BigInt(num);
      if (v <= (1n << 63n) - 1n && v >= -(1n << 63n)) return v;
    }
    const f = parseGoFloat(num);
    if (f === undefined) throw this.error('number out of range');
    return f;
  }

  private string(): string {
    const t = this.text;
    this.pos++; // opening quote
    let out = '';
    let start = this.pos;
    for (;;) {
      if (this.pos >= t.length) throw this.error('unexpected end of JSON input');
      const code = t.charCodeAt(this.pos);
      if (code === 0x22) {
        out += t.slice(start, this.pos);
        this.pos++;
        return out;
      }
      if (code < 0x20) throw this.error('invalid character in string literal');
      if (code === 0x5c) {
        out += t.slice(start, this.pos);
        const e = t[this.pos + 1];
        this.pos += 2;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            const hex = t.slice(this.pos, this.pos + 4);
            if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('invalid character in \\u hexadecimal character escape');
            out += String.fromCharCode(parseInt(hex, 16));
            this.pos += 4;
            break;
          }
          default:
            throw this.error('invalid character in string escape code');
        }
        start = this.pos;
        continue;
      }
      this.pos++;
    }
  }
}

/** Replaces lone UTF-16 surrogates with U+FFFD, as Go's decoder does for invalid sequences. */
function wellFormed(s: string): string {
  return LONE_SURROGATE.test(s) ? s.replace(LONE_SURROGATE_G, '\uFFFD') : s;
}
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const LONE_SURROGATE_G = new RegExp(LONE_SURROGATE.source, 'g');

/** Parses a sops JSON document (top-level object) into a branch. Throws SopsError. */
export function parseJsonBranch(bytes: Uint8Array): Branch {
  const text = Buffer.from(bytes).toString('utf8');
  const fix = (v: TreeValue): TreeValue => {
    if (typeof v === 'string') return wellFormed(v);
    if (v instanceof Branch) return new Branch(v.items.map((i) => ({ key: typeof i.key === 'string' ? wellFormed(i.key) : i.key, value: fix(i.value) })));
    if (Array.isArray(v)) return v.map(fix);
    return v;
  };
  return fix(new JsonParser(text).parseTop()) as Branch;
}

const HEX = '0123456789abcdef';

/** Go `json.Marshal` of a string (HTML-safe: `<`, `>`, `&`, U+2028 and U+2029 escaped). */
export function goJsonString(s: string): string {
  let out = '"';
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let rep: string | undefined;
    if (c === 0x22) rep = '\\"';
    else if (c === 0x5c) rep = '\\\\';
    else if (c === 0x0a) rep = '\\n';
    else if (c === 0x0d) rep = '\\r';
    else if (c === 0x09) rep = '\\t';
    else if (c === 0x08) rep = '\\b';
    else if (c === 0x0c) rep = '\\f';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) rep = '\\u00' + HEX[c >> 4] + HEX[c & 0xf];
    else if (c === 0x2028 || c === 0x2029) rep = c === 0x2028 ? '\\u2028' : '\\u2029';
    if (rep !== undefined) {
      out += s.slice(start, i) + rep;
      start = i + 1;
    }
  }
  return out + s.slice(start) + '"';
}

function encode(v: TreeValue, depth: number, parts: string[]): void {
  const tabs = (n: number) => '\t'.repeat(n);
  if (v instanceof Branch) {
    const items = v.items.filter((i) => !(i.key instanceof Comment));
    if (items.length === 0) { parts.push('{}'); return; }
    parts.push('{\n');
    items.forEach((item, i) => {
      parts.push(tabs(depth + 1), goJsonString(item.key as string), ': ');
      encode(item.value, depth + 1, parts);
      parts.push(i < items.length - 1 ? ',\n' : '\n');
    });
    parts.push(tabs(depth), '}');
    return;
  }
  if (Array.isArray(v)) {
    const items = v.filter((x) => !(x instanceof Comment));
    if (items.length === 0) { parts.push('[]'); return; }
    parts.push('[\n');
    items.forEach((x, i) => {
      parts.push(tabs(depth + 1));
      encode(x, depth + 1, parts);
      parts.push(i < items.length - 1 ? ',\n' : '\n');
    });
    parts.push(tabs(depth), ']');
    return;
  }
  if (v === null) parts.push('null');
  else if (typeof v === 'string') parts.push(goJsonString(v));
  else if (typeof v === 'bigint') parts.push(v.toString());
  else if (typeof v === 'boolean') parts.push(v ? 'true' : 'false');
  else if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new SopsError('SopsFormatInvalid', `Error marshaling to json: json: unsupported value: ${Number.isNaN(v) ? 'NaN' : v > 0 ? '+Inf' : '-Inf'}`);
    parts.push(formatFloatJSON(v));
  } else if (v instanceof SopsTime) parts.push(goJsonString(v.text));
  else if (v instanceof Uint8Array) parts.push(goJsonString(Buffer.from(v).toString('base64')));
  else if (v instanceof Comment) parts.push(goJsonString(v.value));
}

/** Writes a branch as sops's JSON store does (tab-indented, newline-terminated). */
export function emitJsonBranch(branch: Branch): Buffer {
  const parts: string[] = [];
  encode(branch, 0, parts);
  parts.push('\n');
  return Buffer.from(parts.join(''), 'utf8');
}

/** The binary store's plain output: the `data` string of the single document. */
export function emitBinary(branches: readonly Branch[]): Buffer {
  if (branches.length !== 1) throw new SopsError('SopsFormatInvalid', 'error emitting binary store: there must be exactly one tree branch');
  for (const item of branches[0].items) {
    if (item.key === 'data') {
      if (typeof item.value === 'string') return Buffer.from(item.value, 'utf8');
      // A `str` value whose plaintext is not UTF-8 (binary files) is kept as bytes.
      if (item.value instanceof Uint8Array) return Buffer.from(item.value);
      throw new SopsError('SopsFormatInvalid', "error emitting binary store: 'data' key in tree does not have a string value");
    }
  }
  throw new SopsError('SopsFormatInvalid', 'error emitting binary store: no binary data found in tree');
}
