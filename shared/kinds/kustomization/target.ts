/**
 * Phase "target": where this Kustomization applies (kube/targets.ts): the management
 * cluster, or the cluster of `spec.kubeConfig`, as `serviceAccountName` (or the configured
 * default ServiceAccount) when one is set. Resolved after the source and dependencies and
 * before the build, as kustomize-controller builds its client. A reference that cannot be
 * used fails the reconcile with Flux's message (ReconciliationFailed, retried at the retry
 * interval); an unreachable management cluster stays transient.
 */
import { resolveTarget, type Target, type TargetSpec } from '../../kube/targets.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure, transientCause } from '../../reconcile/failure.js';
import { errorMessage } from '../../util/errors.js';
import type { ObjectRecord } from '../../state/records.js';
import type { KustomizationSpec } from './spec.js';

/**
 * The target fields of a Kustomization. The bootstrap root (`rec.origin.by === 'bootstrap'`)
 * is not subject to the default ServiceAccount: it is the platform admin's.
 */
export function targetSpecOf(spec: Pick<KustomizationSpec, 'namespace' | 'kubeConfig' | 'serviceAccountName'>, rec?: Pick<ObjectRecord, 'origin'>): TargetSpec {
  return {
    namespace: spec.namespace,
    kubeConfig: spec.kubeConfig,
    serviceAccountName: spec.serviceAccountName,
    ...(rec?.origin?.by === 'bootstrap' ? { useDefaultServiceAccount: false } : {}),
  };
}

/** Resolves the Kustomization's target; a ReconcileFailure (ReconciliationFailed) when its references cannot be used. */
export async function targetOf(svc: ReconcileServices, spec: KustomizationSpec, rec?: Pick<ObjectRecord, 'origin'>): Promise<Target> {
  try {
    return await resolveTarget(svc, targetSpecOf(spec, rec));
  } catch (err) {
    if (transientCause(err)) throw err;
    throw new ReconcileFailure('ReconciliationFailed', errorMessage(err), { retryMs: spec.retryIntervalMs, cause: err });
  }
}
