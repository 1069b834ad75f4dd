/**
 * YAML the way Helm and Flux see it (Go, go-yaml v2 behind sigs.k8s.io/yaml):
 *
 * - `parseGoYaml` reads the first document with YAML 1.1 scalar resolution as go-yaml v2
 *   does (`yes`/`on`/`y` are booleans, `0x1F` and `017` are integers, timestamps stay
 *   strings, `<<` merge keys work, duplicate keys: the last one wins), then turns it into
 *   JSON values (numbers are float64, keys are strings) as sigs.k8s.io/yaml does.
 * - `encodeGoYaml` writes JSON values byte-for-byte as go-yaml v2's encoder would (block
 *   style, 2-space indent, sequences not indented under keys, plain/single/double/literal
 *   scalar choice and line folding at 80 columns), optionally with keys sorted the way
 *   fluxcd/pkg chartutil.SortMapSlice sorts them. Flux's values digest hashes this output.
 */
import { parseAllDocuments, isAlias, isMap, isPair, isScalar, isSeq, type Document, type Node as YamlNode } from 'yaml';
import { AliasBudget } from '../render/yaml-analysis.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** A YAML document could not be read (message in the style of sigs.k8s.io/yaml). */
export class GoYamlError extends Error {}

/** go-yaml's "document contains excessive aliasing": thrown without a line, as go-yaml reports it. */
class ExcessiveAliasing extends GoYamlError {}

/** Deepest nesting converted; go-yaml v3 refuses beyond 10000, and recursion this deep must end with a message, not a RangeError. */
const MAX_DEPTH = 5000;

const STR = 'str';
type Resolved = { tag: 'str' | 'null' | 'bool' | 'int' | 'float' | 'timestamp'; value: unknown };

const BOOL_TRUE = new Set(['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON']);
const BOOL_FALSE = new Set(['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF']);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const FLOAT_SPECIAL: Record<string, number> = {
  '.nan': NaN, '.NaN': NaN, '.NAN': NaN,
  '.inf': Infinity, '.Inf': Infinity, '.INF': Infinity,
  '+.inf': Infinity, '+.Inf': Infinity, '+.INF': Infinity,
  '-.inf': -Infinity, '-.Inf': -Infinity, '-.INF': -Infinity,
};
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const BASE60_FLOAT = /^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$/;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const UINT64_MAX = (1n << 64n) - 1n;

/** Go strconv.ParseInt(s, 0, 64) / ParseUint: the integer, or undefined when s is not one (or out of range). */
function goParseInt(s: string): bigint | undefined {
  const m = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)$/.exec(s);
  if (!m) return undefined;
  const body = m[2];
  let n: bigint;
  if (/^0[oO]/.test(body)) n = BigInt('0o' + body.slice(2));
  else if (/^0[0-7]+$/.test(body)) n = BigInt('0o' + body.slice(1));
  else n = BigInt(body);
  if (m[1] === '-') n = -n;
  if (n >= INT64_MIN && n <= INT64_MAX) return n;
  if (m[1] === '' && n <= UINT64_MAX) return n;
  return undefined;
}

