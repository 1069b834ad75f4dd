/**
 * Phase "health": `spec.wait` (every applied object) or `spec.healthChecks`, checked with
 * kstatus until Current, Failed or `spec.timeout`. The first look is the apply's own
 * response; objects seen Current are not polled again.
 */
import type { ApplyEngine, ChangeEntry } from '../../apply/engine.js';
import { waitForHealth } from '../../health/index.js';
import { splitApiVersion, type ObjectRef } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { formatGoDuration } from '../../util/duration.js';
import { isFluxGroup } from './definitions.js';
import type { KustomizationSpec } from './spec.js';

/** The objects to health-check for this revision. */
export function healthChecksOf(spec: KustomizationSpec, changes: ChangeEntry[]): ObjectRef[] {
  if (spec.wait) {
    return changes
      .filter((c) => c.action !== 'deleted' && c.action !== 'skipped' && !isFluxGroup(c.ref.group))
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

/** Waits for `checks`; a ReconcileFailure (HealthCheckFailed) when they fail or time out. */
export async function checkHealth(svc: ReconcileServices, engine: ApplyEngine, spec: KustomizationSpec, checks: ObjectRef[], signal?: AbortSignal): Promise<void> {
  if (!checks.length) return;
  const intervalMs = svc.settings.healthIntervalMs;
  const result = await waitForHealth(checks, {
    timeoutMs: spec.timeoutMs,
    // Poll soon after the apply, then back off to Flux's interval.
    intervalMs,
    initialIntervalMs: Math.min(250, intervalMs),
    initial: (r) => engine.observed(r),
    recheckCurrent: false,
    signal,
    get: async (r) => (await engine.getRef(r, r.apiVersion ? splitApiVersion(r.apiVersion).version : undefined)) ?? null,
  });
  if (!result.ok) {
    throw new ReconcileFailure('HealthCheckFailed', `health check failed after ${formatGoDuration(result.elapsedMs)}: ${result.message}`, {
      retryMs: spec.retryIntervalMs,
    });
  }
}
