/**
 * Reading YAML the way Fluxless must before kustomize sees it: in linear time, without
 * expanding aliases, and with go-yaml's alias-expansion budget.
 *
 * kustomize decodes kustomization files with go-yaml (sigs.k8s.io/yaml), which allows
 * aliases but stops a document whose alias expansion outgrows its size ("document contains
 * excessive aliasing"); resource files it reads into nodes and then expands every alias
 * (kyaml's DeAnchor) with no budget at all, which is how a few hundred bytes of YAML made
 * kustomize allocate gigabytes. analyseYaml counts what go-yaml's decoder would count and
 * says whether the budget is exceeded, for each document and for the file as a whole, and
 * (on request) turns each document into a small analysis tree where an alias is the same
 * object as its anchor: nothing is copied, so the tree of a billion-laughs file is as
 * small as the file.
 *
 * Scalars are kept as the text written (failsafe schema): a path is checked as the string
 * kustomize will see, whatever YAML type it would resolve to; `!!binary` scalars are
 * decoded, as go-yaml does before kustomize reads them as strings.
 */
import { isAlias, isMap, isScalar, isSeq, parseAllDocuments } from 'yaml';
import type { Alias, Node as YamlNode } from 'yaml';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** Options of every analysis parse: text scalars, duplicate keys kept (the duplicate check is quadratic), lenient like go-yaml. */
export const ANALYSIS_PARSE_OPTIONS = {
  version: '1.1',
  schema: 'failsafe',
  uniqueKeys: false,
  strict: false,
  prettyErrors: false,
} as const;

/** Deepest nesting analysed; deeper YAML is refused (go-yaml refuses beyond 10000). */
export const MAX_YAML_DEPTH = 1000;

const BINARY_TAG = 'tag:yaml.org,2002:binary';
const MERGE_TAG = 'tag:yaml.org,2002:merge';

/** go-yaml's allowedAliasRatio: the share of decodes that may come from alias expansion. */
export function allowedAliasRatio(decodes: number): number {
  if (decodes <= 400_000) return 0.99;
  if (decodes >= 4_000_000) return 0.1;
  return 0.99 - 0.89 * ((decodes - 400_000) / 3_600_000);
}

/** go-yaml's "document contains excessive aliasing" rule, for `decodes` node decodes of which `aliasDecodes` come from aliases. */
export function exceedsAliasBudget(decodes: number, aliasDecodes: number): boolean {
  if (!Number.isFinite(aliasDecodes) || !Number.isFinite(decodes)) return true;
  return aliasDecodes > 100 && decodes > 1000 && aliasDecodes / decodes > allowedAliasRatio(decodes);
}

/**
 * go-yaml's counters for a decoder that expands aliases as it goes: call decode() for every
 * node decoded and enter()/leave() around an alias's expansion. decode() returns true once
 * the budget is exceeded, which is when go-yaml fails.
 */
export class AliasBudget {
  /** Nodes decoded so far. */
  decodes = 0;
  /** Of those, nodes decoded inside an alias expansion. */
  aliasDecodes = 0;
  private depth = 0;

  /** Counts one decoded node; true when the document now exceeds go-yaml's budget. */
  decode(): boolean {
    this.decodes++;
    if (this.depth > 0) this.aliasDecodes++;
    return exceedsAliasBudget(this.decodes, this.aliasDecodes);
  }

  /** Starts expanding an alias. */
  enter(): void {
    this.depth++;
  }

  /** Ends expanding an alias. */
  leave(): void {
    this.depth--;
  }
}

/** YAML that does not parse, or nests deeper than MAX_YAML_DEPTH. */
export class YamlSyntaxError extends Error {
  /** 1-based line of the problem, when known. */
  readonly line?: number;
  constructor(message: string, line?: number) {
    super(message);
    this.name = 'YamlSyntaxError';
    this.line = line;
  }
}

/** A value of the analysis tree: scalars as text, sequences as arrays, mappings as YMap. */
export type YValue = string | YValue[] | YMap;

/** A mapping of the analysis tree: its pairs in order (duplicates kept) and its `<<` merge sources. */
export class YMap {
  /** Key text and value, in document order, duplicate keys included. */
  readonly entries: Array<readonly [string, YValue]> = [];
  /** Values merged in with `<<` (mappings, or sequences of mappings). */
  readonly merges: YValue[] = [];
}

