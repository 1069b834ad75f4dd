/**
 * Prune: deletes what a Kustomization applied and no longer produces, the one place that
 * removes objects. Used by reconcile (stale inventory entries, when `spec.prune`) and by
 * finalize (the whole inventory, per `deletionPolicy`). Cluster objects are deleted only
 * when they still carry this Kustomization's owner labels and are not annotated
 * `prune: disabled`; Flux objects (definitions) are marked deleted for their reconcilers.
 */
import type { ApplyEngine, ChangeEntry } from '../../apply/engine.js';
import { fmtRef, inventoryId, parseInventoryId, type ObjectRef } from '../../kube/object.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import { OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL } from '../../render/build.js';
import type { InventoryEntry } from '../../state/records.js';
import { sleep } from '../../util/time.js';
import { isFluxGroup, removeDefinitions } from './definitions.js';

/** What a prune did. */
export interface PruneResult {
  /** Entries for deleted objects and definitions. */
  deleted: ChangeEntry[];
  /** Inventory entries whose delete failed (they stay in the inventory for the next run). */
  kept: InventoryEntry[];
  /** Why each failed delete failed. */
  failures: string[];
  /** Definitions marked deleted (or changed): wake them so they finalize. */
  removedDefinitions: Wake[];
}

/**
 * Prunes `entries` of the Kustomization `owner`. `cluster: false` leaves cluster objects
 * alone (prune disabled, or deletionPolicy Orphan) and only removes definitions, which are
 * Fluxless's own state. `fluxInCluster` (a remote target, where Flux objects are applied as
 * objects): Flux-group entries are deleted from the cluster too.
 */
export async function prune(
  svc: ReconcileServices,
  engine: ApplyEngine,
  owner: { namespace: string; name: string },
  entries: InventoryEntry[],
  opts: { cluster: boolean; fluxInCluster?: boolean },
): Promise<PruneResult> {
  const out: PruneResult = { deleted: [], kept: [], failures: [], removedDefinitions: [] };
  const flux = entries.filter((e) => isFluxGroup(parseInventoryId(e.id).group));
  const cluster = opts.fluxInCluster ? entries : entries.filter((e) => !isFluxGroup(parseInventoryId(e.id).group));
  if (opts.cluster && cluster.length) {
    const { entries: done, failed } = await engine.deleteAll(
      cluster.map((e) => ({ ...parseInventoryId(e.id), version: e.v })),
      { ownerLabels: { [OWNER_NAME_LABEL]: owner.name, [OWNER_NAMESPACE_LABEL]: owner.namespace } },
    );
    out.deleted.push(...done.filter((e) => e.action === 'deleted'));
    for (const f of failed) out.kept.push({ id: inventoryId(f.ref), v: f.version ?? '' });
    out.failures.push(...failed.map((f) => f.reason));
  }
  out.removedDefinitions = await removeDefinitions(svc, owner, flux.map((e) => parseInventoryId(e.id)));
  for (const { key: r, dedupKey } of out.removedDefinitions) {
    if (dedupKey !== 'finalize') continue;
    const e = flux.find((x) => {
      const p = parseInventoryId(x.id);
      return p.kind === r.kind && p.namespace === r.namespace && p.name === r.name;
    });
    const ref: ObjectRef = e ? parseInventoryId(e.id) : { group: '', ...r };
    out.deleted.push({ subject: fmtRef(r), ref, version: e?.v ?? '', action: 'deleted' });
  }
  return out;
}

/**
 * deletionPolicy WaitForTermination: waits until the deleted objects are gone from the
 * cluster (finalizers done), or the timeout. Returns the objects still there.
 */
export async function waitForTermination(engine: ApplyEngine, deleted: ChangeEntry[], timeoutMs: number, signal?: AbortSignal): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let pending = deleted.filter((d) => d.ref.kind && !isFluxGroup(d.ref.group));
  for (let delay = 250; ; delay = Math.min(delay * 2, 5000)) {
    const still: ChangeEntry[] = [];
    for (const d of pending) if (await engine.getRef(d.ref, d.version || undefined)) still.push(d);
    pending = still;
    if (!pending.length || Date.now() >= deadline || signal?.aborted) return pending.map((d) => d.subject);
    await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), signal);
  }
}
