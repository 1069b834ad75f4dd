/** The ImageUpdateAutomation kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the ImageUpdateAutomation kind is, without the reconciler (light: loaded by every function). */
export const imageUpdateAutomationDescriptor: KindDescriptor = {
  kind: 'ImageUpdateAutomation',
  group: 'image.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'image update', plural: 'images update', aliases: ['imageupdateautomation', 'imageupdateautomations', 'imageupdate'] },
  schedule: 'poll',
};
