/** Descriptors of the Flux kinds Fluxless recognises and does not reconcile yet (unsupported/reconciler.ts reports them). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** Bucket (source-controller): kept and shown NotSupported until Fluxless fetches from buckets. */
export const bucketDescriptor: KindDescriptor = {
  kind: 'Bucket',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'] },
  names: { singular: 'source bucket', plural: 'sources bucket', aliases: ['bucket', 'buckets'], source: true },
};
