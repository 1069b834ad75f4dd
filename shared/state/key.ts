/**
 * Object keys shared by the state store and the artifact store: `{ kind, namespace, name }`
 * of a Kubernetes object. They become path segments (files) and key segments (S3), so each
 * part is validated: a part that could climb out of its directory or collide with another
 * object's key is refused.
 */
import { createHash } from 'node:crypto';
import { fmtRef, type ObjectKey } from '../kube/object.js';
import { ValidationError } from '../util/errors.js';

/** Identifies a Kubernetes object by kind, namespace and name; the key of state and artifact records. */
export type { ObjectKey } from '../kube/object.js';
export { sameKey } from '../kube/object.js';

/** The segment used on disk / in S3 for an empty (cluster-scoped) namespace. */
export const CLUSTER_SCOPE_SEGMENT = '_';

// Kubernetes names are DNS subdomains or labels; kinds are CamelCase identifiers. We allow a
// little more than Kubernetes (upper case, `_`) but nothing that changes a path's meaning.
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;

function checkSegment(what: string, value: unknown, key: Partial<ObjectKey>): string {
  if (typeof value !== 'string' || !SEGMENT.test(value) || value.includes('..')) {
    throw new ValidationError(
      `invalid ${what} ${JSON.stringify(value)} in object key ${describeKey(key)}: ` +
        'use letters, digits, ".", "-" or "_" (at most 253 characters, starting with a letter or digit)',
    );
  }
  return value;
}

/** Validates a key and returns its three path segments. */
export function keySegments(key: ObjectKey): [string, string, string] {
  const kind = checkSegment('kind', key?.kind, key ?? {});
  const ns = key.namespace === '' || key.namespace === undefined ? CLUSTER_SCOPE_SEGMENT : checkSegment('namespace', key.namespace, key);
  const name = checkSegment('name', key.name, key);
  return [kind, ns, name];
}

/** Validates an optional `{kind?, namespace?}` prefix; namespace without kind is refused. */
export function prefixSegments(prefix: { kind?: string; namespace?: string } = {}): string[] {
  const out: string[] = [];
  if (prefix.kind !== undefined) out.push(checkSegment('kind', prefix.kind, prefix));
  if (prefix.namespace !== undefined) {
    if (prefix.kind === undefined) {
      throw new ValidationError(`list prefix ${JSON.stringify(prefix)} names a namespace without a kind: give the kind too`);
    }
    out.push(prefix.namespace === '' ? CLUSTER_SCOPE_SEGMENT : checkSegment('namespace', prefix.namespace, prefix));
  }
  return out;
}

/** Turns three stored segments back into a key (inverse of keySegments). */
export function keyFromSegments(kind: string, ns: string, name: string): ObjectKey {
  return { kind, namespace: ns === CLUSTER_SCOPE_SEGMENT ? '' : ns, name };
}

/** True when `s` can be a key segment as is. */
export function isValidSegment(s: string): boolean {
  return SEGMENT.test(s) && !s.includes('..');
}

/** `Kind/namespace/name` (or `Kind/name` when cluster-scoped), for messages. */
export function describeKey(key: Partial<ObjectKey>): string {
  return fmtRef({ kind: String(key.kind), namespace: key.namespace, name: String(key.name) });
}

/** Stable ordering for listings: kind, then namespace, then name. */
export function compareKeys(a: ObjectKey, b: ObjectKey): number {
  return cmp(a.kind, b.kind) || cmp(a.namespace, b.namespace) || cmp(a.name, b.name);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A whole key as one segment, `<Kind>.<namespace or _>.<name>`, for records named after
 * another object (index entries, due markers); a key too long for that becomes `h.<sha256>`,
 * which keyFromSegment cannot read back (keep the key in the record's value too).
 */
export function keyAsSegment(key: ObjectKey): string {
  const plain = `${key.kind}.${key.namespace || CLUSTER_SCOPE_SEGMENT}.${key.name}`;
  if (plain.length <= 253 && isValidSegment(plain)) return plain;
  return `h.${createHash('sha256').update(JSON.stringify(key)).digest('hex')}`;
}

/** The key of a keyAsSegment segment; undefined for a hashed one. */
export function keyFromSegment(segment: string): ObjectKey | undefined {
  if (segment.startsWith('h.')) return undefined;
  const i = segment.indexOf('.');
  const j = segment.indexOf('.', i + 1);
  if (i < 0 || j < 0) return undefined;
  const ns = segment.slice(i + 1, j);
  return { kind: segment.slice(0, i), namespace: ns === CLUSTER_SCOPE_SEGMENT ? '' : ns, name: segment.slice(j + 1) };
}
