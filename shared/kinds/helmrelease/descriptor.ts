/** The HelmRelease kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the HelmRelease kind is, without the reconciler (light: loaded by every function). */
export const helmReleaseDescriptor: KindDescriptor = {
  kind: 'HelmRelease',
  group: 'helm.toolkit.fluxcd.io',
  versions: { served: ['v2'], removed: { v2beta1: 'v2', v2beta2: 'v2' } },
  names: { singular: 'helmrelease', plural: 'helmreleases', aliases: ['hr'] },
  schedule: 'drift',
};
