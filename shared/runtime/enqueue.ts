import { reconcileMessage, toQueueId, type ReconcileReason } from '../queue/index.js';
import type { Runtime } from './runtime.js';

export interface Target {
  kind: string;
  namespace: string;
  name: string;
}

/**
 * Enqueues a reconcile of `target`. `dedupKey` collapses duplicates within the queue's
 * 5-minute window (e.g. the same revision, the same webhook delivery, the same due time).
 */
export async function enqueue(rt: Runtime, target: Target, reason: ReconcileReason, opts: { revision?: string; dedupKey?: string } = {}): Promise<void> {
  const msg = reconcileMessage(target, reason, { revision: opts.revision, requestedAt: rt.now() });
  const base = `${target.kind}/${target.namespace}/${target.name}`;
  const dedupId = opts.dedupKey ? `${base}#${opts.dedupKey}` : undefined;
  await rt.queue.send(msg, dedupId ? { dedupId: toQueueId(dedupId) } : {});
}
