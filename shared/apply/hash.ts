/** The hash of what we apply, stored with the inventory to tell "Git did not change this object". */
import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/object.js';

/** JSON with object keys sorted at every level (the same object always gives the same text). */
export function stableJson(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map((x) => (x === undefined ? 'null' : stableJson(x))).join(',')}]`;
  const rec = v as Record<string, unknown>;
  const keys = Object.keys(rec)
    .filter((k) => rec[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableJson(rec[k])}`).join(',')}}`;
}

/**
 * The hash of one apply request: the object exactly as sent (after normalization) and the
 * field manager that sends it. 128 bits of sha256, hex: equal hashes mean the same request.
 */
export function appliedHash(fieldManager: string, obj: KubeObject): string {
  return createHash('sha256').update(fieldManager).update('\0').update(stableJson(obj)).digest('hex').slice(0, 32);
}
