/**
 * The YAML round trip of Flux's postBuild substitution. Flux serializes each object with
 * sigs.k8s.io/yaml (go-yaml v2), substitutes in the text, and reads it back with
 * `yaml.YAMLToJSON` (go-yaml v2, YAML 1.1 resolution). So an unquoted `${REPLICAS}` that
 * becomes `3` turns into the number 3, `yes`/`on`/`off` into booleans, `0755` into 493, and
 * an empty value into null. This module reproduces that typing with the `yaml` package:
 *  - serialize: strings that go-yaml v2 would read as something else are quoted, everything
 *    else is emitted as the `yaml` package does (plain where possible, `|` for multi-line
 *    strings, no line folding, no anchors);
 *  - parse: scalars are read as text (failsafe schema) and resolved with go-yaml v2's rules
 *    (plain scalars only; quoted and block scalars stay strings); map keys are turned into
 *    strings the way sigs.k8s.io/yaml does (`true`, `16` for `0x10`, ...).
 *
 * Deviations (documented, rare): `<<` merge keys are kept as ordinary keys; go-yaml's choice
 * between a `|` block and a double-quoted string for multi-line strings with trailing spaces
 * is not reproduced; integers beyond 2^53 lose precision (JS numbers); if the substituted
 * text holds several YAML documents only the first is used (as go-yaml does).
 *
 * Aliases in the substituted text are expanded under go-yaml's alias budget (the one
 * YAMLToJSON applies in Flux): a few hundred bytes of variables cannot become megabytes of
 * objects; the read fails with "yaml: document contains excessive aliasing" instead.
 */
import YAML, { isAlias, isMap, isScalar, isSeq } from 'yaml';
import type { Alias, Node as YamlNode, Scalar } from 'yaml';
import { AliasBudget } from './yaml-analysis.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** A failure to read the substituted text back, in go-yaml's words where possible. */
export class YamlRoundTripError extends Error {
  /** 1-based line in the serialized object, when known. */
  readonly line?: number;
  /** A stable code from the parser (e.g. BAD_INDENT), when known. */
  readonly code?: string;
  constructor(message: string, opts: { line?: number; code?: string } = {}) {
    super(message);
    this.name = 'YamlRoundTripError';
    this.line = opts.line;
    this.code = opts.code;
  }
}

// ---------------------------------------------------------------------------------------
// go-yaml v2 scalar resolution (resolve.go) for plain scalars
// ---------------------------------------------------------------------------------------

type Resolved =
  | { kind: 'str'; value: string }
  | { kind: 'null'; value: null }
  | { kind: 'bool'; value: boolean }
  | { kind: 'int'; value: number }
  | { kind: 'uint'; value: number }
  | { kind: 'float'; value: number };

const RESOLVE_MAP = new Map<string, Resolved>();
for (const s of ['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']) {
  RESOLVE_MAP.set(s, { kind: 'bool', value: true });
}
for (const s of ['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']) {
  RESOLVE_MAP.set(s, { kind: 'bool', value: false });
}
for (const s of ['', '~', 'null', 'Null', 'NULL']) RESOLVE_MAP.set(s, { kind: 'null', value: null });
for (const s of ['.nan', '.NaN', '.NAN']) RESOLVE_MAP.set(s, { kind: 'float', value: NaN });
for (const s of ['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF']) {
  RESOLVE_MAP.set(s, { kind: 'float', value: Infinity });
}
for (const s of ['-.inf', '-.Inf', '-.INF']) RESOLVE_MAP.set(s, { kind: 'float', value: -Infinity });

const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const DECIMAL_FLOAT = /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/;
const INT64_MAX = 9223372036854775807n;
const UINT64_MAX = 18446744073709551615n;

function hint(c: string): string {
  if (c === '+' || c === '-') return 'S';
  if (c >= '0' && c <= '9') return 'D';
  if ('yYnNtTfFoO~'.includes(c)) return 'M';
  if (c === '.') return '.';
  return '';
}

