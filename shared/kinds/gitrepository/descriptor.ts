/** The GitRepository kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the GitRepository kind is, without the reconciler (light: loaded by every function). */
export const gitRepositoryDescriptor: KindDescriptor = {
  kind: 'GitRepository',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'source git', plural: 'sources git', aliases: ['gitrepository', 'gitrepositories', 'git', 'source'], source: true },
  schedule: 'poll',
};
