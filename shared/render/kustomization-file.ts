/**
 * What a kustomization file makes kustomize read, found the way kustomize's own decoding
 * finds it: the file goes through YAMLToJSON and encoding/json, so field names match
 * case-insensitively (`Resources:` and `reſources:` are `resources`), `<<` merge keys and
 * aliases bring fields in, `!!binary` values become strings, duplicate keys all count, and
 * every document of the file is read (kustomize reads the first; reading all is stricter).
 *
 * Every field kustomize takes a path or URL from is listed here, by how it is read:
 *  - dirRefs: resources, bases, components (a kustomization directory, a file, or a repo);
 *  - pluginRefs / inlinePlugins: generators, transformers, validators (a plugin
 *    configuration file, a kustomization whose output are configurations, or inline YAML,
 *    a one-line flow mapping included: pluginEntryKind);
 *  - yamlFiles: files kustomize parses as YAML: patches[].path, patchesJson6902[].path,
 *    patchesStrategicMerge, crds, configurations, replacements[].path, openapi.path;
 *  - dataFiles: generator inputs read as data: configMapGenerator / secretGenerator
 *    files (`key=path`), envs, env;
 *  - inlineYaml: YAML inside the file that kustomize parses on its own: patches[].patch,
 *    patchesJson6902[].patch, inline patchesStrategicMerge entries;
 *  - unsupported: Helm chart inflation (helmCharts, helmGlobals, helmChartInflationGenerator).
 */
import { ExcessiveAliasingError, KustomizationParseError } from './errors.js';
import { YMap, YamlSyntaxError, analyseYaml, fieldValues, hasField, itemsOf, stringsOf } from './yaml-analysis.js';
import type { YValue } from './yaml-analysis.js';

/** One reference: the field it came from (e.g. `patches[].path`) and its value as written. */
export interface Ref {
  field: string;
  value: string;
}

/** A parsed kustomization file and everything it references, by how kustomize reads it. */
export interface KustomizationFile {
  /** The documents of the file (analysis trees). */
  docs: YValue[];
  /** resources, bases, components. */
  dirRefs: Ref[];
  /** generators, transformers, validators entries read as paths (pluginEntryKind). */
  pluginRefs: Ref[];
  /** generators, transformers, validators entries read as inline YAML (pluginEntryKind). */
  inlinePlugins: Ref[];
  /** Files kustomize parses as YAML. */
  yamlFiles: Ref[];
  /** Files kustomize reads as data (generator inputs). */
  dataFiles: Ref[];
  /** YAML text inside the file that kustomize parses separately (inline patches). */
  inlineYaml: Ref[];
  /** Unsupported fields present (Helm chart inflation). */
  unsupported: string[];
}

const HELM_FIELDS = ['helmCharts', 'helmGlobals', 'helmChartInflationGenerator'];

/**
 * Parses a kustomization file (shown as `shown` in errors) and lists its references.
 * Throws KustomizationParseError when it does not parse and ExcessiveAliasingError when its
 * aliases exceed go-yaml's budget: a file Fluxless cannot analyse is never built.
 */
