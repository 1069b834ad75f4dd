/**
 * Phase "apply": the cluster objects of a build through the server-side apply engine
 * (validation of the whole batch first: nothing is written when any object fails dry-run),
 * and the new inventory (every object of the revision, unchanged and skipped included).
 * The engine runs on the reconcile's target (target.ts): the management cluster or a
 * remote one, impersonating the ServiceAccount when one is set, dry-runs included. A
 * Secret still SOPS-encrypted is refused before anything is sent, with Flux's message.
 */
import { ApplyEngine, ValidationFailedError, type ChangeEntry } from '../../apply/engine.js';
import { inventoryId, type KubeObject } from '../../kube/object.js';
import type { KubeClient } from '../../kube/client.js';
import type { RestMapper } from '../../kube/mapper.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { assertNotEncryptedSecret } from '../../sops/index.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import type { AppliedStamp, InventoryEntry, ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import type { KustomizationSpec } from './spec.js';

/**
 * The apply engine for one reconcile: on `target` (a resolved target's client and shared
 * discovery), else on the management cluster's shared client and discovery.
 */
export function engineFor(
  svc: Pick<ReconcileServices, 'client' | 'mapper' | 'fieldManager'>,
  spec: Pick<KustomizationSpec, 'force'>,
  signal?: AbortSignal,
  target?: { client: KubeClient; mapper: RestMapper },
): ApplyEngine {
  const on = target ?? svc;
  return new ApplyEngine(on.client, { fieldManager: svc.fieldManager, force: spec.force, signal }, on.mapper);
}

/** Applies the cluster objects; a ReconcileFailure (ReconciliationFailed) when the batch fails. */
export async function applyObjects(engine: ApplyEngine, spec: KustomizationSpec, objects: KubeObject[], rec: ObjectRecord): Promise<ChangeEntry[]> {
  try {
    for (const o of objects) assertNotEncryptedSecret(o as unknown as Record<string, unknown>);
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
