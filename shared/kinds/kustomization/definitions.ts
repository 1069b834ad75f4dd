/**
 * Fleet recursion: Flux objects found in a build (GitRepository, Kustomization, HelmRelease,
 * ...) become Fluxless definitions in the state store instead of cluster objects, owned by
 * the Kustomization that built them, as `flux-system` applies `clusters/<name>` in Flux.
 * Removing one from Git marks it deleted, so its own reconciler finalizes it.
 */
import { fmtObject, fmtRef, sameKey, splitApiVersion, type KubeObject, type ObjectRef } from '../../kube/object.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { isCorrupt } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import type { ChangeEntry } from '../../apply/engine.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import { adoptBootstrapDefinition, withBootstrapInputs } from '../../reconcile/bootstrap-pair.js';
import { recordKey, type ObjectRecord } from '../../state/records.js';
import type { KustomizationSpec } from './spec.js';

/** Flux API groups whose objects become definitions instead of cluster objects. */
export function isFluxObject(obj: { apiVersion: string }): boolean {
  return isFluxGroup(splitApiVersion(obj.apiVersion).group);
}

/** True for `*.toolkit.fluxcd.io` and `*.extensions.fluxcd.io` groups. */
export function isFluxGroup(group: string): boolean {
  return group.endsWith('.toolkit.fluxcd.io') || group.endsWith('.extensions.fluxcd.io');
}

/** What syncing the definitions of one build did. */
export interface DefinitionSync {
  /** Definitions created or changed: reconcile them next (dedup per generation, as the scheduler). */
  changed: Wake[];
  /** Inventory entries, one per definition this Kustomization owns. */
  entries: ChangeEntry[];
  /** Notes for the status: objects not taken over (the Kustomization itself, bootstrap objects). */
  notes: string[];
  /** Definitions whose state record is corrupt: not updated; the reconcile reports them. */
  corrupt: string[];
}

/**
 * Refuses Flux objects of kinds Fluxless does not know (a typo such as `Kustomisation`), as
 * Flux's apply would ("no matches for kind"), before anything of the revision is applied.
 */
export function assertKnownKinds(svc: ReconcileServices, objects: KubeObject[]): void {
  const unknown = objects.filter((o) => !svc.isKnownKind(o.kind));
  if (unknown.length) {
    throw new ReconcileFailure('ReconciliationFailed', unknown.map((o) => `${fmtObject(o)}: no matches for kind "${o.kind}" in version "${o.apiVersion}"`).join('\n'));
  }
}

