/**
 * The scheduled trigger: every tick, enqueue the sources whose interval is due (polling
 * for sources without webhooks) and the Kustomizations whose interval is due (drift
 * checks), plus definitions removed from Git that still need finalizing.
 */
import { readRecord } from '../reconcile/records.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';

export const SCHEDULED_KINDS = ['GitRepository', 'Kustomization'] as const;

export interface TickResult {
  enqueued: Array<{ kind: string; namespace: string; name: string; reason: string }>;
}

export async function scheduleTick(rt: Runtime): Promise<TickResult> {
  const now = rt.now();
  const enqueued: TickResult['enqueued'] = [];
  for (const kind of SCHEDULED_KINDS) {
    for (const key of await rt.state.list({ kind })) {
      const rec = await readRecord(rt.state, key);
      if (!rec?.object) continue;
      const spec = (rec.object.spec ?? {}) as { suspend?: boolean };
      let reason: string | undefined;
      if (rec.deleted) reason = 'finalize';
      else if (spec.suspend || rec.suspended) continue;
      else if (!rec.status.lastReconciledAt) reason = 'new';
      else if (rec.status.nextRunAt && Date.parse(rec.status.nextRunAt) <= now.getTime()) reason = kind === 'GitRepository' ? 'poll' : 'drift';
      if (!reason) continue;
      // One message per due time: ticks before the worker gets to it collapse (and a new or
      // removed definition collapses with the worker's own request for it).
      const dedupKey =
        reason === 'finalize' ? 'finalize' : reason === 'new' ? `gen-${rec.object.metadata.generation ?? 0}` : `${reason}-${rec.status.nextRunAt}`;
      await enqueue(rt, key, reason, { dedupKey });
      enqueued.push({ ...key, reason });
    }
  }
  return { enqueued };
}
