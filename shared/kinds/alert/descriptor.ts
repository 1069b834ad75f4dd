/** The Alert kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the Alert kind is, without the reconciler (light: loaded by every function). */
export const alertDescriptor: KindDescriptor = {
  kind: 'Alert',
  group: 'notification.toolkit.fluxcd.io',
  versions: { served: ['v1beta3'], removed: { v1beta1: 'v1beta3', v1beta2: 'v1beta3' } },
  names: { singular: 'alert', plural: 'alerts', aliases: ['alert'] },
};
