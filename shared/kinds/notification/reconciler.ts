/**
 * Alert and Provider (`notification.toolkit.fluxcd.io/v1beta3`): static configuration in
 * Flux 2.9 (no status conditions). Kept as definitions; sending comes with notifications.
 */
import type { KindReconciler } from '../../reconcile/contract.js';

function definitionOnly(kind: string, singular: string, plural: string): KindReconciler {
  return {
    kind,
    group: 'notification.toolkit.fluxcd.io',
    versions: { served: ['v1beta3'], removed: { v1beta1: 'v1beta3', v1beta2: 'v1beta3' } },
    names: { singular, plural, aliases: [singular] },
    reconcile: async () => ({ ready: true, reason: 'Succeeded', message: `${kind} stored`, wake: [] }),
    finalize: async (svc, req) => {
      await svc.state.delete(req.key);
      return { ready: false, reason: 'Finalized', message: `${kind} ${req.key.namespace}/${req.key.name} deleted`, wake: [] };
    },
    summary: () => ({ revision: '' }),
  };
}

/** The Alert kind. */
export const alertKind = definitionOnly('Alert', 'alert', 'alerts');
/** The Provider kind. */
export const providerKind = definitionOnly('Provider', 'alert-provider', 'alert-providers');