/** What analyseYaml found in one YAML stream. */
export interface YamlAnalysis {
  /** Each document's content (only with `tree: true`; empty otherwise). */
  docs: YValue[];
  /** Node decodes go-yaml would make for the whole file. */
  decodes: number;
  /** Of those, decodes inside alias expansions. */
  aliasDecodes: number;
  /** True when a document, or the file as a whole, exceeds go-yaml's alias budget. */
  excessive: boolean;
}

interface Count {
  total: number;
  inAlias: number;
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** The text of a scalar as kustomize receives it (`!!binary` decoded). */
function scalarText(value: unknown, tag: string | undefined): string {
  const s = value === null || value === undefined ? '' : String(value);
  return tag === BINARY_TAG ? Buffer.from(s.replace(/\s+/g, ''), 'base64').toString('utf8') : s;
}

/**
 * Parses `text` (all documents) in linear time and counts its alias expansion. Throws
 * YamlSyntaxError when it does not parse. With `tree`, also returns each document as an
 * analysis tree (aliases shared, never copied).
 */
export function analyseYaml(text: string, opts: { tree?: boolean } = {}): YamlAnalysis {
  const deep = yamlNestingProblem(text);
  if (deep) throw new YamlSyntaxError(deep);
  let parsed: ReturnType<typeof parseAllDocuments>;
  try {
    parsed = parseAllDocuments(text, ANALYSIS_PARSE_OPTIONS);
  } catch (err) {
    // The parser recurses on nesting: absurd depth ends here.
    throw new YamlSyntaxError(err instanceof RangeError ? 'YAML nested too deeply' : String(err));
  }
  const docs = Array.isArray(parsed) ? parsed : [];
  const out: YamlAnalysis = { docs: [], decodes: 0, aliasDecodes: 0, excessive: false };
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const line = lineOf(text, err.pos[0]);
      throw new YamlSyntaxError(`line ${line}: ${err.message.split('\n', 1)[0]}`, line);
    }
    const walker = new Walker(opts.tree === true);
    const c = walker.count(doc.contents as YamlNode | null, 0);
    const decodes = 1 + c.total;
    out.decodes += decodes;
    out.aliasDecodes += c.inAlias;
    if (exceedsAliasBudget(decodes, c.inAlias)) out.excessive = true;
    if (opts.tree) out.docs.push(walker.value(doc.contents as YamlNode | null));
  }
  if (exceedsAliasBudget(out.decodes, out.aliasDecodes)) out.excessive = true;
  return out;
}

/**
 * One pass over a document in document order: anchors are registered when their node
 * starts, so an alias finds the latest anchor of its name before it (or an ancestor: a
 * cycle, which counts as infinite). Counts are memoized per node, so shared subtrees are
 * counted once however often they are aliased.
 */
class Walker {
  private readonly anchors = new Map<string, YamlNode>();
  private readonly counts = new Map<YamlNode, Count>();
  private readonly open = new Set<YamlNode>();
  private readonly targets = new Map<Alias, YamlNode | undefined>();
  private readonly values = new Map<YamlNode, YValue>();

  constructor(private readonly tree: boolean) {}

  count(node: YamlNode | null, depth: number): Count {
    if (node === null || node === undefined) return { total: 1, inAlias: 0 };
    if (depth > MAX_YAML_DEPTH) throw new YamlSyntaxError(`YAML nested more than ${MAX_YAML_DEPTH} levels deep`);
    if (isAlias(node)) {
      const target = this.anchors.get(node.source);
      this.targets.set(node, target);
      if (!target) return { total: 1, inAlias: 0 }; // unknown anchor: go-yaml fails the document itself
      if (this.open.has(target)) return { total: Infinity, inAlias: Infinity }; // the anchor contains its alias
      const t = this.counts.get(target) ?? { total: 1, inAlias: 0 };
      return { total: 1 + t.total, inAlias: t.total };
    }
    const anchor = (node as { anchor?: string }).anchor;
    if (anchor) this.anchors.set(anchor, node);
    let c: Count = { total: 1, inAlias: 0 };
    if (isMap(node) || isSeq(node)) {
      this.open.add(node);
      let total = 1;
      let inAlias = 0;
      const add = (n: unknown) => {
        const k = this.count(n as YamlNode | null, depth + 1);
        total += k.total;
        inAlias += k.inAlias;
      };
      if (isMap(node)) {
        for (const pair of node.items) {
          add(pair.key);
          add(pair.value);
        }
      } else {
        for (const item of node.items) add(item);
      }
      this.open.delete(node);
      c = { total, inAlias };
    }
    this.counts.set(node, c);
    return c;
  }

