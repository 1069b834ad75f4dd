/** The Kustomization kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';
import { hasWatchedConfigs, watchedConfigWakes } from './watch.js';

/** What the Kustomization kind is, without the reconciler (light: loaded by every function). */
export const kustomizationDescriptor: KindDescriptor = {
  kind: 'Kustomization',
  group: 'kustomize.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'kustomization', plural: 'kustomizations', aliases: ['ks', 'kustomization'] },
  schedule: 'drift',
  tick: watchedConfigWakes,
  tickWanted: hasWatchedConfigs,
};
