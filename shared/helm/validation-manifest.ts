/**
 * Would helm's client-side OpenAPI validation pass this release manifest? The manifest is the
 * post-rendered stream helm hands back to Build: split into documents the way
 * apimachinery's YAMLReader splits it (lines starting with `---`), each read as
 * sigs.k8s.io/yaml reads it (go-yaml v2 scalars, JSON values: goyaml.ts), its kind taken as
 * kubectl's getObjectKind takes it, then validated against the cluster's models
 * (validation-models.ts).
 *
 * The answer is a promise only in one direction: `undefined` means helm's validation finds
 * nothing; a reason means "not sure" (a real problem, or input this reading does not follow
 * exactly, such as a `List`, a `---` line with content, or YAML it cannot read), and the
 * caller then lets helm validate as it always does.
 */
import { splitApiVersion } from '../kube/object.js';
import { GoYamlError, parseGoYaml } from './goyaml.js';
import type { ValidationModels } from './validation-models.js';

/** A line that starts a document for apimachinery's YAMLReader: `---`, then only blanks or a comment. */
const SEPARATOR = /^---[ \t\r]*(#.*)?$/;

/** The documents of a YAML stream as apimachinery's YAMLReader cuts them, or a reason it would not. */
function splitDocuments(stream: string): string[] | string {
  const docs: string[] = [];
  let current: string[] = [];
  for (const line of stream.split('\n')) {
    if (line.startsWith('---')) {
      if (!SEPARATOR.test(line)) return `a document separator line has content: ${line.slice(0, 40)}`;
      if (current.length) docs.push(current.join('\n'));
      current = [];
      continue;
    }
    current.push(line);
  }
  if (current.length) docs.push(current.join('\n'));
  return docs;
}

/** apimachinery's ParseGroupVersion, refusing what it would refuse (and the empty version it would accept). */
function groupVersion(apiVersion: string): { group: string; version: string } | undefined {
  if (apiVersion === '' || apiVersion === '/' || apiVersion.split('/').length > 2) return undefined;
  return splitApiVersion(apiVersion);
}

/**
 * Checks a post-rendered release manifest against the cluster's models. Returns undefined
 * when helm's validation would pass every document, else the first reason it might not.
 */
export function manifestValidationProblem(manifest: string, models: ValidationModels): string | undefined {
  const docs = splitDocuments(manifest);
  if (typeof docs === 'string') return docs;
  for (const text of docs) {
    if (text.trim() === '') continue;
    let obj: unknown;
    try {
      obj = parseGoYaml(text);
    } catch (err) {
      if (err instanceof GoYamlError) return err.message;
      throw err;
    }
    if (obj === null) continue;
    if (typeof obj !== 'object' || Array.isArray(obj)) return 'a document is not a map';
    const o = obj as Record<string, unknown>;
    if (typeof o.apiVersion !== 'string' || typeof o.kind !== 'string') return 'a document has no string apiVersion and kind';
    const gv = groupVersion(o.apiVersion);
    if (!gv) return `apiVersion ${JSON.stringify(o.apiVersion)} is not group/version`;
    if (gv.group === '' && gv.version === 'v1' && o.kind === 'List') return 'a v1 List (validated item by item by kubectl)';
    const problem = models.validateObject(o, gv.group, gv.version, o.kind);
    if (problem) return problem;
  }
  return undefined;
}
