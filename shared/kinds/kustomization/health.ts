/**
 * Phase "health": `spec.wait` (every applied object) or `spec.healthChecks`, checked with
 * kstatus until Current, Failed or `spec.timeout`. The first look is the apply's own
 * response; objects seen Current are not polled again.
 *
 * Objects whose API group (and kind) a `spec.healthCheckExprs` entry covers are judged by
 * its CEL expressions instead of kstatus (fluxcd/pkg runtime/cel StatusReader); an
 * expression that fails to evaluate leaves the object Unknown for that round, with the
 * error, as Flux's generic status reader does.
 */
import type { ApplyEngine, ChangeEntry } from '../../apply/engine.js';
import type { HealthCheckSet, HealthResult as CelHealth } from '../../cel/index.js';
import { waitForHealth } from '../../health/index.js';
import { splitApiVersion, type KubeObject, type ObjectRef } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { formatGoDuration } from '../../util/duration.js';
import { getDefinition, isDefinitionRef } from './health-definitions.js';
import type { KustomizationSpec } from './spec.js';

/**
 * The objects to health-check for this revision: with `wait`, everything applied or
 * defined (Flux objects kept as definitions are judged from their records:
 * health-definitions.ts); else `spec.healthChecks`.
 */
export function healthChecksOf(spec: KustomizationSpec, changes: ChangeEntry[]): ObjectRef[] {
  if (spec.wait) {
    return changes
      .filter((c) => c.action !== 'deleted' && c.action !== 'skipped')
      .map((c) => ({ ...c.ref, apiVersion: c.ref.group ? `${c.ref.group}/${c.version}` : c.version }));
  }
  return spec.healthChecks.map((h) => ({
    apiVersion: h.apiVersion,
    group: splitApiVersion(h.apiVersion).group,
    kind: h.kind,
    namespace: h.namespace ?? spec.namespace,
    name: h.name,
  }));
}

/**
 * The object kstatus sees for one judged by a CEL entry: a stand-in whose generic kstatus
 * result is the CEL result (no conditions: Current; Reconciling=True: InProgress;
 * Stalled=True: Failed), so the poller's rounds, fail-fast and messages stay the same.
 */
function celStandIn(obj: KubeObject, result: CelHealth): KubeObject {
  const conditions =
    result.status === 'Current'
      ? []
      : [{ type: result.status === 'Failed' ? 'Stalled' : 'Reconciling', status: 'True', reason: result.reason, message: '' }];
  return { apiVersion: obj.apiVersion, kind: obj.kind, metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status: { conditions } };
}

/** Applies the CEL entries to a fetched object (others pass unchanged). Throws CelEvaluationError. */
function judged(exprs: HealthCheckSet | undefined, obj: KubeObject | null | undefined): KubeObject | null | undefined {
  if (!exprs || !obj) return obj;
  const result = exprs.evaluate(obj);
  return result ? celStandIn(obj, result) : obj;
}

/**
 * Waits for `checks`; a ReconcileFailure (HealthCheckFailed) when they fail or time out.
 * Flux objects that are definitions here (not `fluxInCluster`) are read from the store.
 */
export async function checkHealth(svc: ReconcileServices, engine: ApplyEngine, spec: KustomizationSpec, checks: ObjectRef[], signal?: AbortSignal, fluxInCluster = false): Promise<void> {
  if (!checks.length) return;
  const intervalMs = svc.settings.healthIntervalMs;
  const exprs = spec.healthCheckExprs;
  const result = await waitForHealth(checks, {
    timeoutMs: spec.timeoutMs,
    // Poll soon after the apply, then back off to Flux's interval.
    intervalMs,
    initialIntervalMs: Math.min(250, intervalMs),
    initial: (r) => (isDefinitionRef(r, fluxInCluster) ? undefined : (judged(exprs, engine.observed(r)) ?? undefined)),
    recheckCurrent: false,
    signal,
    get: async (r) =>
      isDefinitionRef(r, fluxInCluster)
        ? (judged(exprs, await getDefinition(svc, r)) ?? null)
        : (judged(exprs, (await engine.getRef(r, r.apiVersion ? splitApiVersion(r.apiVersion).version : undefined)) ?? null) ?? null),
  });
  if (!result.ok) {
    throw new ReconcileFailure('HealthCheckFailed', `health check failed after ${formatGoDuration(result.elapsedMs)}: ${result.message}`, {
      retryMs: spec.retryIntervalMs,
    });
  }
}
