/**
 * The worker: handles one queue message by its type. A reconcile goes through the kind
 * registry: the kind's reconciler (or finalizer, when the definition left Git) does the
 * work and writes the status; the worker enqueues what it asks to wake, and rethrows a
 * transient error so the queue redelivers the message (and, after N tries, dead-letters
 * it: `deadLettered`). A notify message is one event for one Alert's Provider
 * (shared/notify); a preview message renders a pull request against the live clusters
 * (shared/preview). Both are retried and dead-lettered the same way.
 */
import { fmtRef, type ObjectKey } from '../kube/object.js';
import type { ReceivedMessage } from '../queue/index.js';
import type { ReconcileMessage } from '../queue/message.js';
import { deadLetteredNotification, deliverNotification, NOTIFY_TARGET_KIND } from '../notify/deliver.js';
import { emitFinished } from '../notify/finished.js';
import { PREVIEW_TARGET_KIND } from '../preview/enqueue.js';
import type { ReconcileRequest } from '../reconcile/contract.js';
import { writeStatus } from '../reconcile/status.js';
import { loadReconciler } from '../kinds/load.js';
import { corruptMessage, readRecordSafe } from '../state/records.js';
import { parseDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';
import { runKindTick, TICK_TARGET_KIND } from './schedule.js';
import { removedVersionMessage } from './versions.js';

/** Handles one message: a reconcile (or finalize) of its target, a notification delivery, or a preview. */
export async function handleMessage(rt: Runtime, msg: ReceivedMessage, signal?: AbortSignal): Promise<void> {
  const m = msg.message;
  if (m.type === 'notify') return deliverNotification(rt, m, { attempt: msg.receiveCount, signal });
  // Previews (and the renderer they carry) are loaded by the first preview message.
  if (m.type === 'preview') return (await import('../preview/run.js')).runPreview(rt, m, { attempt: msg.receiveCount, signal });
  if (m.target.kind === TICK_TARGET_KIND) return void (await runKindTick(rt, m.target.name));
  return reconcileTarget(rt, m, msg.receiveCount, signal);
}

/** Reconciles (or finalizes) the message's target. */
async function reconcileTarget(rt: Runtime, message: ReconcileMessage, receiveCount: number, signal?: AbortSignal): Promise<void> {
  const t = message.target;
  const logger = log.child({ target: fmtRef(t), reason: message.reason, delivery: receiveCount });
  const read = await readRecordSafe(rt.state, t);
  if (read.corrupt) {
    // Nothing can be done for this object until its record is repaired; everyone else goes on.
    logger.error('skipping an object whose state record is corrupt', { error: corruptMessage(read) });
    return;
  }
  const rec = read.record;
  if (!rec?.object) return; // finalized already, or never defined
  const kind = await loadReconciler(t.kind);
  if (!kind) {
    if (rec.deleted) await rt.state.delete(t);
    else logger.warn(`${t.kind} is not a kind Fluxless knows: the definition is kept but not reconciled`);
    return;
  }
  if (!rec.deleted) {
    const removed = removedVersionMessage(kind, rec.object.apiVersion);
    if (removed) {
      await writeStatus(rt.state, t, { ready: false, reason: 'InvalidSpec', message: removed, stalled: true, handledRequest: rec.requestedAt, event: { severity: 'error', reason: 'InvalidSpec', message: removed } }, rt.now());
      return;
    }
  }
  const req: ReconcileRequest = { key: t, record: rec, reason: message.reason, revision: message.revision, signal, log: logger };
  const started = Date.now();
  // The reconcilers reach each other through the services (a Kustomization reconciles the definitions it waits for).
  const svc: Runtime = rt.reconcilerOf ? rt : { ...rt, reconcilerOf: loadReconciler };
  const result = rec.deleted ? await kind.finalize(svc, req) : await kind.reconcile(svc, req);
  const durationMs = Date.now() - started;
  for (const w of result.wake) await enqueue(rt, w.key, w.reason, { dedupKey: w.dedupKey, revision: w.revision });
  // Flux's "Reconciliation finished" event (commit status `success`) goes to the notification pipeline only.
  if (!rec.deleted) await emitFinished(rt.state, t, rec, result, durationMs, rt.now());
  logger.info(`${t.kind.toLowerCase()} handled`, { ready: result.ready, reason: result.reason });
  if (result.transientError) throw result.transientError;
}

/**
 * A message was dead-lettered: leave a trace on its object (Ready=False with the reason and
 * an event) and move its next scheduled run, so the scheduler's next request is not
 * swallowed by the dead message's deduplication id. A notify message leaves a Warning
 * event on its Alert, a preview one on its Receiver (and fails its check run).
 */
export async function deadLettered(rt: Runtime, target: ObjectKey, reason: string): Promise<void> {
  if (target.kind === NOTIFY_TARGET_KIND) return deadLetteredNotification(rt, target, reason);
  if (target.kind === PREVIEW_TARGET_KIND) return (await import('../preview/run.js')).deadLetteredPreview(rt, target, reason);
  try {
    const read = await readRecordSafe(rt.state, target);
    const rec = read.record;
    if (!rec?.object || rec.deleted) return;
    const spec = (rec.object.spec ?? {}) as { retryInterval?: string; interval?: string };
    let retryMs = 60_000;
    try {
      retryMs = parseDuration(spec.retryInterval ?? spec.interval ?? '1m');
    } catch {
      /* keep the default */
    }
    const message = `the reconcile was given up and moved to the dead-letter queue: ${reason}`;
    await writeStatus(rt.state, target, { ready: false, reason: 'DeadLettered', message, nextRunMs: retryMs, event: { severity: 'error', reason: 'DeadLettered', message } }, rt.now());
  } catch (err) {
    log.warn('could not record the dead-lettering on the object', { target: fmtRef(target), error: errorMessage(err) });
  }
}
