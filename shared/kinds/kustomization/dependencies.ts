/**
 * Phase "dependencies": `spec.dependsOn` as kustomize-controller checks it. Each
 * dependency must exist; with `readyExpr` (CEL over `self` and `dep`) the expression must
 * be true, and it replaces the built-in check unless the AdditiveCELDependencyCheck gate
 * is on; the built-in check wants the dependency Ready at its current generation and,
 * when it reads the same source, at the same revision. The dependent registers itself
 * with each dependency first, so a dependency that becomes Ready wakes it (reverse index).
 */
import type { ObjectKey } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { registerMember } from '../../reconcile/reverse-index.js';
import { getCondition, readRecord, recordKey, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { gatesOf } from './gates.js';
import type { KustomizationSpec } from './spec.js';

/** How often a Kustomization whose dependencies are not ready retries (Flux: 30 s). */
export const DEPENDENCY_RETRY_MS = 30_000;

/** The status fields Flux's KustomizationStatus has (what `self.status` / `dep.status` show). */
const FLUX_STATUS_FIELDS = [
  'observedGeneration',
  'conditions',
  'lastAppliedRevision',
  'lastAppliedOriginRevision',
  'lastAttemptedRevision',
  'lastHandledReconcileAt',
  'inventory',
  'history',
];

/** A record as the Flux object a CEL expression sees: the definition with its Flux status fields. */
export function fluxObjectOf(rec: ObjectRecord): Record<string, unknown> {
  const obj = rec.object!;
  const status: Record<string, unknown> = {};
  for (const k of FLUX_STATUS_FIELDS) if (rec.status[k] !== undefined) status[k] = rec.status[k];
  return {
    ...obj,
    metadata: { ...obj.metadata, generation: Number(obj.metadata.generation ?? 1) },
    spec: obj.spec ?? {},
    status,
  };
}

/** Throws DependencyNotReady unless every dependency is ready for `revision`. */
export async function checkDependencies(svc: ReconcileServices, spec: KustomizationSpec, self: ObjectKey, revision: string, selfRecord?: ObjectRecord): Promise<void> {
  if (!spec.dependsOn.length) return;
  for (const dep of spec.dependsOn) await registerMember(svc.state, 'DependentsIndex', recordKey('Kustomization', dep.namespace, dep.name), self);
  const additive = gatesOf(svc.settings).additiveCELDependencyCheck;
  let selfView: Record<string, unknown> | undefined;
  for (const dep of spec.dependsOn) {
    const d = await readRecord(svc.state, recordKey('Kustomization', dep.namespace, dep.name));
    const depName = `${dep.namespace}/${dep.name}`;
    if (!d?.object || d.deleted) throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}' not found`, { retryMs: DEPENDENCY_RETRY_MS });
    if (dep.readyExpr) {
      selfView ??= selfRecord?.object ? fluxObjectOf(selfRecord) : { metadata: { name: spec.name, namespace: spec.namespace }, spec: {}, status: {} };
      let ready: boolean;
      try {
        ready = dep.readyExpr.isReady(selfView, fluxObjectOf(d));
      } catch (err) {
        throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}': ${errorMessage(err)}`, { retryMs: DEPENDENCY_RETRY_MS, cause: err });
      }
      if (!ready) throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}' is not ready according to readyExpr eval`, { retryMs: DEPENDENCY_RETRY_MS });
      if (!additive) continue;
    }
    const ready = getCondition(d, 'Ready');
    const gen = Number(d.object.metadata.generation ?? 1);
    if (ready?.status !== 'True' || (d.status.observedGeneration ?? -1) !== gen) {
      throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}' is not ready`, { retryMs: DEPENDENCY_RETRY_MS });
    }
    const depSpec = (d.object.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } };
    const sameSource =
      depSpec.sourceRef?.kind === spec.sourceRef.kind &&
      depSpec.sourceRef?.name === spec.sourceRef.name &&
      (depSpec.sourceRef?.namespace ?? dep.namespace) === spec.sourceRef.namespace;
    if (sameSource && d.status.lastAppliedRevision !== revision) {
      throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}' revision is not up to date`, { retryMs: DEPENDENCY_RETRY_MS });
    }
  }
}