/** Stores the Flux objects of a build as definitions owned by this Kustomization. */
export async function syncDefinitions(svc: ReconcileServices, spec: KustomizationSpec, objects: KubeObject[]): Promise<DefinitionSync> {
  const self = recordKey('Kustomization', spec.namespace, spec.name);
  const out: DefinitionSync = { changed: [], entries: [], notes: [], corrupt: [] };
  for (const obj of objects) {
    const ns = obj.metadata.namespace ?? spec.render.targetNamespace ?? spec.namespace;
    const k = recordKey(obj.kind, ns, obj.metadata.name);
    // No Kustomization ever manages itself (Flux's flux-system does; here its definition comes
    // from the configuration, and listing itself would make `tree` recurse).
    if (sameKey(k, self)) {
      // Its Git copy (gotk-sync.yaml) is still merged into a bootstrap definition (Git-only
      // fields such as decryption are kept, conflicts reported), without an inventory entry.
      const mine: KubeObject = structuredClone({ ...obj, metadata: { ...obj.metadata, namespace: ns } });
      let adoptedGen = 0;
      await svc.state.update<ObjectRecord>(k, (cur) => {
        if (cur?.origin?.by !== 'bootstrap' || cur.deleted) return undefined;
        const next = adoptBootstrapDefinition(cur, mine);
        adoptedGen = next && next.object?.metadata.generation !== cur.object?.metadata.generation ? Number(next.object?.metadata.generation ?? 0) : 0;
        return next;
      });
      if (adoptedGen) out.changed.push({ key: k, reason: 'dependency', dedupKey: `gen-${adoptedGen}` });
      out.notes.push(`${fmtRef(k)} in the build is this Kustomization itself: merged into its definition, not managed by it`);
      continue;
    }
    const desired: KubeObject = structuredClone({ ...obj, metadata: { ...obj.metadata, namespace: ns } });
    let action: ChangeEntry['action'] = 'unchanged';
    let adopted = false;
    let generation = 0;
    try {
    await svc.state.update<ObjectRecord>(k, (cur) => {
      if (cur?.origin?.by === 'bootstrap' && !cur.deleted) {
        // The bootstrap pair (gotk-sync.yaml): merged with the configuration, never taken over.
        adopted = true;
        const next = adoptBootstrapDefinition(cur, desired);
        action = next ? 'configured' : 'unchanged';
        generation = Number(next?.object?.metadata.generation ?? 0);
        return next;
      }
      const prev = cur?.object;
      const sameSpec = prev && JSON.stringify(prev.spec) === JSON.stringify(desired.spec);
      const sameMeta =
        prev &&
        JSON.stringify(prev.metadata.labels ?? {}) === JSON.stringify(desired.metadata.labels ?? {}) &&
        JSON.stringify(prev.metadata.annotations ?? {}) === JSON.stringify(desired.metadata.annotations ?? {});
      if (cur && !cur.deleted && sameSpec && sameMeta && prev?.apiVersion === desired.apiVersion) {
        action = 'unchanged';
        return undefined;
      }
      const prevGen = Number(prev?.metadata.generation ?? 0);
      desired.metadata.generation = sameSpec && !cur?.deleted ? prevGen || 1 : prevGen + 1;
      action = cur?.object && !cur.deleted ? 'configured' : 'created';
      generation = Number(desired.metadata.generation);
      return {
        ...(cur ?? { status: {} }),
        object: desired,
        deleted: false,
        origin: { by: 'Kustomization', namespace: spec.namespace, name: spec.name },
      };
    });
    } catch (err) {
      if (!isCorrupt(err)) throw err;
      // One corrupt record does not stop the others; it stays in the inventory (never pruned).
      out.corrupt.push(`${fmtRef(k)} was not updated: ${errorMessage(err)}${err.hint ? ` (${err.hint})` : ''}`);
      action = 'unchanged';
    }
    if (adopted) out.notes.push(`${fmtRef(k)} is a bootstrap object: its Git definition is merged with the configuration`);
    if (action !== 'unchanged') out.changed.push({ key: k, reason: 'dependency', dedupKey: `gen-${generation}` });
    out.entries.push({
      subject: fmtRef(k),
      ref: { group: splitApiVersion(obj.apiVersion).group, kind: obj.kind, namespace: ns, name: obj.metadata.name },
      version: splitApiVersion(obj.apiVersion).version,
      action,
    });
  }
  return out;
}

/**
 * Marks definitions this Kustomization no longer produces as deleted (their reconcilers
 * finalize them); returns the keys to wake.
 */
export async function removeDefinitions(svc: ReconcileServices, owner: { namespace: string; name: string }, refs: ObjectRef[]): Promise<Wake[]> {
  const removed: Wake[] = [];
  for (const r of refs) {
    const k = recordKey(r.kind, r.namespace, r.name);
    let changed = false;
    let res: Awaited<ReturnType<typeof svc.state.update<ObjectRecord>>>;
    try {
    res = await svc.state.update<ObjectRecord>(k, (cur) => {
      // A bootstrap object whose Git copy left the build: back to the configuration's definition alone.
      if (cur?.origin?.by === 'bootstrap') {
        const next = cur.bootstrap?.git ? withBootstrapInputs(cur, { git: null }) : undefined;
        changed = Boolean(next);
        return next;
      }
      if (!cur || cur.origin?.by !== 'Kustomization' || cur.origin.name !== owner.name || cur.origin.namespace !== owner.namespace) return undefined;
      return { ...cur, deleted: true };
    });
    } catch (err) {
      if (!isCorrupt(err)) throw err;
      continue; // reported by `get`; removed once the record is repaired
    }
    if (res?.value.deleted) removed.push({ key: k, reason: 'dependency', dedupKey: 'finalize' });
    else if (changed) removed.push({ key: k, reason: 'dependency', dedupKey: `gen-${res?.value.object?.metadata.generation ?? 0}` });
  }
  return removed;
}
