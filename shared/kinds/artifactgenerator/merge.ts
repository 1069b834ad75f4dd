/**
 * The `Merge` copy strategy (source-watcher internal/builder/merge.go): both files are
 * read as YAML (the documents of a multi-document file are first merged into one map),
 * deep-merged with Helm's values rule (maps merge, anything else, lists included, is
 * replaced by the later file's value) and written back as YAML with sorted keys, as
 * sigs.k8s.io/yaml marshals a map.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { ValidationError } from '../../util/errors.js';
import { yamlNestingProblem } from '../../util/yaml-depth.js';

type Map = Record<string, unknown>;

function isMap(v: unknown): v is Map {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep merge: maps merge recursively, other values of `overlay` replace `base`'s. */
export function mergeMaps(base: Map, overlay: Map): Map {
  const out: Map = { ...base };
  for (const [k, v] of Object.entries(overlay)) {
    const b = out[k];
    out[k] = isMap(v) && isMap(b) ? mergeMaps(b, v) : v;
  }
  return out;
}

/** The documents of a YAML file merged into one map; `what` names the file in errors. */
export function loadYamlMap(text: string, what: string): Map {
  let out: Map = {};
  const deep = yamlNestingProblem(text);
  if (deep) throw new ValidationError(`cannot unmarshal YAML document in ${what}: ${deep}`);
  for (const doc of parseAllDocuments(text, { uniqueKeys: false })) {
    if (doc.errors.length) throw new ValidationError(`cannot unmarshal YAML document in ${what}: ${doc.errors[0]!.message}`);
    const v: unknown = doc.toJS({ maxAliasCount: 100 });
    if (v === null || v === undefined) continue;
    if (!isMap(v)) throw new ValidationError(`cannot unmarshal YAML document in ${what}: expected a map, got ${Array.isArray(v) ? 'a list' : typeof v}`);
    out = mergeMaps(out, v);
  }
  return out;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isMap(v)) return v;
  return Object.fromEntries(
    Object.keys(v)
      .sort()
      .map((k) => [k, sortKeys(v[k])]),
  );
}

/** Merges `overlay` (the file being copied) over `base` (the file already staged); the YAML to write. */
export async function mergeYamlFiles(base: string, overlay: string, what: string): Promise<string> {
  const merged = mergeMaps(loadYamlMap(base, what), loadYamlMap(overlay, what));
  return stringify(sortKeys(merged), { lineWidth: 0 });
}