  /** The analysis tree of a node counted before (aliases resolve to their anchor's value). */
  value(node: YamlNode | null): YValue {
    if (node === null || node === undefined) return '';
    if (isAlias(node)) {
      const target = this.targets.get(node);
      return target ? this.value(target) : '';
    }
    const known = this.values.get(node);
    if (known !== undefined) return known;
    if (isScalar(node)) {
      const s = scalarText(node.value, node.tag);
      this.values.set(node, s);
      return s;
    }
    if (isSeq(node)) {
      const seq: YValue[] = [];
      this.values.set(node, seq);
      for (const item of node.items) seq.push(this.value(item as YamlNode | null));
      return seq;
    }
    if (isMap(node)) {
      const map = new YMap();
      this.values.set(node, map);
      for (const pair of node.items) {
        const key = pair.key as YamlNode | null;
        if (isMergeKey(key)) {
          const v = pair.value as YamlNode | null;
          const merged = this.value(v);
          if (Array.isArray(merged)) map.merges.push(...merged);
          else map.merges.push(merged);
          continue;
        }
        map.entries.push([this.keyText(key), this.value(pair.value as YamlNode | null)]);
      }
      return map;
    }
    return '';
  }

  private keyText(key: YamlNode | null): string {
    const k = key && isAlias(key) ? this.targets.get(key) : key;
    return k && isScalar(k) ? scalarText(k.value, k.tag) : '';
  }
}

function isMergeKey(key: YamlNode | null): boolean {
  return !!key && isScalar(key) && key.value === '<<' && (key.type === 'PLAIN' || key.tag === MERGE_TAG) && (!key.tag || key.tag === MERGE_TAG);
}

/** Go's encoding/json field-name folding (ASCII case plus the two non-ASCII runes that fold to ASCII letters). */
export function foldKey(key: string): string {
  let out = '';
  for (const ch of key) {
    if (ch === '\u017f') out += 'S'; // ſ folds to s
    else if (ch === '\u212a') out += 'K'; // Kelvin sign folds to k
    else out += ch.charCodeAt(0) < 0x80 ? ch.toUpperCase() : ch;
  }
  return out;
}

/**
 * Every value of `name` in a mapping as kustomize's Go decoding can see it: keys that match
 * case-insensitively (encoding/json), duplicates, and values merged in with `<<`.
 */
export function fieldValues(v: YValue | undefined, name: string): YValue[] {
  const out: YValue[] = [];
  const want = foldKey(name);
  const seen = new Set<YMap>();
  const visit = (m: YValue): void => {
    if (!(m instanceof YMap) || seen.has(m)) return;
    seen.add(m);
    for (const [k, val] of m.entries) if (k === name || foldKey(k) === want) out.push(val);
    for (const src of m.merges) visit(src);
  };
  if (v !== undefined) visit(v);
  return out;
}

/** True when the mapping has the field (as fieldValues finds it). */
export function hasField(v: YValue | undefined, name: string): boolean {
  return fieldValues(v, name).length > 0;
}

/** The strings among `values` and among the items of the lists in `values`. */
export function stringsOf(values: YValue[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    if (typeof v === 'string') out.push(v);
    else if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') out.push(s);
  }
  return out;
}

/** The items of the lists in `values` (a lone mapping counts as one item). */
export function itemsOf(values: YValue[]): YValue[] {
  const out: YValue[] = [];
  for (const v of values) {
    if (Array.isArray(v)) out.push(...v);
    else if (v instanceof YMap) out.push(v);
  }
  return out;
}

/** Every string value anywhere below `v` (mapping values and sequence items; keys excluded), each shared node once. */
export function allStrings(v: YValue): string[] {
  const out: string[] = [];
  const seen = new Set<object>();
  const stack: YValue[] = [v];
  while (stack.length) {
    const cur = stack.pop()!;
    if (typeof cur === 'string') {
      out.push(cur);
      continue;
    }
    if (seen.has(cur)) continue;
    seen.add(cur);
    if (Array.isArray(cur)) stack.push(...cur);
    else {
      for (const [, val] of cur.entries) stack.push(val);
      stack.push(...cur.merges);
    }
  }
  return out;
}

/**
 * A quick test that can only say "no aliases here": YAML aliases need an anchor (`&name`)
 * and an alias (`*name`) token. Files without both are never parsed for the budget.
 */
export function mayHaveAliases(text: string): boolean {
  return /(?:^|[\s[\]{},:?-])&[^\s[\]{},]/m.test(text) && /(?:^|[\s[\]{},:?-])\*[^\s[\]{},]/m.test(text);
}
