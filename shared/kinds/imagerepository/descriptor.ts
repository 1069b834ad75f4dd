/** The ImageRepository kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the ImageRepository kind is, without the reconciler (light: loaded by every function). */
export const imageRepositoryDescriptor: KindDescriptor = {
  kind: 'ImageRepository',
  group: 'image.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'image repository', plural: 'images repository', aliases: ['imagerepository', 'imagerepositories', 'imagerepo', 'imgrepo'] },
  schedule: 'poll',
};
