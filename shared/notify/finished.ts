/**
 * kustomize-controller's success event, which Fluxless's reconcilers do not record (it
 * would fill the object's event list): after every successful reconcile of a
 * Kustomization that is not suspended, `Reconciliation finished in <duration>, next run
 * in <interval>` (info, reason = the Ready reason) with `<group>/revision` and
 * `<group>/commit_status: update`. It goes to the notification pipeline only: this is
 * what sets the `success` commit status after a failure, and what Slack-like providers
 * never see.
 */
import type { ObjectKey } from '../kube/object.js';
import type { ReconcileResult } from '../reconcile/contract.js';
import { emitEvent } from '../reconcile/events.js';
import type { StateStore } from '../state/store.js';
import type { FluxEvent, ObjectRecord } from '../state/records.js';
import { formatGoDuration, parseDuration } from '../util/duration.js';
import { META } from './event.js';

/** Kinds whose controller emits the commit-status update event on success. */
const FINISHED_KINDS = new Set(['Kustomization']);

/** The "Reconciliation finished" event for a successful reconcile, or undefined when Flux sends none. */
export function finishedEvent(key: ObjectKey, rec: ObjectRecord, result: ReconcileResult, durationMs: number, at: Date): { event: FluxEvent; record: ObjectRecord } | undefined {
  if (!FINISHED_KINDS.has(key.kind) || !result.ready || result.reason === 'Suspended' || !rec.object) return undefined;
  const spec = (rec.object.spec ?? {}) as { interval?: string; suspend?: boolean };
  if (spec.suspend || rec.suspended) return undefined;
  let interval = spec.interval ?? '';
  try {
    interval = formatGoDuration(parseDuration(interval));
  } catch {
    /* keep it as written */
  }
  const revision = result.revision ?? rec.status.lastAppliedRevision;
  const sameRevision = rec.status.lastAppliedRevision === revision;
  const record: ObjectRecord = {
    ...rec,
    status: { ...rec.status, lastAppliedRevision: revision, lastAppliedOriginRevision: sameRevision ? rec.status.lastAppliedOriginRevision : undefined },
  };
  const event: FluxEvent = {
    timestamp: at.toISOString(),
    severity: 'info',
    reason: result.reason,
    message: `Reconciliation finished in ${formatGoDuration(durationMs)}, next run in ${interval}`,
    metadata: { [META.commitStatus]: META.commitStatusUpdate },
    ...(revision ? { revision } : {}),
  };
  return { event, record };
}

/** Hands the "Reconciliation finished" event of a successful reconcile to the store's event sink. */
export async function emitFinished(state: StateStore, key: ObjectKey, rec: ObjectRecord, result: ReconcileResult, durationMs: number, at: Date): Promise<void> {
  const f = finishedEvent(key, rec, result, durationMs, at);
  if (f) await emitEvent(state, key, f.event, f.record);
}
