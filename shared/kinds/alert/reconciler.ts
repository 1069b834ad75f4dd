/**
 * The Alert kind (`notification.toolkit.fluxcd.io/v1beta3`). Flux's Alert has nothing to
 * reconcile (notification-controller reads it when an event arrives); Fluxless validates
 * the definition and writes Ready (True, or False/Stalled with the field at fault), so
 * `fluxless get alerts` shows whether it can work. Matching and delivery: shared/notify.
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { alertDescriptor } from './descriptor.js';
import { writeStatus } from '../../reconcile/status.js';
import { failureKey } from '../../notify/records.js';
import { parseAlert } from '../../notify/spec.js';
import { errorMessage } from '../../util/errors.js';
import { withCel } from '../../cel/load.js';

/** Validates one Alert and records the outcome. */
export async function reconcileAlert(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  try {
    const spec = await withCel(() => parseAlert(rec.object));
    const sources = spec.eventSources.map((s) => `${s.kind}/${s.namespace}/${s.name}`).join(', ');
    const message = spec.suspend || rec.suspended ? 'Alert is suspended' : `Alert sends ${spec.eventSeverity === 'error' ? 'error' : 'info and error'} events of ${sources} to Provider ${spec.providerRef}`;
    await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, handledRequest: rec.requestedAt }, svc.now());
    return { ready: true, reason: 'Succeeded', message, wake: [] };
  } catch (err) {
    const message = errorMessage(err);
    await writeStatus(svc.state, key, { ready: false, reason: 'InvalidSpec', message, stalled: true, handledRequest: rec.requestedAt, event: { severity: 'error', reason: 'InvalidSpec', message } }, svc.now());
    return { ready: false, reason: 'InvalidSpec', message, wake: [] };
  }
}

/** The Alert kind. */
export const alertKind: KindReconciler = {
  ...alertDescriptor,
  reconcile: reconcileAlert,
  finalize: async (svc, req) => {
    await svc.state.delete(failureKey(req.key));
    await svc.state.delete(req.key);
    return { ready: false, reason: 'Finalized', message: `Alert ${req.key.namespace}/${req.key.name} deleted`, wake: [] };
  },
  summary: () => ({ revision: '' }),
  validate: (obj) => void parseAlert(obj),
};
