/**
 * Phase "dependencies": `spec.dependsOn` as kustomize-controller checks it. Each
 * dependency must exist, be Ready at its current generation and, when it reads the same
 * source, have applied the same revision. The dependent registers itself with each
 * dependency first, so a dependency that becomes Ready wakes it (reverse index).
 */
import type { ObjectKey } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { registerMember } from '../../reconcile/reverse-index.js';
import { getCondition, readRecord, recordKey } from '../../state/records.js';
import type { KustomizationSpec } from './spec.js';

/** How often a Kustomization whose dependencies are not ready retries (Flux: 30 s). */
export const DEPENDENCY_RETRY_MS = 30_000;

/** Throws DependencyNotReady unless every dependency is ready for `revision`. */
export async function checkDependencies(svc: ReconcileServices, spec: KustomizationSpec, self: ObjectKey, revision: string): Promise<void> {
  for (const dep of spec.dependsOn) await registerMember(svc.state, 'DependentsIndex', recordKey('Kustomization', dep.namespace, dep.name), self);
  for (const dep of spec.dependsOn) {
    const d = await readRecord(svc.state, recordKey('Kustomization', dep.namespace, dep.name));
    const depName = `${dep.namespace}/${dep.name}`;
    if (!d?.object || d.deleted) throw new ReconcileFailure('DependencyNotReady', `dependency '${depName}' not found`, { retryMs: DEPENDENCY_RETRY_MS });
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
