import { reconcileMessage, type ReconcileReason } from '../queue/index.js';
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
  await rt.queue.send(msg, dedupId ? { dedupId: toId(dedupId) } : {});
}

/** Queue ids: printable ASCII without spaces, at most 128 characters (hash when longer). */
import { createHash } from 'node:crypto';
function toId(s: string): string {
  const clean = s.replace(/[^\x21-\x7e]/g, '_');
  return clean.length <= 128 ? clean : `${clean.slice(0, 80)}~${createHash('sha256').update(clean).digest('hex').slice(0, 40)}`;
}
