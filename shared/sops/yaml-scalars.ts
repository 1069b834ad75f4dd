/**
 * YAML scalars as go-yaml v3 (the library sops uses) resolves them when decoding into
 * `interface{}`: null, bool, int (int64; larger unsigned values are uint64, which sops cannot
 * walk), float, timestamp (time.Time) or string. The MAC hashes plain leaves in their Go
 * form, so this resolution must match go-yaml's, not YAML 1.2 core's: `0777` is 511, `08` is
 * the float 8, `1_000` is 1000, `2024-01-01` is a timestamp.
 */
import { SopsError } from './errors.js';
import { decodeStdBase64 } from './base64.js';
import { parseGoFloat, parseGoIntBase0 } from './go-strconv.js';
import { yamlTimestamp } from './go-time.js';
import { SopsTime, type TreeValue } from './types.js';

const LONG_PREFIX = 'tag:yaml.org,2002:';

/** go-yaml's short form of a tag (`tag:yaml.org,2002:int` is `!!int`). */
export function shortTag(tag: string | undefined): string {
  if (!tag) return '';
  return tag.startsWith(LONG_PREFIX) ? '!!' + tag.slice(LONG_PREFIX.length) : tag;
}

const MAP: Record<string, TreeValue> = {
  true: true, True: true, TRUE: true,
  false: false, False: false, FALSE: false,
  '': null, '~': null, null: null, Null: null, NULL: null,
  '.nan': NaN, '.NaN': NaN, '.NAN': NaN,
  '.inf': Infinity, '.Inf': Infinity, '.INF': Infinity,
  '+.inf': Infinity, '+.Inf': Infinity, '+.INF': Infinity,
  '-.inf': -Infinity, '-.Inf': -Infinity, '-.INF': -Infinity,
  '<<': '<<',
};
const MAP_TAG: Record<string, string> = {};
for (const [k, v] of Object.entries(MAP)) {
  MAP_TAG[k] = v === null ? '!!null' : typeof v === 'boolean' ? '!!bool' : typeof v === 'number' ? '!!float' : '!!merge';
}

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;

/** A resolved scalar: its go-yaml tag and value. `uint64` values are reported, not converted. */
export interface Resolved {
  tag: string;
  value: TreeValue;
  uint64?: boolean;
}

function hint(c: string | undefined): 'S' | 'D' | 'M' | '.' | 'N' | undefined {
  if (c === undefined) return 'N';
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return undefined;
}

/** go-yaml v3 `resolve(tag, in)` for an untagged or `!!`-tagged plain scalar. */
function resolvePlain(tag: string, text: string): Resolved {
  const h = hint(text[0]);
  if (h !== undefined && tag !== '!!str' && tag !== '!!binary') {
    if (Object.prototype.hasOwnProperty.call(MAP, text)) return { tag: MAP_TAG[text], value: MAP[text] };
    if (h === '.') {
      const f = parseGoFloat(text);
      if (f !== undefined) return { tag: '!!float', value: f };
    } else if (h === 'D' || h === 'S') {
      if (tag === '' || tag === '!!timestamp') {
        const t = yamlTimestamp(text);
        if (t !== undefined) return { tag: '!!timestamp', value: new SopsTime(t) };
      }
      const plain = text.replaceAll('_', '');
      const i = parseGoIntBase0(plain);
      if (i !== undefined) return { tag: '!!int', value: i };
      const u = parseGoIntBase0(plain, true);
      if (u !== undefined) return { tag: '!!int', value: u, uint64: true };
      if (YAML_STYLE_FLOAT.test(plain)) {
        const f = parseGoFloat(plain);
        if (f !== undefined) return { tag: '!!float', value: f };
      }
    }
  }
  return { tag: '!!str', value: text };
}

const RESOLVABLE = new Set(['', '!!str', '!!bool', '!!int', '!!float', '!!null', '!!timestamp']);

/**
 * Resolves a YAML scalar as go-yaml does: `quoted` is true for quoted and block scalars (an
 * "indicated string"), `tag` the explicit tag if any. Throws SopsError where go-yaml fails.
 */
export function resolveYamlScalar(text: string, quoted: boolean, rawTag: string | undefined): Resolved {
  let tag = shortTag(rawTag);
  if (tag === '!') tag = '';
  if (tag === '!!str' || (tag === '' && quoted)) return { tag: '!!str', value: text };
  if (tag === '!!binary') {
    const data = decodeStdBase64(text);
    if (!data) throw new SopsError('SopsFormatInvalid', 'Error unmarshaling input YAML: !!binary value contains invalid base64 data');
    return { tag: '!!binary', value: data.toString('utf8') };
  }
  if (!RESOLVABLE.has(tag)) return { tag, value: text };
  const r = resolvePlain(tag, text);
  if (tag === '' || tag === r.tag || tag === '!!str') return r;
  if (tag === '!!float' && r.tag === '!!int' && typeof r.value === 'bigint') return { tag: '!!float', value: Number(r.value) };
  throw new SopsError('SopsFormatInvalid', `Error unmarshaling input YAML: cannot decode a ${r.tag} value as a ${tag}`);
}

const OLD_BOOL = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF']);
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;

/** True when go-yaml writes this string quoted because plain text would read back as something else. */
export function mustQuoteString(s: string): boolean {
  if (resolvePlain('', s).tag !== '!!str') return true;
  return OLD_BOOL.has(s) || BASE60_FLOAT.test(s);
}
