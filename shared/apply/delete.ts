/**
 * deleteAll (fluxcd/pkg ssa DeleteAll, used by prune and finalize): deletes objects in
 * reverse apply order, kind rank by kind rank, only those that carry the owner labels and
 * are not annotated `prune: disabled` (nor `reconcile: disabled`, `ssa: Ignore`). A prune
 * runs to its end: the engine's signal does not cancel it (as before the split).
 */
import { isNotFound } from '../kube/client.js';
import { NoKindMatchError, RestMapper, type ResourceMapping } from '../kube/mapper.js';
import { fmtRef, type KubeObject, type ObjectRef } from '../kube/object.js';
import { prunable } from './annotations.js';
import { reasonOf } from './errors.js';
import { mapLimit } from './limit.js';
import { isSecretObject, maskEchoedValues, secretMasker } from './mask.js';
import { compareRefs, kindRank } from './sort.js';
import type { ChangeEntry, DeleteOptions, DeleteResult, EngineContext } from './types.js';

/** The failure reason of one delete, with the values of the live object masked if it is a Secret. */
function failureReason(subject: string, err: unknown, live: KubeObject | undefined, kind: string): string {
  let reason = reasonOf(err);
  if (live && isSecretObject(live)) reason = secretMasker([live])(reason);
  if (kind === 'Secret') reason = maskEchoedValues(reason);
  return `${subject} delete failed: ${reason}`;
}

/** Deletes the objects (prune), in reverse apply order. Never throws for one object: failures are returned. */
export async function deleteAll(ctx: EngineContext, refs: Array<ObjectRef & { version?: string }>, opts: DeleteOptions = {}): Promise<DeleteResult> {
  const sorted = [...refs].sort(compareRefs).reverse();
  const entries: ChangeEntry[] = [];
  const failed: DeleteResult['failed'] = [];
  const byRank = new Map<number, typeof sorted>();
  for (const r of sorted) {
    const k = kindRank(r.kind);
    if (!byRank.has(k)) byRank.set(k, []);
    byRank.get(k)!.push(r);
  }
  for (const rank of [...byRank.keys()].sort((a, b) => b - a)) {
    await mapLimit(byRank.get(rank)!, ctx.concurrency, async (ref) => {
      const subject = fmtRef(ref);
      const base = { subject, ref: { group: ref.group, kind: ref.kind, namespace: ref.namespace, name: ref.name }, version: ref.version ?? '' };
      let live: KubeObject | undefined;
      try {
        let mapping: ResourceMapping;
        try {
          mapping = await ctx.mapper.mappingForGroupKind(ref.group, ref.kind, ref.version);
        } catch (err) {
          if (err instanceof NoKindMatchError) {
            entries.push({ ...base, action: 'deleted' }); // the kind is gone, so is the object
            return;
          }
          throw err;
        }
        const path = RestMapper.path(mapping, ref.namespace, ref.name);
        try {
          live = await ctx.request<KubeObject>('GET', path, { noSignal: true });
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        if (!live) {
          entries.push({ ...base, action: 'deleted' });
          return;
        }
        const owned = Object.entries(opts.ownerLabels ?? {}).every(([k, v]) => live!.metadata.labels?.[k] === v);
        if (!owned || !prunable(live)) {
          entries.push({ ...base, action: 'skipped' });
          return;
        }
        if (live.metadata.deletionTimestamp) {
          entries.push({ ...base, action: 'deleted' });
          return;
        }
        await ctx.request('DELETE', path, { body: { propagationPolicy: opts.propagation ?? 'Background' }, noSignal: true }).catch((err: unknown) => {
          if (!isNotFound(err)) throw err;
        });
        entries.push({ ...base, action: 'deleted' });
      } catch (err) {
        failed.push({ ref: base.ref, version: ref.version, reason: failureReason(subject, err, live, ref.kind) });
      }
    });
  }
  return { entries, failed };
}
