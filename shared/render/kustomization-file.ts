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
    if (!(k instanceof YMap)) continue;
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
      // kustomize reads an entry as a file when it can, else as an inline patch.
      push(v.includes('\n') ? out.inlineYaml : out.yamlFiles, 'patchesStrategicMerge', v);
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
  let docs: YValue[];
  try {
    const a = analyseYaml(v, { tree: true });
    if (a.excessive) return 'inline'; // the inline check refuses it
    docs = a.docs;
  } catch {
    return 'path';
  }
  if (docs.every((d) => typeof d === 'string')) return 'path';
  return docs.some((d) => d instanceof YMap) ? 'inline' : 'both';
}

/** True when any document of the file has the field (as kustomize's decoding finds it). */
export function anyDocHas(k: KustomizationFile, field: string): boolean {
  return k.docs.some((d) => hasField(d, field));
}
