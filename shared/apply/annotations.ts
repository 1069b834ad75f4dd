/** Flux's per-object annotations (kustomize-controller) and what they make the engine do. */
import { inMetadata, type KubeObject } from '../kube/object.js';

/** Prefix of kustomize-controller's labels and annotations. */
export const FLUX_PREFIX = 'kustomize.toolkit.fluxcd.io';
/** `ssa: Merge | IfNotPresent | Ignore`: how the object is applied. */
export const SSA_ANNOTATION = `${FLUX_PREFIX}/ssa`;
/** `force: Enabled`: recreate the object when an immutable field changed. */
export const FORCE_ANNOTATION = `${FLUX_PREFIX}/force`;
/** `reconcile: disabled`: leave the object alone. */
export const RECONCILE_ANNOTATION = `${FLUX_PREFIX}/reconcile`;
/** `prune: disabled`: never delete the object. */
export const PRUNE_ANNOTATION = `${FLUX_PREFIX}/prune`;
/** kubectl's client-side apply record, removed when we take an object over. */
export const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** The object is not applied: `reconcile: disabled` or `ssa: Ignore` on either side, or `ssa: IfNotPresent` and it exists. */
export function shouldSkip(desired: KubeObject, existing: KubeObject | undefined): boolean {
  for (const o of [desired, existing]) {
    if (inMetadata(o, RECONCILE_ANNOTATION, 'disabled') || inMetadata(o, SSA_ANNOTATION, 'Ignore')) return true;
  }
  return Boolean(existing?.metadata.uid) && inMetadata(desired, SSA_ANNOTATION, 'IfNotPresent');
}

/** Recreate on immutable-field errors: spec.force, or `force: Enabled` on either side. */
export function shouldForce(force: boolean | undefined, desired: KubeObject, existing: KubeObject | undefined): boolean {
  return Boolean(force) || inMetadata(desired, FORCE_ANNOTATION, 'Enabled') || inMetadata(existing, FORCE_ANNOTATION, 'Enabled');
}

/** A live object prune may delete: none of `prune: disabled`, `reconcile: disabled`, `ssa: Ignore`. */
export function prunable(live: KubeObject): boolean {
  return !(inMetadata(live, PRUNE_ANNOTATION, 'disabled') || inMetadata(live, RECONCILE_ANNOTATION, 'disabled') || inMetadata(live, SSA_ANNOTATION, 'Ignore'));
}

/** `ssa: Merge` on either side: keep fields of other managers (no takeover of kubectl's). */
export function mergeOnly(desired: KubeObject, existing: KubeObject): boolean {
  return inMetadata(desired, SSA_ANNOTATION, 'Merge') || inMetadata(existing, SSA_ANNOTATION, 'Merge');
}