/** Go's strconv.ParseUint(s, 0, 64) without underscores; `undefined` on error. */
function goParseUintBase0(s: string): bigint | undefined {
  if (s === '') return undefined;
  let base = 10;
  if (s[0] === '0') {
    const p = s.length >= 3 ? s[1].toLowerCase() : '';
    if (p === 'b') base = 2;
    else if (p === 'o') base = 8;
    else if (p === 'x') base = 16;
    else base = 8;
    s = base === 8 && p !== 'o' ? s.slice(1) : s.slice(2);
  }
  let n = 0n;
  const b = BigInt(base);
  for (const ch of s) {
    const d = parseInt(ch, 36);
    if (Number.isNaN(d) || d >= base) return undefined;
    n = n * b + BigInt(d);
    if (n > UINT64_MAX) return undefined;
  }
  return n;
}

/** Go's strconv.ParseInt(s, 0, 64); `undefined` on error. */
function goParseIntBase0(s: string): bigint | undefined {
  if (s === '') return undefined;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    neg = s[0] === '-';
    s = s.slice(1);
  }
  const u = goParseUintBase0(s);
  if (u === undefined) return undefined;
  if (neg ? u > INT64_MAX + 1n : u > INT64_MAX) return undefined;
  return neg ? -u : u;
}

/** Go's strconv.ParseFloat for decimal syntax; `undefined` on syntax or range error. */
function goParseFloat(s: string): number | undefined {
  if (!DECIMAL_FLOAT.test(s)) return undefined;
  const f = Number(s);
  return Number.isFinite(f) ? f : undefined;
}

/** How go-yaml v2 reads an untagged plain scalar. */
export function resolvePlainV2(input: string): Resolved {
  const known = RESOLVE_MAP.get(input);
  const h = input === '' ? 'N' : hint(input[0]);
  if (h === '') return { kind: 'str', value: input };
  if (known) return known;
  if (h === '.') {
    const f = goParseFloat(input);
    if (f !== undefined) return { kind: 'float', value: f };
  } else if (h === 'D' || h === 'S') {
    const plain = input.replaceAll('_', '');
    const i = goParseIntBase0(plain);
    if (i !== undefined) return { kind: 'int', value: Number(i) };
    if (plain[0] !== '+' && plain[0] !== '-') {
      const u = goParseUintBase0(plain);
      if (u !== undefined) return { kind: 'uint', value: Number(u) };
    }
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = goParseFloat(plain);
      if (f !== undefined) return { kind: 'float', value: f };
    }
  }
  return { kind: 'str', value: input };
}

// ---------------------------------------------------------------------------------------
// Serialize
// ---------------------------------------------------------------------------------------

/**
 * YAML text of `obj` such that reading it back with `parseSubstitutedYaml` gives `obj`
 * again, and such that `${...}` in strings sits in plain (unquoted) scalars wherever
 * go-yaml v2 would put it there too.
 */
export function serializeForSubstitution(obj: unknown): string {
  const doc = new YAML.Document(obj, { aliasDuplicateObjects: false });
  YAML.visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'string' && resolvePlainV2(node.value).kind !== 'str') {
        node.type = 'QUOTE_DOUBLE';
      }
    },
  });
  return doc.toString({ lineWidth: 0, blockQuote: 'literal', singleQuote: true });
}

// ---------------------------------------------------------------------------------------
// Parse
// ---------------------------------------------------------------------------------------

const TAG = 'tag:yaml.org,2002:';

