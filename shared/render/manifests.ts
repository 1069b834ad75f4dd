/**
 * kustomize's output read back into objects: every document must be an object with
 * apiVersion, kind and metadata.name, and a Secret still encrypted with SOPS is refused
 * (Fluxless cannot decrypt yet; applied as is, the API server would only say "field not
 * declared in schema").
 */
import { isScalar, parseAllDocuments } from 'yaml';
import { ValidationError } from '../util/errors.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';
import { SopsNotSupportedError } from './errors.js';
import type { KubeObject } from './types.js';

function snippet(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? s.slice(0, 200) + '...' : s;
}

/** Parses kustomize output into objects, rejecting any without apiVersion, kind or metadata.name. */
export function parseManifests(text: string): KubeObject[] {
  // uniqueKeys: false keeps parsing linear (the yaml package's duplicate check is quadratic);
  // kustomize output never repeats a key.
  const deep = yamlNestingProblem(text);
  if (deep) throw new ValidationError(`failed to parse kustomize output: ${deep}`);
  const docs = parseAllDocuments(text, { uniqueKeys: false });
  const objects: KubeObject[] = [];
  if (!Array.isArray(docs)) return objects;
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i];
    if (doc.errors.length) {
      throw new ValidationError(`failed to parse kustomize output (document ${i + 1}): ${doc.errors[0].message}`);
    }
    const c = doc.contents;
    if (c === null || (isScalar(c) && (c.value === null || c.value === undefined))) continue;
    const v = doc.toJS() as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      throw new ValidationError(`failed to decode Kubernetes apiVersion, kind and name from: ${snippet(v)}`);
    }
    const o = v as Record<string, unknown>;
    const meta = o.metadata as Record<string, unknown> | undefined;
    const missing: string[] = [];
    if (typeof o.apiVersion !== 'string' || !o.apiVersion) missing.push('apiVersion');
    if (typeof o.kind !== 'string' || !o.kind) missing.push('kind');
    if (!meta || typeof meta !== 'object' || typeof meta.name !== 'string' || !meta.name) missing.push('metadata.name');
    if (missing.length) {
      const what = [typeof o.kind === 'string' ? o.kind : undefined, meta && typeof meta.name === 'string' ? meta.name : undefined]
        .filter(Boolean)
        .join(' ');
      throw new ValidationError(
        `failed to decode Kubernetes apiVersion, kind and name from ${what ? `'${what}'` : `object ${i + 1}`}: missing ${missing.join(', ')} in ${snippet(v)}`,
      );
    }
    objects.push(o as KubeObject);
  }
  return objects;
}

/** True for a Secret that still carries SOPS metadata (a top-level `sops:` block), as Flux's decryptor detects it. */
export function isSopsEncryptedSecret(obj: KubeObject): boolean {
  return obj.kind === 'Secret' && obj.sops !== undefined && obj.sops !== null;
}

/** Throws SopsNotSupportedError for the first SOPS-encrypted Secret among `objects`. */
export function assertNoSopsSecrets(objects: KubeObject[]): void {
  for (const o of objects) {
    if (!isSopsEncryptedSecret(o)) continue;
    const ns = o.metadata.namespace;
    throw new SopsNotSupportedError(ns ? `${ns}/${o.metadata.name}` : o.metadata.name);
  }
}