function daysIn(month: number, year: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/** go-yaml v2 parseTimestamp with its four accepted layouts. */
function isGoTimestamp(s: string): boolean {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?:([Tt ])(\d{1,2}):(\d{1,2}):(\d{1,2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(s);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > daysIn(month, year)) return false;
  if (m[4] === undefined) return true;
  if (Number(m[5]) > 23 || Number(m[6]) > 59 || Number(m[7]) > 59) return false;
  // "2006-1-2 15:4:5.999999999" has no zone; the T/t layouts require one.
  if (m[4] === ' ') return m[9] === undefined;
  return m[9] !== undefined;
}

/** go-yaml v2 `resolve("", s)` for a plain scalar. */
export function resolvePlain(s: string): Resolved {
  const c = s.length === 0 ? 'N' : s[0];
  const hint = c === 'N' ? 'N' : c === '+' || c === '-' ? 'S' : c >= '0' && c <= '9' ? 'D' : 'yYnNtTfFoO~'.includes(c) ? 'M' : c === '.' ? '.' : '';
  if (!hint) return { tag: STR, value: s };
  if (BOOL_TRUE.has(s)) return { tag: 'bool', value: true };
  if (BOOL_FALSE.has(s)) return { tag: 'bool', value: false };
  if (NULLS.has(s)) return { tag: 'null', value: null };
  if (s in FLOAT_SPECIAL) return { tag: 'float', value: FLOAT_SPECIAL[s] };
  if (hint === '.') {
    if (/^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(s)) return { tag: 'float', value: Number(s) };
    return { tag: STR, value: s };
  }
  if (hint === 'D' || hint === 'S') {
    if (isGoTimestamp(s)) return { tag: 'timestamp', value: s };
    const plain = s.replace(/_/g, '');
    const i = goParseInt(plain);
    if (i !== undefined) return { tag: 'int', value: Number(i) };
    if (YAML_STYLE_FLOAT.test(plain)) {
      const f = Number(plain);
      if (Number.isFinite(f)) return { tag: 'float', value: f };
    }
    const bin = /^(-?)0b([01]+)$/.exec(plain);
    if (bin) {
      const n = BigInt('0b' + bin[2]) * (bin[1] ? -1n : 1n);
      if (n >= INT64_MIN && n <= UINT64_MAX) return { tag: 'int', value: Number(n) };
    }
  }
  return { tag: STR, value: s };
}

function isBase60Float(s: string): boolean {
  if (!s || !/^[+\-0-9]/.test(s) || !s.includes(':')) return false;
  return BASE60_FLOAT.test(s);
}

// ---------- parsing ----------

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function lineOf(doc: Document, node: YamlNode | null | undefined): number {
  const off = node?.range?.[0];
  if (off === undefined) return 0;
  const src = (doc as unknown as { _src?: string })._src;
  return src ? src.slice(0, off).split('\n').length : 0;
}

function keyString(k: Json): string {
  if (k === null) return 'null';
  if (typeof k === 'string') return k;
  if (typeof k === 'number' || typeof k === 'boolean') return String(k);
  return JSON.stringify(k);
}

/** Anchors being expanded (a cycle is an error), go-yaml's alias budget, and the nesting depth. */
interface Walk {
  seen: Set<unknown>;
  budget: AliasBudget;
  depth: number;
}

function toJson(doc: Document, node: unknown, w: Walk): Json {
  // go-yaml counts every node it decodes, expanding aliases as it goes, and stops a document
  // whose expansion outgrows it: a few hundred bytes of aliases must not become gigabytes.
  if (w.budget.decode()) throw new ExcessiveAliasing('document contains excessive aliasing');
  if (node === null || node === undefined) return null;
  if (w.depth >= MAX_DEPTH) throw new GoYamlError(`exceeded max depth of ${MAX_DEPTH}`);
  w.depth++;
  try {
    return toJsonNode(doc, node, w);
  } finally {
    w.depth--;
  }
}

function toJsonNode(doc: Document, node: unknown, w: Walk): Json {
  const seen = w.seen;
  if (isAlias(node)) {
    const target = node.resolve(doc);
    if (!target) throw new GoYamlError(`unknown anchor '${node.source}' referenced`);
    if (seen.has(target)) throw new GoYamlError('anchor references itself');
    seen.add(target);
    w.budget.enter();
    try {
      return toJson(doc, target, w);
    } finally {
      w.budget.leave();
      seen.delete(target);
    }
  }
  if (isScalar(node)) {
    const v = node.value;
    if (v instanceof Uint8Array) return Buffer.from(v).toString('latin1');
    const text = typeof v === 'string' ? v : String(v);
    const tag = node.tag;
    const quoted = node.type !== 'PLAIN';
    if (tag) {
      switch (tag) {
        case 'tag:yaml.org,2002:str':
          return text;
        case 'tag:yaml.org,2002:binary':
          return Buffer.from(text.replace(/\s+/g, ''), 'base64').toString('latin1');
        case 'tag:yaml.org,2002:null':
        case 'tag:yaml.org,2002:bool':
        case 'tag:yaml.org,2002:int':
        case 'tag:yaml.org,2002:float':
        case 'tag:yaml.org,2002:timestamp': {
          const want = tag.slice('tag:yaml.org,2002:'.length);
          const r = resolvePlain(text);
          if (r.tag === want || (want === 'float' && r.tag === 'int')) return r.tag === 'timestamp' ? text : (r.value as Json);
          throw new GoYamlError(`cannot decode !!${r.tag} \`${text}\` as a !!${want}`);
        }
        default:
          return text; // custom tags are not resolvable: the raw text
      }
    }
    if (quoted) return text;
    const r = resolvePlain(text);
    if (r.tag === 'timestamp') return text;
    if (typeof r.value === 'number' && !Number.isFinite(r.value)) {
      throw new GoYamlError(`json: unsupported value: ${String(r.value)}`);
    }
    return r.value as Json;
  }
  if (isSeq(node)) return node.items.map((i) => toJson(doc, i, w));
  if (isMap(node)) {
    const out: { [k: string]: Json } = {};
    for (const pair of node.items) {
      if (!isPair(pair)) continue;
      const k = pair.key as YamlNode | null;
      if (isScalar(k) && k.type === 'PLAIN' && k.value === '<<' && !k.tag) {
        mergeInto(doc, out, pair.value, w);
        continue;
      }
      const key = keyString(toJson(doc, k, w));
      out[key] = toJson(doc, pair.value, w);
    }
    return out;
  }
  throw new GoYamlError('unsupported YAML node');
}

/** go-yaml v2 merge keys: later entries win over merged ones; in a list, earlier maps take precedence. */
function mergeInto(doc: Document, out: { [k: string]: Json }, value: unknown, w: Walk): void {
  const sources = isSeq(value) ? [...value.items].reverse() : [value];
  for (const s of sources) {
    const m = toJson(doc, s, w);
    if (m === null || typeof m !== 'object' || Array.isArray(m)) {
      throw new GoYamlError('map merge requires map or sequence of maps as the value');
    }
    Object.assign(out, m);
  }
}

/**
 * Parses YAML as sigs.k8s.io/yaml does (first document only, go-yaml v2 resolution, JSON
 * values). Throws GoYamlError with the line of the problem.
 */
export function parseGoYaml(text: string): Json {
  const deep = yamlNestingProblem(text);
  if (deep) throw new GoYamlError(`error converting YAML to JSON: yaml: ${deep}`);
  const docs = parseAllDocuments(text, { schema: 'failsafe', uniqueKeys: false, prettyErrors: true, keepSourceTokens: false });
  const list = Array.isArray(docs) ? docs : [docs];
  const doc = list[0] as Document | undefined;
  if (!doc) return null;
  if (doc.errors.length) {
    const e = doc.errors[0];
    const line = e.linePos?.[0]?.line;
    const first = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new GoYamlError(`error converting YAML to JSON: yaml: ${line ? `line ${line}: ` : ''}${first}`);
  }
  (doc as unknown as { _src?: string })._src = text;
  try {
    return toJson(doc, doc.contents, { seen: new Set(), budget: new AliasBudget(), depth: 0 });
  } catch (err) {
    if (err instanceof ExcessiveAliasing) throw new GoYamlError(`error converting YAML to JSON: yaml: ${err.message}`);
    if (err instanceof GoYamlError) {
      const line = lineOf(doc, doc.contents as YamlNode);
      throw new GoYamlError(`error converting YAML to JSON: yaml: ${line ? `line ${line}: ` : ''}${err.message}`);
    }
    throw err;
  }
}

/**
 * Helm's `chartutil.ReadValues` / `common.ReadValues`: YAML that must be a map (empty input
 * is an empty map). Throws GoYamlError otherwise.
 */
export function readValues(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  const v = parseGoYaml(text);
  if (v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) {
    const what = Array.isArray(v) ? 'array' : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : 'bool';
    throw new GoYamlError(`error unmarshaling JSON: while decoding JSON: json: cannot unmarshal ${what} into Go value of type map[string]interface {}`);
  }
  return v as Record<string, unknown>;
}

// ---------- encoding ----------

const BEST_INDENT = 2;
const BEST_WIDTH = 80;

type Style = 'plain' | 'single' | 'double' | 'literal';

function isPrintable(cp: number): boolean {
  return cp === 0x0a || (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd && cp !== 0xfeff);
}
function isBreakCp(cp: number | undefined): boolean {
  return cp === 0x0d || cp === 0x0a || cp === 0x85 || cp === 0x2028 || cp === 0x2029;
}
function isBlankCp(cp: number | undefined): boolean {
  return cp === 0x20 || cp === 0x09;
}
function utf8Width(cp: number): number {
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
}

interface ScalarAnalysis {
  multiline: boolean;
  flowPlain: boolean;
  blockPlain: boolean;
  singleQuoted: boolean;
  block: boolean;
}

function analyzeScalar(cps: number[], byteLen: number): ScalarAnalysis {
  if (cps.length === 0) return { multiline: false, flowPlain: false, blockPlain: true, singleQuoted: true, block: false };
  let blockIndicators = false;
  let flowIndicators = false;
  let lineBreaks = false;
  let special = false;
  let leadingSpace = false;
  let leadingBreak = false;
  let trailingSpace = false;
  let trailingBreak = false;
  let breakSpace = false;
  let spaceBreak = false;
  let previousSpace = false;
  let previousBreak = false;
  if (cps.length >= 3 && ((cps[0] === 45 && cps[1] === 45 && cps[2] === 45) || (cps[0] === 46 && cps[1] === 46 && cps[2] === 46))) {
    blockIndicators = flowIndicators = true;
  }
  let precededByWhitespace = true;
  let byte = 0;
  for (let k = 0; k < cps.length; k++) {
    const cp = cps[k];
    const w = utf8Width(cp);
    const followedByWhitespace = byte + w >= byteLen || isBlankCp(cps[k + 1]);
    const ch = String.fromCodePoint(cp);
    if (k === 0) {
      if ('#,[]{}&*!|>\'"%@`'.includes(ch)) {
        flowIndicators = blockIndicators = true;
      } else if (ch === '?' || ch === ':') {
        flowIndicators = true;
        if (followedByWhitespace) blockIndicators = true;
      } else if (ch === '-' && followedByWhitespace) {
        flowIndicators = blockIndicators = true;
      }
    } else if (',?[]{}'.includes(ch)) {
      flowIndicators = true;
    } else if (ch === ':') {
      flowIndicators = true;
      if (followedByWhitespace) blockIndicators = true;
    } else if (ch === '#' && precededByWhitespace) {
      flowIndicators = blockIndicators = true;
    }
    if (!isPrintable(cp)) special = true;
    if (cp === 0x20) {
      if (k === 0) leadingSpace = true;
      if (k === cps.length - 1) trailingSpace = true;
      if (previousBreak) breakSpace = true;
      previousSpace = true;
      previousBreak = false;
    } else if (isBreakCp(cp)) {
      lineBreaks = true;
      if (k === 0) leadingBreak = true;
      if (k === cps.length - 1) trailingBreak = true;
      if (previousSpace) spaceBreak = true;
      previousSpace = false;
      previousBreak = true;
    } else {
      previousSpace = previousBreak = false;
    }
    precededByWhitespace = isBlankCp(cp) || isBreakCp(cp) || cp === 0;
    byte += w;
  }
  const a: ScalarAnalysis = { multiline: lineBreaks, flowPlain: true, blockPlain: true, singleQuoted: true, block: true };
  if (leadingSpace || leadingBreak || trailingSpace || trailingBreak) a.flowPlain = a.blockPlain = false;
  if (trailingSpace) a.block = false;
  if (breakSpace) a.flowPlain = a.blockPlain = a.singleQuoted = false;
  if (spaceBreak || special) a.flowPlain = a.blockPlain = a.singleQuoted = a.block = false;
  if (lineBreaks) a.flowPlain = a.blockPlain = false;
  if (flowIndicators) a.flowPlain = false;
  if (blockIndicators) a.blockPlain = false;
  return a;
}

/** Code points of `s`; a lone surrogate becomes U+FFFD, as Go's UTF-8 conversion does. */
function codePoints(s: string): number[] {
  return Array.from(s, (c) => {
    const cp = c.codePointAt(0)!;
    return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
  });
}

function byteLength(cps: number[]): number {
  let n = 0;
  for (const cp of cps) n += utf8Width(cp);
  return n;
}

/** Characters whose UTF-16 order differs from their UTF-8 order (surrogates and above). */
const NON_BMP_LOW = /[\ud800-\uffff]/;

function utf8Compare(a: string, b: string): number {
  // Go compares strings bytewise (UTF-8); JS compares UTF-16 units. They agree on the BMP
  // below the surrogate range, which is what keys almost always are.
  if (!NON_BMP_LOW.test(a) && !NON_BMP_LOW.test(b)) return a < b ? -1 : a > b ? 1 : 0;
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A port of the parts of go-yaml v2's emitter (emitterc.go) that JSON values use. */
class Emitter {
  private out = '';
  private column = 0;
  private indent = -1;
  private readonly indents: number[] = [];
  private whitespace = true;
  private indention = true;
  private flowLevel = 0;
  private rootCtx = false;
  private mappingCtx = false;
  private simpleKeyCtx = false;

  constructor(private readonly sortKeys: boolean) {}

  result(): string {
    return this.out;
  }

  private put(s: string): void {
    this.out += s;
    this.column++;
  }
  private putBreak(): void {
    this.out += '\n';
    this.column = 0;
  }
  private writeCp(cp: number): void {
    this.out += String.fromCodePoint(cp);
    this.column++;
  }
  private writeBreak(cp: number): void {
    if (cp === 0x0a) {
      this.putBreak();
    } else {
      this.writeCp(cp);
      this.column = 0;
    }
  }
  private writeIndent(): void {
    const indent = Math.max(this.indent, 0);
    if (!this.indention || this.column > indent || (this.column === indent && !this.whitespace)) this.putBreak();
    while (this.column < indent) this.put(' ');
    this.whitespace = true;
    this.indention = true;
  }
  private writeIndicator(ind: string, needWhitespace: boolean, isWhitespace: boolean, isIndention: boolean): void {
    if (needWhitespace && !this.whitespace) this.put(' ');
    for (const ch of ind) this.writeCp(ch.codePointAt(0)!);
    this.whitespace = isWhitespace;
    this.indention = this.indention && isIndention;
  }
  private increaseIndent(flow: boolean, indentless: boolean): void {
    this.indents.push(this.indent);
    if (this.indent < 0) this.indent = flow ? BEST_INDENT : 0;
    else if (!indentless) this.indent += BEST_INDENT;
  }
  private popIndent(): void {
    this.indent = this.indents.pop()!;
  }

  document(value: unknown): void {
    this.node(value, true, false, false);
    // DOCUMENT-END (implicit): a final line break.
    this.writeIndent();
  }

  private node(value: unknown, root: boolean, mapping: boolean, simpleKey: boolean): void {
    this.rootCtx = root;
    this.mappingCtx = mapping;
    this.simpleKeyCtx = simpleKey;
    if (Array.isArray(value)) {
      if (value.length === 0 || this.flowLevel > 0) return this.flowEmpty('[', ']');
      return this.blockSequence(value);
    }
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value as Record<string, unknown>);
      if (entries.length === 0 || this.flowLevel > 0) return this.flowEmpty('{', '}');
      if (this.sortKeys) entries.sort((a, b) => utf8Compare(a[0], b[0]));
      return this.blockMapping(entries);
    }
    const [text, style] = scalarOf(value);
    this.scalar(text, style);
  }

  private flowEmpty(open: string, close: string): void {
    this.writeIndicator(open, true, true, false);
    this.increaseIndent(true, false);
    this.popIndent();
    this.writeIndicator(close, false, false, false);
  }

  private blockSequence(items: unknown[]): void {
    this.increaseIndent(false, this.mappingCtx && !this.indention);
    for (const item of items) {
      this.writeIndent();
      this.writeIndicator('-', true, false, true);
      this.node(item, false, false, false);
    }
    this.popIndent();
  }

  private blockMapping(entries: [string, unknown][]): void {
    this.increaseIndent(false, false);
    for (const [k, v] of entries) {
      this.writeIndent();
      const cps = codePoints(k);
      const [, keyStyle] = scalarOf(k);
      const simple = !analyzeScalar(cps, byteLength(cps)).multiline && byteLength(cps) <= 128;
      if (simple) {
        this.rootCtx = false;
        this.mappingCtx = true;
        this.simpleKeyCtx = true;
        this.scalar(k, keyStyle);
        this.writeIndicator(':', false, false, false);
      } else {
        this.writeIndicator('?', true, false, true);
        this.rootCtx = false;
        this.mappingCtx = true;
        this.simpleKeyCtx = false;
        this.scalar(k, keyStyle);
        this.writeIndent();
        this.writeIndicator(':', true, false, true);
      }
      this.node(v, false, true, false);
    }
    this.popIndent();
  }

  private scalar(text: string, requested: Style): void {
    const cps = codePoints(text);
    const len = byteLength(cps);
    const a = analyzeScalar(cps, len);
    let style = requested;
    if (this.simpleKeyCtx && a.multiline) style = 'double';
    if (style === 'plain') {
      if ((this.flowLevel > 0 && !a.flowPlain) || (this.flowLevel === 0 && !a.blockPlain)) style = 'single';
      if (cps.length === 0 && (this.flowLevel > 0 || this.simpleKeyCtx)) style = 'single';
    }
    if (style === 'single' && !a.singleQuoted) style = 'double';
    if (style === 'literal' && (!a.block || this.flowLevel > 0 || this.simpleKeyCtx)) style = 'double';
    this.increaseIndent(true, false);
    const allowBreaks = !this.simpleKeyCtx;
    switch (style) {
      case 'plain':
        this.writePlain(cps, allowBreaks);
        break;
      case 'single':
        this.writeSingle(cps, len, allowBreaks);
        break;
      case 'double':
        this.writeDouble(cps, len, allowBreaks);
        break;
      case 'literal':
        this.writeLiteral(cps);
        break;
    }
    this.popIndent();
  }

  private writePlain(cps: number[], allowBreaks: boolean): void {
    if (!this.whitespace) this.put(' ');
    let spaces = false;
    let breaks = false;
    for (let k = 0; k < cps.length; k++) {
      const cp = cps[k];
      if (cp === 0x20) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && cps[k + 1] !== 0x20) this.writeIndent();
        else this.writeCp(cp);
        spaces = true;
      } else if (isBreakCp(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak();
        this.writeBreak(cp);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeCp(cp);
        this.indention = false;
        spaces = breaks = false;
      }
    }
    this.whitespace = false;
    this.indention = false;
  }

  private writeSingle(cps: number[], len: number, allowBreaks: boolean): void {
    this.writeIndicator("'", true, false, false);
    let spaces = false;
    let breaks = false;
    let byte = 0;
    for (let k = 0; k < cps.length; k++) {
      const cp = cps[k];
      if (cp === 0x20) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && byte > 0 && byte < len - 1 && cps[k + 1] !== 0x20) this.writeIndent();
        else this.writeCp(cp);
        spaces = true;
      } else if (isBreakCp(cp)) {
        if (!breaks && cp === 0x0a) this.putBreak();
        this.writeBreak(cp);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        if (cp === 0x27) this.put("'");
        this.writeCp(cp);
        this.indention = false;
        spaces = breaks = false;
      }
      byte += utf8Width(cp);
    }
    this.writeIndicator("'", false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeDouble(cps: number[], len: number, allowBreaks: boolean): void {
    let spaces = false;
    this.writeIndicator('"', true, false, false);
    const bomStart = cps[0] === 0xfeff;
    let byte = 0;
    for (let k = 0; k < cps.length; k++) {
      const cp = cps[k];
      if (!isPrintable(cp) || bomStart || isBreakCp(cp) || cp === 0x22 || cp === 0x5c) {
        this.put('\\');
        const simple: Record<number, string> = {
          0x00: '0', 0x07: 'a', 0x08: 'b', 0x09: 't', 0x0a: 'n', 0x0b: 'v', 0x0c: 'f', 0x0d: 'r', 0x1b: 'e',
          0x22: '"', 0x5c: '\\', 0x85: 'N', 0xa0: '_', 0x2028: 'L', 0x2029: 'P',
        };
        if (cp in simple) {
          this.put(simple[cp]);
        } else {
          const [letter, width] = cp <= 0xff ? ['x', 2] : cp <= 0xffff ? ['u', 4] : ['U', 8];
          this.put(letter);
          for (const d of cp.toString(16).toUpperCase().padStart(width, '0')) this.put(d);
        }
        spaces = false;
      } else if (cp === 0x20) {
        if (allowBreaks && !spaces && this.column > BEST_WIDTH && byte > 0 && byte < len - 1) {
          this.writeIndent();
          if (cps[k + 1] === 0x20) this.put('\\');
        } else {
          this.writeCp(cp);
        }
        spaces = true;
      } else {
        this.writeCp(cp);
        spaces = false;
      }
      byte += utf8Width(cp);
    }
    this.writeIndicator('"', false, false, false);
    this.whitespace = false;
    this.indention = false;
  }

  private writeLiteral(cps: number[]): void {
    this.writeIndicator('|', true, false, false);
    if (cps[0] === 0x20 || isBreakCp(cps[0])) this.writeIndicator(String(BEST_INDENT), false, false, false);
    let chomp = '';
    if (cps.length === 0) chomp = '-';
    else {
      const last = cps.length - 1;
      if (!isBreakCp(cps[last])) chomp = '-';
      else if (last === 0) chomp = '+';
      else if (isBreakCp(cps[last - 1])) chomp = '+';
    }
    if (chomp) this.writeIndicator(chomp, false, false, false);
    this.putBreak();
    this.indention = true;
    this.whitespace = true;
    let breaks = true;
    for (const cp of cps) {
      if (isBreakCp(cp)) {
        this.writeBreak(cp);
        this.indention = true;
        breaks = true;
      } else {
        if (breaks) this.writeIndent();
        this.writeCp(cp);
        this.indention = false;
        breaks = false;
      }
    }
  }
}

