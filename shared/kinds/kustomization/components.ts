/**
 * Flux's own components in a `flux bootstrap`ped repository (`gotk-components.yaml`: the
 * controllers, their CRDs, RBAC and services). Fluxless replaces those controllers, so they
 * are never applied unless the configuration asks for it (`applyFluxComponents: true`):
 * applying them would start Flux next to Fluxless. The flux-system Namespace itself is kept,
 * since Secrets and other objects of the fleet live in it.
 */
import type { KubeObject } from '../../kube/object.js';

/** True for an object of Flux's own installation (labels `app.kubernetes.io/part-of: flux`). */
export function isFluxComponent(obj: KubeObject): boolean {
  const l = obj.metadata.labels ?? {};
  return l['app.kubernetes.io/part-of'] === 'flux' && obj.kind !== 'Namespace';
}

/** Splits a build's cluster objects into those to apply and Flux's components to leave out. */
export function withoutFluxComponents(objects: KubeObject[], apply: boolean): { objects: KubeObject[]; skipped: KubeObject[] } {
  if (apply) return { objects, skipped: [] };
  const skipped = objects.filter(isFluxComponent);
  return skipped.length ? { objects: objects.filter((o) => !isFluxComponent(o)), skipped } : { objects, skipped };
}
