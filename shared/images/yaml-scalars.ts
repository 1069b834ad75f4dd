/**
 * How go-yaml would write a string into a scalar the setters change, so the text we put in
 * a file is what image-automation-controller (kyaml) would produce for that one value:
 *
 * - kyaml's FormatNonStringStyle: a value that a YAML 1.1 parser would not read as a string
 *   (`1.10`, `true`, `1e3`, `2024-01-10`, `~`) is double-quoted when it was plain;
 * - go-yaml's emitter: a value that cannot be plain (empty, `: ` or ` #` inside, leading
 *   indicators, surrounding spaces) becomes single-quoted, or double-quoted when it must;
 * - an existing quoting style is kept (single quotes become double only when needed).
 */
import { parseDocument, isScalar } from 'yaml';

/** The scalar styles we edit in place. */
export type ScalarStyle = 'plain' | 'single' | 'double';

const BOOL_1_1 = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'n', 'N', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'false', 'False', 'FALSE', 'on', 'On', 'ON', 'off', 'Off', 'OFF']);
const NULL_1_1 = new Set(['~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOAT_1_1 = new Set(['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF', '-.inf', '-.Inf', '-.INF', '.nan', '.NaN', '.NAN']);
const YAML_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const GO_INT_BASE0 = /^[-+]?(?:0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|0[0-7]*|[1-9][0-9]*)$/;
const TIMESTAMP = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:(?:[Tt]| +)(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?)?$/;

function validTimestamp(s: string): boolean {
  const m = TIMESTAMP.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (mo < 1 || mo > 12 || d < 1) return false;
  const days = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > days) return false;
  if (m[4] !== undefined && (Number(m[4]) > 23 || Number(m[5]) > 59 || Number(m[6]) > 59)) return false;
  return true;
}

/** go-yaml v2 `resolve` of a plain scalar: true when it is not a string (bool, null, int, float, timestamp). */
function plainIsNonString11(s: string): boolean {
  if (BOOL_1_1.has(s) || NULL_1_1.has(s) || SPECIAL_FLOAT_1_1.has(s)) return true;
  if (!/^[-+.0-9]/.test(s)) return false;
  if (validTimestamp(s)) return true;
  const plain = s.replaceAll('_', '');
  // Integers (Go ParseInt/ParseUint, base 0; the few too large for 64 bits are floats then), floats.
  if (GO_INT_BASE0.test(plain)) return true;
  return YAML_FLOAT.test(plain) && Number.isFinite(Number(plain));
}

/**
 * kyaml's IsValueNonString: true when a YAML 1.1 parser reads `value`, as a whole document,
 * as something other than a string (a number, bool, null, timestamp, map or list).
 */
export function isYaml11NonString(value: string): boolean {
  if (value === '' || value.includes('\n')) return false;
  const doc = parseDocument(value, { version: '1.1' });
  if (doc.errors.length > 0) return false;
  const c = doc.contents;
  if (c === null) return false;
  if (!isScalar(c)) return c.constructor.name !== 'Alias';
  if (c.type !== 'PLAIN') return false;
  if (c.tag) return !/str$/.test(c.tag);
  const r = c.range;
  const raw = r ? value.slice(r[0], r[1]) : String(c.value);
  return plainIsNonString11(raw);
}

/** True when YAML 1.2 (go-yaml v3's resolver) reads the plain text as something other than a string. */
function plainIsNonString12(s: string): boolean {
  if (s === '' || NULL_1_1.has(s) || ['true', 'True', 'TRUE', 'false', 'False', 'FALSE'].includes(s)) return true;
  if (SPECIAL_FLOAT_1_1.has(s)) return true;
  const plain = s.replaceAll('_', '');
  if (/^[-+]?(?:0|[1-9][0-9]*|0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)$/.test(plain)) return true;
  if (YAML_FLOAT.test(plain)) return true;
  return validTimestamp(s);
}

/** C0 controls, DEL, NEL and the Unicode line separators: never in a plain or single-quoted scalar. */
function hasControl(s: string): boolean {
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || c === 0x85 || c === 0x2028 || c === 0x2029) return true;
  }
  return false;
}

const FIRST_INDICATORS = new Set(['#', ',', '[', ']', '{', '}', '&', '*', '!', '|', '>', "'", '"', '%', '@', '`']);

/** go-yaml's emitter analysis: may `value` be written as a plain scalar in block context? */
export function plainAllowed(value: string): boolean {
  if (value === '' || value !== value.trim() || hasControl(value)) return false;
  if (value.startsWith('---') || value.startsWith('...')) return false;
  const ws = (i: number) => i >= value.length || value[i] === ' ' || value[i] === '\t';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (i === 0) {
      if (FIRST_INDICATORS.has(c)) return false;
      if ((c === '?' || c === ':' || c === '-') && ws(1)) return false;
    } else if (c === ':' && ws(i + 1)) return false;
    else if (c === '#' && (value[i - 1] === ' ' || value[i - 1] === '\t')) return false;
  }
  return true;
}

function doubleQuoted(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0').toUpperCase()}`;
    else out += ch;
  }
  return out + '"';
}

function singleAllowed(value: string): boolean {
  return !hasControl(value);
}

/**
 * The text for a scalar that held `style` and now holds `value`, as kyaml plus go-yaml would
 * write it. `wasNull` is true when the old plain scalar was a YAML null (kyaml leaves those
 * unquoted).
 */
export function formatScalar(value: string, style: ScalarStyle, wasNull = false): string {
  if (style === 'double') return doubleQuoted(value);
  if (style === 'single') return singleAllowed(value) ? `'${value.replaceAll("'", "''")}'` : doubleQuoted(value);
  if (isYaml11NonString(value)) return wasNull && plainAllowed(value) ? value : doubleQuoted(value);
  if (plainIsNonString12(value)) return doubleQuoted(value);
  if (plainAllowed(value)) return value;
  return singleAllowed(value) ? `'${value.replaceAll("'", "''")}'` : doubleQuoted(value);
}
