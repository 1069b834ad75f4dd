/** The ArtifactGenerator kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the ArtifactGenerator kind is, without the reconciler (light: loaded by every function). */
export const artifactGeneratorDescriptor: KindDescriptor = {
  kind: 'ArtifactGenerator',
  group: 'source.extensions.fluxcd.io',
  versions: { served: ['v1beta1'] },
  names: { singular: 'artifactgenerator', plural: 'artifactgenerators', aliases: ['ag', 'artifactgenerator'] },
  schedule: 'poll',
};
