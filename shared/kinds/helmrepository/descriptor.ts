/** The HelmRepository kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the HelmRepository kind is, without the reconciler (light: loaded by every function). */
export const helmRepositoryDescriptor: KindDescriptor = {
  kind: 'HelmRepository',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'source helm', plural: 'sources helm', aliases: ['helmrepository', 'helmrepositories', 'helm'], source: true },
  schedule: 'poll',
};
