/**
 * Phase "apply": the cluster objects of a build through the server-side apply engine
 * (validation of the whole batch first: nothing is written when any object fails dry-run),
 * and the new inventory (every object of the revision, unchanged and skipped included).
 */
import { ApplyEngine, ValidationFailedError, type ChangeEntry } from '../../apply/engine.js';
import { inventoryId, type KubeObject } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import type { AppliedStamp, InventoryEntry, ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import type { KustomizationSpec } from './spec.js';

/** The apply engine for one reconcile, on the runtime's shared discovery. */
export function engineFor(svc: ReconcileServices, spec: Pick<KustomizationSpec, 'force'>, signal?: AbortSignal): ApplyEngine {
  return new ApplyEngine(svc.client, { fieldManager: svc.fieldManager, force: spec.force, signal }, svc.mapper);
}

/** Applies the cluster objects; a ReconcileFailure (ReconciliationFailed) when the batch fails. */
export async function applyObjects(engine: ApplyEngine, spec: KustomizationSpec, objects: KubeObject[], rec: ObjectRecord): Promise<ChangeEntry[]> {
  try {
    const applied = new Set((rec.status.inventory?.entries ?? []).map((e) => e.id));
    // What we applied last time and the resourceVersion after it: an unchanged object costs
    // one LIST per kind and namespace instead of a GET and a dry-run each.
    const stamps = rec.applied ?? {};
    return await engine.applyAll(objects, { likelyNew: (r) => !applied.has(inventoryId(r)), lastApplied: (r) => stamps[inventoryId(r)], ignore: spec.ignore });
  } catch (err) {
    const msg = err instanceof ValidationFailedError ? err.message : errorMessage(err);
    throw new ReconcileFailure('ReconciliationFailed', msg, { retryMs: spec.retryIntervalMs, cause: err });
  }
}

/** The inventory of a revision: one entry per object it contains, sorted by id. */
export function inventoryOf(changes: ChangeEntry[]): InventoryEntry[] {
  return changes
    .filter((c) => c.action !== 'deleted')
    .map((c) => ({ id: inventoryId(c.ref), v: c.version }))
    .sort((a, b) => a.id.localeCompare(b.id));
}

/** The applied stamps of a revision, per inventory id (objects the engine verified or wrote). */
export function stampsOf(changes: ChangeEntry[]): Record<string, AppliedStamp> {
  const out: Record<string, AppliedStamp> = {};
  for (const c of changes) if (c.stamp && c.action !== 'deleted') out[inventoryId(c.ref)] = c.stamp;
  return out;
}

/** Counts changes per action (`created: 2, unchanged: 5`), for logs and history. */
export function countActions(changes: ChangeEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) out[c.action] = (out[c.action] ?? 0) + 1;
  return out;
}
