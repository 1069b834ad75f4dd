/**
 * Health of the Flux objects a Kustomization defines (HelmRelease, Kustomization,
 * sources, ...). In Flux they are custom resources in the cluster and kstatus reads their
 * Ready condition; here they are definitions in the store, so `wait` and `healthChecks`
 * judge their records instead: the same kstatus rules on the record's status (Ready=True at
 * the current generation: Current; Stalled: Failed; not reconciled yet: InProgress).
 *
 * A Kustomization that waits for definitions it has just created or changed reconciles
 * them first, in this worker (sources first, then what uses them; a second round for those
 * that waited on one reconciled in the first), instead of leaving them to the queue: their
 * messages would only be sent once this reconcile ends, and the wait would always time out.
 */
import { splitApiVersion, type KubeObject, type ObjectKey, type ObjectRef } from '../../kube/object.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import { getCondition, readRecord, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import type { Logger } from '../../util/log.js';
import { isFluxGroup } from './definitions.js';

/** True when `ref` names a Flux object kept as a definition (not applied to a cluster). */
export function isDefinitionRef(ref: ObjectRef, fluxInCluster: boolean): boolean {
  if (fluxInCluster) return false;
  const group = ref.group ?? (ref.apiVersion ? splitApiVersion(ref.apiVersion).group : '');
  return isFluxGroup(group);
}

/**
 * The object kstatus sees for a definition: its kind, name, generation and the status its
 * reconciler wrote. Without a Ready condition (never reconciled) it is InProgress; a
 * definition that is not there (or is being deleted) is not found.
 */
export function definitionStandIn(rec: ObjectRecord | undefined): KubeObject | null {
  const o = rec?.object;
  if (!rec || !o || rec.deleted) return null;
  const status = getCondition(rec, 'Ready')
    ? rec.status
    : { conditions: [{ type: 'Reconciling', status: 'True', reason: 'Progressing', message: 'not reconciled yet' }] };
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    metadata: { name: o.metadata.name, namespace: o.metadata.namespace, generation: Number(o.metadata.generation ?? 1) },
    status: status as Record<string, unknown>,
  };
}

/** Reads a definition's record as kstatus sees it. */
export async function getDefinition(svc: Pick<ReconcileServices, 'state'>, ref: ObjectRef): Promise<KubeObject | null> {
  if (!ref.namespace) return null;
  return definitionStandIn(await readRecord(svc.state, { kind: ref.kind, namespace: ref.namespace, name: ref.name }));
}

/** Order of inline reconciles: sources before what reads them, Kustomizations last. */
const KIND_ORDER = ['GitRepository', 'OCIRepository', 'Bucket', 'HelmRepository', 'ExternalArtifact', 'ArtifactGenerator', 'HelmChart', 'HelmRelease', 'Kustomization'];

function rank(kind: string): number {
  const i = KIND_ORDER.indexOf(kind);
  return i < 0 ? KIND_ORDER.length : i;
}

function sameObject(a: ObjectKey, b: ObjectKey): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

/** What reconciling the changed definitions inline left for the queue. */
export interface InlineOutcome {
  /** The wakes still to send: definitions not reconciled here (or to retry), and what their reconciles asked to wake. */
  wake: Wake[];
}

/**
 * Reconciles the definitions this revision changed, when any health check names a
 * definition (see the module comment). `changed` are their wakes; the result replaces them
 * in the Kustomization's wake list.
 */
export async function reconcileChangedDefinitions(
  svc: ReconcileServices,
  self: ObjectKey,
  checks: ObjectRef[],
  changed: Wake[],
  opts: { fluxInCluster: boolean; log: Logger; signal?: AbortSignal },
): Promise<InlineOutcome> {
  if (!changed.length || !svc.reconcilerOf || !checks.some((c) => isDefinitionRef(c, opts.fluxInCluster))) return { wake: changed };
  const pending = [...changed].sort((a, b) => rank(a.key.kind) - rank(b.key.kind));
  const later: Wake[] = [];
  const done: ObjectKey[] = [];
  for (let round = 0; round < 2 && pending.length; round++) {
    let progress = false;
    for (const w of [...pending]) {
      if (opts.signal?.aborted) break;
      const kind = await svc.reconcilerOf(w.key.kind);
      const rec = kind ? await readRecord(svc.state, w.key) : undefined;
      if (!kind || !rec?.object || rec.deleted) {
        pending.splice(pending.indexOf(w), 1);
        later.push(w);
        continue;
      }
      const log = opts.log.child({ definition: `${w.key.kind}/${w.key.namespace}/${w.key.name}` });
      try {
        const r = await kind.reconcile(svc, { key: w.key, record: rec, reason: w.reason, revision: w.revision, log, signal: opts.signal });
        later.push(...r.wake.filter((x) => !sameObject(x.key, self)));
        if (r.ready || round === 1) {
          pending.splice(pending.indexOf(w), 1);
          if (r.transientError) later.push(w);
          else done.push(w.key);
        }
        if (r.ready) progress = true;
      } catch (err) {
        log.warn('inline reconcile of a definition failed: left to the queue', { error: errorMessage(err) });
        pending.splice(pending.indexOf(w), 1);
        later.push(w);
      }
    }
    if (!progress) break;
  }
  later.push(...pending);
  // A definition reconciled here is not sent again; one woken by another is (deduplicated by the queue).
  return { wake: later.filter((w) => !done.some((d) => sameObject(d, w.key)) || w.dedupKey !== changed.find((c) => sameObject(c.key, w.key))?.dedupKey) };
}
