/**
 * The Provider kind (`notification.toolkit.fluxcd.io/v1beta3`): validated (type, address,
 * timeout, `commitStatusExpr` compiled), given a UID when its definition has none (Flux's
 * default commit status and PR comment markers include it), and its Ready condition
 * written, for `fluxless get alert-providers`. Secrets are read when a notification is
 * sent (shared/notify), as notification-controller does.
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { providerDescriptor } from './descriptor.js';
import { writeStatus } from '../../reconcile/status.js';
import { ensureProviderUid } from '../../notify/records.js';
import { parseProvider } from '../../notify/spec.js';
import { errorMessage } from '../../util/errors.js';
import { withCel } from '../../cel/load.js';

/** Validates one Provider and records the outcome. */
export async function reconcileProvider(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  try {
    const spec = await withCel(() => parseProvider(rec.object));
    await ensureProviderUid(svc.state, key, rec);
    const message = spec.suspend || rec.suspended ? 'Provider is suspended' : `Provider of type ${spec.type} is ready`;
    await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, handledRequest: rec.requestedAt }, svc.now());
    return { ready: true, reason: 'Succeeded', message, wake: [] };
  } catch (err) {
    const message = errorMessage(err);
    await writeStatus(svc.state, key, { ready: false, reason: 'InvalidSpec', message, stalled: true, handledRequest: rec.requestedAt, event: { severity: 'error', reason: 'InvalidSpec', message } }, svc.now());
    return { ready: false, reason: 'InvalidSpec', message, wake: [] };
  }
}

/** The Provider kind. */
export const providerKind: KindReconciler = {
  ...providerDescriptor,
  reconcile: reconcileProvider,
  finalize: async (svc, req) => {
    await svc.state.delete(req.key);
    return { ready: false, reason: 'Finalized', message: `Provider ${req.key.namespace}/${req.key.name} deleted`, wake: [] };
  },
  summary: () => ({ revision: '' }),
  validate: (obj) => void parseProvider(obj),
};