function scalarValue(node: Scalar): Resolved {
  const raw = node.value === null || node.value === undefined ? '' : String(node.value);
  const tag = node.tag;
  if (!tag || tag === '!') {
    return !tag && node.type === 'PLAIN' ? resolvePlainV2(raw) : { kind: 'str', value: raw };
  }
  switch (tag) {
    case TAG + 'str':
    case TAG + 'timestamp':
      return { kind: 'str', value: raw };
    case TAG + 'binary':
      return { kind: 'str', value: Buffer.from(raw.replace(/\s+/g, ''), 'base64').toString('utf8') };
    case TAG + 'null':
      return resolvePlainV2(raw).kind === 'null' ? { kind: 'null', value: null } : { kind: 'str', value: raw };
    case TAG + 'int':
    case TAG + 'float':
    case TAG + 'bool': {
      const want = tag.slice(TAG.length);
      const r = resolvePlainV2(raw);
      if (want === 'float' && (r.kind === 'int' || r.kind === 'uint' || r.kind === 'float')) {
        return { kind: 'float', value: r.value };
      }
      const got = r.kind === 'uint' ? 'int' : r.kind;
      if (got !== want) {
        throw new YamlRoundTripError(`yaml: cannot decode !!${got} \`${raw}\` as a !!${want}`);
      }
      return r;
    }
    default:
      // Tags go-yaml does not resolve keep the text.
      return { kind: 'str', value: raw };
  }
}

function jsonValue(r: Resolved): unknown {
  if (r.kind === 'float' && !Number.isFinite(r.value)) {
    const v = Number.isNaN(r.value) ? 'NaN' : r.value > 0 ? '+Inf' : '-Inf';
    throw new YamlRoundTripError(`json: unsupported value: ${v}`);
  }
  return r.value;
}

/** Go's strconv.FormatFloat(f, 'g', -1, 32) as go-yaml and sigs.k8s.io/yaml use for keys. */
function formatFloat32G(f: number): string {
  if (Number.isNaN(f)) return '.nan';
  if (f === Infinity) return '.inf';
  if (f === -Infinity) return '-.inf';
  const f32 = Math.fround(f);
  if (f32 === 0) return Object.is(f32, -0) ? '-0' : '0';
  let digits = 1;
  while (digits < 9 && Math.fround(Number(f32.toPrecision(digits))) !== f32) digits++;
  const [mant, expStr] = f32.toExponential(digits - 1).split('e');
  const exp = Number(expStr);
  const neg = mant.startsWith('-');
  const ds = mant.replace('-', '').replace('.', '');
  if (exp < -4 || exp >= 6) {
    const m = ds.length > 1 ? `${ds[0]}.${ds.slice(1)}` : ds;
    const e = Math.abs(exp) < 10 ? `0${Math.abs(exp)}` : String(Math.abs(exp));
    return `${neg ? '-' : ''}${m}e${exp < 0 ? '-' : '+'}${e}`;
  }
  let out: string;
  if (exp < 0) out = `0.${'0'.repeat(-exp - 1)}${ds}`;
  else if (ds.length <= exp + 1) out = ds + '0'.repeat(exp + 1 - ds.length);
  else out = `${ds.slice(0, exp + 1)}.${ds.slice(exp + 1)}`;
  return (neg ? '-' : '') + out;
}

/**
 * Decoding state: alias targets found in one linear pass (the yaml package's
 * Alias.resolve walks the whole document per alias), the nodes on the current path (an
 * alias to one of them is a cycle), and go-yaml's alias-expansion budget.
 */
interface Decoder {
  targets: Map<Alias, YamlNode | undefined>;
  seen: Set<YamlNode>;
  budget: AliasBudget;
}

/** Registers every alias's target: the latest anchor of its name before it, in document order. */
function resolveAnchors(root: unknown): Map<Alias, YamlNode | undefined> {
  const anchors = new Map<string, YamlNode>();
  const targets = new Map<Alias, YamlNode | undefined>();
  const stack: unknown[] = [root];
  // Depth-first, children in document order (pushed in reverse onto the stack).
  while (stack.length) {
    const node = stack.pop();
    if (node === null || node === undefined) continue;
    if (isAlias(node)) {
      targets.set(node, anchors.get(node.source));
      continue;
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) anchors.set(anchor, node as YamlNode);
    if (isMap(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]!.value, node.items[i]!.key);
    } else if (isSeq(node)) {
      for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
    }
  }
  return targets;
}

