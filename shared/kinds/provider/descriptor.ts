/** The Provider kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the Provider kind is, without the reconciler (light: loaded by every function). */
export const providerDescriptor: KindDescriptor = {
  kind: 'Provider',
  group: 'notification.toolkit.fluxcd.io',
  versions: { served: ['v1beta3'], removed: { v1beta1: 'v1beta3', v1beta2: 'v1beta3' } },
  names: { singular: 'alert-provider', plural: 'alert-providers', aliases: ['provider', 'providers', 'alertprovider', 'alertproviders'] },
};
