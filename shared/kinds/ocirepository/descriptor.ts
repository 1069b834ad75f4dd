/** The OCIRepository kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the OCIRepository kind is, without the reconciler (light: loaded by every function). */
export const ociRepositoryDescriptor: KindDescriptor = {
  kind: 'OCIRepository',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta2: 'v1' } },
  names: { singular: 'source oci', plural: 'sources oci', aliases: ['ocirepository', 'ocirepositories', 'oci'], source: true },
  schedule: 'poll',
};
