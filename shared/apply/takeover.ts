/**
 * Flux's field-manager takeover (fluxcd/pkg ssa cleanupMetadata): fields owned by kubectl
 * (client-side apply, `kubectl edit`) and `before-first-apply` become ours, and kubectl's
 * last-applied annotation goes, so that fields removed from Git are removed from the cluster.
 */
import type { KubeObject, ManagedFieldsEntry } from '../kube/object.js';
import { LAST_APPLIED, mergeOnly } from './annotations.js';

/** Managers whose fields we adopt (kustomize-controller's defaults). */
const TAKEOVER: Array<{ name: string; op: 'Apply' | 'Update' }> = [
  { name: 'kubectl', op: 'Apply' },
  { name: 'kubectl', op: 'Update' },
  { name: 'before-first-apply', op: 'Update' },
];

/** The JSON patch that hands kubectl's fields to `manager` and drops last-applied, if anything needs it. */
export function takeoverPatch(manager: string, desired: KubeObject, existing: KubeObject | undefined): unknown[] | undefined {
  if (!existing) return undefined;
  if (mergeOnly(desired, existing)) return undefined;
  const patches: unknown[] = [];
  if (existing.metadata.annotations && LAST_APPLIED in existing.metadata.annotations) {
    patches.push({ op: 'remove', path: `/metadata/annotations/${LAST_APPLIED.replace(/~/g, '~0').replace(/\//g, '~1')}` });
  }
  const entries = existing.metadata.managedFields ?? [];
  let renamed = false;
  const merged: ManagedFieldsEntry[] = [];
  const ours = new Map<string, ManagedFieldsEntry>();
  for (const e of entries) {
    const take = !e.subresource && TAKEOVER.some((t) => (e.manager ?? '').startsWith(t.name) && e.operation === t.op);
    const entry: ManagedFieldsEntry = take ? { ...e, manager, operation: 'Apply' } : { ...e };
    if (take) renamed = true;
    if (entry.manager === manager && entry.operation === 'Apply' && !entry.subresource) {
      const key = entry.apiVersion ?? '';
      const prev = ours.get(key);
      if (prev) {
        prev.fieldsV1 = mergeFields(prev.fieldsV1 ?? {}, entry.fieldsV1 ?? {});
        continue;
      }
      ours.set(key, entry);
    }
    merged.push(entry);
  }
  if (renamed) patches.push({ op: 'replace', path: '/metadata/managedFields', value: merged });
  return patches.length ? patches : undefined;
}

function mergeFields(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      cur && typeof cur === 'object' && v && typeof v === 'object'
        ? mergeFields(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
