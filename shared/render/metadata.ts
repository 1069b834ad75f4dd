/** Metadata Fluxless sets on every rendered object: spec.commonMetadata and Flux's owner labels. */
import type { CommonMetadata, KubeObject } from './types.js';

/** Label naming the Kustomization that applied an object. */
export const OWNER_NAME_LABEL = 'kustomize.toolkit.fluxcd.io/name';
/** Label naming the namespace of the Kustomization that applied an object. */
export const OWNER_NAMESPACE_LABEL = 'kustomize.toolkit.fluxcd.io/namespace';

/** Flux ssautil.SetCommonMetadata: labels and annotations set on every object, overriding. */
export function applyCommonMetadata(objects: KubeObject[], cm: CommonMetadata | undefined): KubeObject[] {
  const labels = cm?.labels && Object.keys(cm.labels).length ? cm.labels : undefined;
  const annotations = cm?.annotations && Object.keys(cm.annotations).length ? cm.annotations : undefined;
  if (!labels && !annotations) return objects;
  for (const o of objects) {
    if (labels) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...labels };
    if (annotations) o.metadata.annotations = { ...(o.metadata.annotations ?? {}), ...annotations };
  }
  return objects;
}

/** Flux's owner labels (ssa ResourceManager.SetOwnerLabels), set on every object in place. */
export function addOwnerLabels(objects: KubeObject[], owner: { name: string; namespace: string }): KubeObject[] {
  for (const o of objects) {
    o.metadata.labels = { ...(o.metadata.labels ?? {}), [OWNER_NAME_LABEL]: owner.name, [OWNER_NAMESPACE_LABEL]: owner.namespace };
  }
  return objects;
}