export function readKustomization(text: string, shown: string): KustomizationFile {
  const differential = parserDifferential(text);
  if (differential) throw new KustomizationParseError(shown, `${differential}: kustomize's YAML parser would read this file differently from Fluxless's check, so it is not built; save it as plain UTF-8 with ordinary line breaks`);
  let analysis: ReturnType<typeof analyseYaml>;
  try {
    analysis = analyseYaml(text, { tree: true });
  } catch (err) {
    if (err instanceof YamlSyntaxError) throw new KustomizationParseError(shown, err.message, { cause: err });
    throw err;
  }
  if (analysis.excessive) throw new ExcessiveAliasingError(shown);
  const out: KustomizationFile = {
    docs: analysis.docs,
    dirRefs: [],
    pluginRefs: [],
    inlinePlugins: [],
    yamlFiles: [],
    dataFiles: [],
    inlineYaml: [],
    unsupported: [],
  };
  const push = (list: Ref[], field: string, value: string) => {
    if (value !== '') list.push({ field, value });
  };
  for (const k of analysis.docs) {
    if (k === '') continue; // an empty document
    if (!(k instanceof YMap)) throw new KustomizationParseError(shown, 'a document of the file is not a YAML mapping (kustomization fields must be a mapping)');
    for (const f of ['resources', 'bases', 'components']) for (const v of stringsOf(fieldValues(k, f))) push(out.dirRefs, f, v);
    for (const f of ['generators', 'transformers', 'validators']) {
      for (const v of stringsOf(fieldValues(k, f))) {
        const how = pluginEntryKind(v);
        if (how !== 'path') push(out.inlinePlugins, f, v);
        if (how !== 'inline') push(out.pluginRefs, f, v);
      }
    }
    for (const f of ['crds', 'configurations']) for (const v of stringsOf(fieldValues(k, f))) push(out.yamlFiles, f, v);
    for (const v of stringsOf(fieldValues(k, 'patchesStrategicMerge'))) {
      // kustomize tries an entry as YAML resources first and loads it as a file path when that
      // fails, multi-line or not: anything that is not a mapping is checked as a path as well.
      const how = patchEntryKind(v);
      if (how !== 'path') push(out.inlineYaml, 'patchesStrategicMerge', v);
      if (how !== 'inline') push(out.yamlFiles, 'patchesStrategicMerge', v);
    }
    for (const f of ['patches', 'patchesJson6902']) {
      for (const item of itemsOf(fieldValues(k, f))) {
        for (const v of stringsOf(fieldValues(item, 'path'))) push(out.yamlFiles, `${f}[].path`, v);
        for (const v of stringsOf(fieldValues(item, 'patch'))) push(out.inlineYaml, `${f}[].patch`, v);
      }
    }
    for (const item of itemsOf(fieldValues(k, 'replacements'))) {
      for (const v of stringsOf(fieldValues(item, 'path'))) push(out.yamlFiles, 'replacements[].path', v);
    }
    for (const m of fieldValues(k, 'openapi')) for (const v of stringsOf(fieldValues(m, 'path'))) push(out.yamlFiles, 'openapi.path', v);
    for (const f of ['configMapGenerator', 'secretGenerator']) {
      for (const gen of itemsOf(fieldValues(k, f))) {
        for (const v of stringsOf(fieldValues(gen, 'files'))) {
          // `[key=]path`; kustomize refuses more than one '='.
          push(out.dataFiles, `${f}[].files`, v.includes('=') ? v.slice(v.indexOf('=') + 1) : v);
        }
        for (const v of stringsOf(fieldValues(gen, 'envs'))) push(out.dataFiles, `${f}[].envs`, v);
        for (const v of stringsOf(fieldValues(gen, 'env'))) push(out.dataFiles, `${f}[].env`, v);
      }
    }
    for (const f of HELM_FIELDS) if (hasField(k, f) && !out.unsupported.includes(f)) out.unsupported.push(f);
  }
  return out;
}

/**
 * How kustomize reads a generators/transformers/validators entry: it first tries the entry as
 * YAML resources (kio.FromBytes) and takes it as a file path only when that fails, so a
 * one-line flow mapping (`{apiVersion: builtin, kind: ConfigMapGenerator, ...}`) is an inline
 * configuration just as a block is. A scalar is a path; anything else that parses (a flow
 * sequence) is checked both ways.
 */
export function pluginEntryKind(v: string): 'inline' | 'path' | 'both' {
  if (v.includes('\n') || v.includes('\r')) return 'inline';
  const docs = entryDocuments(v);
  if (docs === 'excessive') return 'inline'; // the inline check refuses it
  if (docs === undefined || docs.every((d) => typeof d === 'string')) return 'path';
  return docs.some((d) => d instanceof YMap) ? 'inline' : 'both';
}

/** The YAML documents of a list entry; undefined when it does not parse, 'excessive' past go-yaml's alias budget. */
function entryDocuments(v: string): YValue[] | 'excessive' | undefined {
  try {
    const a = analyseYaml(v, { tree: true });
    return a.excessive ? 'excessive' : a.docs;
  } catch {
    return undefined;
  }
}

/**
 * Why `text` may not parse the same for kustomize (go-yaml v2, YAML 1.1) as for the check
 * (the `yaml` package), or undefined: go-yaml breaks lines at U+0085, U+2028 and U+2029 and
 * decodes UTF-16 by its byte-order mark, where the check sees ordinary characters (U+FFFD
 * stands for bytes that are not UTF-8, as a UTF-16 file reads); NUL is refused with them.
 */
export function parserDifferential(text: string): string | undefined {
  // eslint-disable-next-line no-control-regex
  const m = /[\u0000\u0085\u2028\u2029\uFFFD]/.exec(text);
  if (!m) return undefined;
  const c = m[0];
  if (c === '\uFFFD') return 'it is not UTF-8 text (UTF-16 or UTF-32, or invalid bytes)';
  return `it contains ${c === '\u0000' ? 'a NUL character' : `the character U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, a line break for kustomize`}`;
}

/**
 * How kustomize reads a patchesStrategicMerge entry: YAML resources when it parses as
 * mappings, otherwise a file path (a scalar, even one spanning lines); anything else both.
 */
export function patchEntryKind(v: string): 'inline' | 'path' | 'both' {
  const docs = entryDocuments(v);
  if (docs === 'excessive') return 'inline'; // the inline check refuses it
  if (docs === undefined) return 'path';
  if (docs.length > 0 && docs.every((d) => d instanceof YMap)) return 'inline';
  if (docs.every((d) => typeof d === 'string')) return 'path';
  return 'both';
}

/** True when any document of the file has the field (as kustomize's decoding finds it). */
export function anyDocHas(k: KustomizationFile, field: string): boolean {
  return k.docs.some((d) => hasField(d, field));
}
