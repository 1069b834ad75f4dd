/**
 * Whether a kustomization may share one kustomize run with other builds (kustomize-batch.ts)
 * without that changing its output: fields whose effects reach beyond their own build in a
 * shared run make it unsafe. Field names are matched as kustomize's decoding matches them
 * (case-insensitively, merges included; see kustomization-file.ts).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isWithin } from './generator.js';
import { anyDocHas, type KustomizationFile } from './kustomization-file.js';
import { YMap, analyseYaml, fieldValues } from './yaml-analysis.js';

/**
 * Kustomization fields whose effects reach beyond their own build when several builds share
 * one kustomize run: renames fixed up in back references at the top (prefix/suffix,
 * generator hashes, replacements, name-changing patches), vars resolved at the top,
 * process-wide schemas (openapi, crds), shared transformer configurations, plugins, and
 * output decorations that depend on the build root.
 */
const NOT_BATCH_SAFE_FIELDS = [
  'namePrefix', 'nameSuffix', 'configMapGenerator', 'secretGenerator', 'generators', 'transformers', 'validators',
  'vars', 'replacements', 'openapi', 'crds', 'configurations', 'buildMetadata', 'helmCharts', 'helmGlobals',
  'helmChartInflationGenerator', 'sortOptions',
];

/** Paths a JSON patch must not touch for its build to share a kustomize run. */
const IDENTITY_PATH = /^(|\/|\/metadata\/?|\/metadata\/(name|namespace|generateName)(\/.*)?|\/kind|\/apiVersion)$/;

/**
 * True when the kustomization in `dir` (read as `k`, raw `text`) cannot affect, or be
 * affected by, other builds in a shared kustomize run.
 */
export async function isBatchSafe(k: KustomizationFile, text: string, dir: string, root: string): Promise<boolean> {
  if (NOT_BATCH_SAFE_FIELDS.some((f) => anyDocHas(k, f))) return false;
  for (const doc of k.docs) {
    for (const kind of fieldValues(doc, 'kind')) if (kind !== 'Kustomization') return false;
  }
  if (/allownamechange|allowkindchange/i.test(text)) return false;
  // JSON 6902 patches may rename an object (or move it) without allowNameChange; kustomize
  // then fixes references to it across the whole run, other builds' included.
  for (const doc of k.docs) {
    for (const field of ['patches', 'patchesJson6902']) {
      for (const list of fieldValues(doc, field)) {
        if (!Array.isArray(list)) return false;
        for (const p of list) {
          if (!(p instanceof YMap)) return false;
          const patch = fieldValues(p, 'patch');
          const file = fieldValues(p, 'path');
          let body: string;
          if (patch.length === 1 && typeof patch[0] === 'string' && file.length === 0) body = patch[0];
          else if (file.length === 1 && typeof file[0] === 'string' && patch.length === 0) {
            const f = path.resolve(dir, file[0]);
            if (!isWithin(root, f)) return false;
            try {
              body = await readFile(f, 'utf8');
            } catch {
              return false; // missing: kustomize reports it, alone
            }
          } else return false;
          if (renamesObjects(body)) return false;
        }
      }
    }
  }
  return true;
}

/** Does this patch (JSON 6902 as YAML or JSON; strategic merge patches never rename) change an object's identity? */
function renamesObjects(body: string): boolean {
  let doc: unknown;
  try {
    const a = analyseYaml(body, { tree: true });
    if (a.excessive || a.docs.length > 1) return true;
    doc = a.docs[0];
  } catch {
    return true; // unparsable: let kustomize say so, alone
  }
  if (!Array.isArray(doc)) return false; // a strategic merge patch
  return doc.some((op) => {
    if (!(op instanceof YMap)) return true;
    return [...fieldValues(op, 'path'), ...fieldValues(op, 'from')].some((v) => typeof v !== 'string' || IDENTITY_PATH.test(v));
  });
}