/** Go's strconv.FormatFloat(f, 'g', -1, 64). */
export function goFormatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  const [mant, expStr] = f.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 6) {
    const abs = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${abs < 10 ? '0' : ''}${abs}`;
  }
  return String(f);
}

/** The text and requested style go-yaml v2's encoder uses for a JSON scalar (after sigs.k8s.io/yaml's number conversion). */
function scalarOf(v: unknown): [string, Style] {
  if (v === null || v === undefined) return ['null', 'plain'];
  if (typeof v === 'boolean') return [v ? 'true' : 'false', 'plain'];
  if (typeof v === 'number') {
    // sigs.k8s.io/yaml JSONObjectToYAMLObject: integral float64 become int/int64/uint64.
    if (Number.isInteger(v) && v >= -9223372036854775808 && v < 18446744073709551616) {
      return [BigInt(v).toString(), 'plain'];
    }
    const s = goFormatFloat(v);
    return [s === '+Inf' ? '.inf' : s === '-Inf' ? '-.inf' : s === 'NaN' ? '.nan' : s, 'plain'];
  }
  if (typeof v === 'bigint') return [v.toString(), 'plain'];
  const s = String(v);
  const canUsePlain = resolvePlain(s).tag === STR && !isBase60Float(s);
  if (s.includes('\n')) return [s, 'literal'];
  return [s, canUsePlain ? 'plain' : 'double'];
}

/**
 * go-yaml v2 `Encoder.Encode` of a JSON value converted with sigs.k8s.io/yaml
 * JSONObjectToYAMLObject. With `sortKeys`, maps are ordered as chartutil.SortMapSlice does;
 * without it, in insertion order.
 */
export function encodeGoYaml(value: unknown, opts: { sortKeys?: boolean } = {}): string {
  const e = new Emitter(opts.sortKeys ?? false);
  e.document(value);
  return e.result();
}
