/** The Receiver kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the Receiver kind is, without the reconciler (light: loaded by every function). */
export const receiverDescriptor: KindDescriptor = {
  kind: 'Receiver',
  group: 'notification.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'receiver', plural: 'receivers', aliases: ['receiver', 'rcv'] },
  schedule: 'drift',
};
