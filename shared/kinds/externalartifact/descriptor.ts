/** The ExternalArtifact kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the ExternalArtifact kind is, without the reconciler (light: loaded by every function). */
export const externalArtifactDescriptor: KindDescriptor = {
  kind: 'ExternalArtifact',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'] },
  names: { singular: 'source external', plural: 'sources external', aliases: ['externalartifact', 'externalartifacts', 'ea'], source: true },
};
