/**
 * The worker: handles one reconcile message through the kind registry. The kind's
 * reconciler (or finalizer, when the definition left Git) does the work and writes the
 * status; the worker enqueues what it asks to wake, and rethrows a transient error so the
 * queue redelivers the message (and, after N tries, dead-letters it: `deadLettered`).
 */
import { fmtRef, type ObjectKey } from '../kube/object.js';
import type { ReceivedMessage } from '../queue/index.js';
import type { ReconcileRequest } from '../reconcile/contract.js';
import { writeStatus } from '../reconcile/status.js';
import { kindReconciler } from '../kinds/registry.js';
import { corruptMessage, readRecordSafe } from '../state/records.js';
import { parseDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';
import { removedVersionMessage } from './versions.js';

/** Reconciles (or finalizes) the message's target. */
export async function handleMessage(rt: Runtime, msg: ReceivedMessage, signal?: AbortSignal): Promise<void> {
  const t = msg.message.target;
  const logger = log.child({ target: fmtRef(t), reason: msg.message.reason, delivery: msg.receiveCount });
  const read = await readRecordSafe(rt.state, t);
  if (read.corrupt) {
    // Nothing can be done for this object until its record is repaired; everyone else goes on.
    logger.error('skipping an object whose state record is corrupt', { error: corruptMessage(read) });
    return;
  }
  const rec = read.record;
  if (!rec?.object) return; // finalized already, or never defined
  const kind = kindReconciler(t.kind);
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
  const req: ReconcileRequest = { key: t, record: rec, reason: msg.message.reason, revision: msg.message.revision, signal, log: logger };
  const result = rec.deleted ? await kind.finalize(rt, req) : await kind.reconcile(rt, req);
  for (const w of result.wake) await enqueue(rt, w.key, w.reason, { dedupKey: w.dedupKey, revision: w.revision });
  logger.info(`${t.kind.toLowerCase()} handled`, { ready: result.ready, reason: result.reason });
  if (result.transientError) throw result.transientError;
}

/**
 * A message was dead-lettered: leave a trace on its object (Ready=False with the reason and
 * an event) and move its next scheduled run, so the scheduler's next request is not
 * swallowed by the dead message's deduplication id.
 */
export async function deadLettered(rt: Runtime, target: ObjectKey, reason: string): Promise<void> {
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