const EXCESSIVE_ALIASING = 'yaml: document contains excessive aliasing';

/** Counts one decoded node against go-yaml's budget; fails as go-yaml does when it is exceeded. */
function decoded(d: Decoder): void {
  if (d.budget.decode()) throw new YamlRoundTripError(EXCESSIVE_ALIASING, { code: 'EXCESSIVE_ALIASING' });
}

function keyString(node: unknown, d: Decoder): string {
  decoded(d);
  let n = node;
  if (isAlias(n)) {
    n = resolveAlias(n, d);
    d.budget.enter();
    decoded(d);
    d.budget.leave();
  }
  if (n === null || n === undefined) throw new YamlRoundTripError('unsupported map key of type: <nil>');
  if (!isScalar(n)) throw new YamlRoundTripError('unsupported map key: a mapping or sequence cannot be a key');
  const r = scalarValue(n);
  switch (r.kind) {
    case 'str':
      return r.value;
    case 'int':
      return String(r.value);
    case 'bool':
      return r.value ? 'true' : 'false';
    case 'float':
      return formatFloat32G(r.value);
    case 'uint':
      throw new YamlRoundTripError(`unsupported map key of type: uint64, key: ${r.value}`);
    case 'null':
      throw new YamlRoundTripError('unsupported map key of type: <nil>');
  }
}

function resolveAlias(node: Alias, d: Decoder): YamlNode {
  const target = d.targets.get(node);
  if (!target) throw new YamlRoundTripError(`yaml: unknown anchor '${node.source}' referenced`);
  if (d.seen.has(target)) throw new YamlRoundTripError(`yaml: anchor '${node.source}' value contains itself`);
  return target;
}

function toValue(node: unknown, d: Decoder): unknown {
  decoded(d);
  if (node === null || node === undefined) return null;
  if (isAlias(node)) {
    const target = resolveAlias(node, d);
    d.seen.add(target);
    d.budget.enter();
    try {
      return toValue(target, d);
    } finally {
      d.budget.leave();
      d.seen.delete(target);
    }
  }
  if (isScalar(node)) return jsonValue(scalarValue(node));
  if (isSeq(node)) {
    d.seen.add(node);
    const out = node.items.map((item) => toValue(item, d));
    d.seen.delete(node);
    return out;
  }
  if (isMap(node)) {
    d.seen.add(node);
    const out: Record<string, unknown> = {};
    for (const pair of node.items) {
      const k = keyString(pair.key, d);
      const v = toValue(pair.value, d);
      if (k === '__proto__') {
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      } else {
        out[k] = v; // a repeated key: the last one wins, as with go-yaml's non-strict decoding
      }
    }
    d.seen.delete(node);
    return out;
  }
  return null;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Read substituted YAML text back into a JSON-compatible value, typed as Flux would. */
export function parseSubstitutedYaml(text: string): unknown {
  // Substituted values can nest the object deeper than the file did.
  const deep = yamlNestingProblem(text);
  if (deep) throw new YamlRoundTripError(`yaml: ${deep}`, { line: 1, code: 'NESTING' });
  const parsed = YAML.parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: false, prettyErrors: false });
  const docs = Array.isArray(parsed) ? parsed : [];
  if (docs.length === 0) return null;
  const doc = docs[0];
  const err = doc.errors[0];
  if (err) {
    const line = lineOf(text, err.pos[0]);
    throw new YamlRoundTripError(`yaml: line ${line}: ${err.message.split('\n', 1)[0]}`, { line, code: err.code });
  }
  return toValue(doc.contents, { targets: resolveAnchors(doc.contents), seen: new Set(), budget: new AliasBudget() });
}
