/**
 * The Receiver kind (`notification.toolkit.fluxcd.io/v1`): validated, its token Secret
 * read, and `status.webhookPath` written, as notification-controller does. The webhook
 * function serves every Ready Receiver (shared/runtime/webhook.ts).
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { receiverDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { writeStatus } from '../../reconcile/status.js';
import { webhookPath } from '../../receivers/signature.js';
import { parseReceiver, parseReceiverObject } from '../../receivers/spec.js';
import { errorMessage } from '../../util/errors.js';
import { withCel } from '../../cel/load.js';

/** Flux requeues Receivers every 10 minutes (spec.interval default). */
const RECEIVER_INTERVAL_MS = 10 * 60_000;

/** Reconciles one Receiver. */
export async function reconcileReceiver(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  try {
    const spec = await withCel(() => parseReceiver(rec.object));
    const data = await svc.secrets.get(key.namespace, spec.secretRef.name);
    if (!data.token) throw new Error(`Secret '${key.namespace}/${spec.secretRef.name}' has no 'token' key`);
    const p = webhookPath(data.token, key.name, key.namespace);
    const message = `Receiver initialized for path: ${p}`;
    await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, fields: { webhookPath: p }, handledRequest: rec.requestedAt }, svc.now());
    return { ready: true, reason: 'Succeeded', message, wake: [] };
  } catch (err) {
    const message = errorMessage(err);
    await writeStatus(
      svc.state,
      key,
      { ready: false, reason: 'ReconciliationFailed', message, handledRequest: rec.requestedAt, nextRunMs: RECEIVER_INTERVAL_MS, event: { severity: 'error', reason: 'ReconciliationFailed', message } },
      svc.now(),
    );
    return { ready: false, reason: 'ReconciliationFailed', message, wake: [], transientError: transientCause(err) };
  }
}

/** The Receiver kind. */
export const receiverKind: KindReconciler = {
  ...receiverDescriptor,
  reconcile: reconcileReceiver,
  finalize: async (svc, req) => {
    await svc.state.delete(req.key);
    return { ready: false, reason: 'Finalized', message: `Receiver ${req.key.namespace}/${req.key.name} deleted`, wake: [] };
  },
  summary: () => ({ revision: '' }),
  validate: (obj) => void parseReceiverObject(obj),
};
