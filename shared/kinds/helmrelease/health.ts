/**
 * Waiting for a release's objects (helm-controller's `poller` wait strategy, which Helm's
 * CLI cannot run: helm is called with `--wait=hookOnly` and the manifest objects are
 * polled here with kstatus, failing fast on a Failed object, until the action's timeout).
 * Objects covered by `spec.healthCheckExprs` are judged by their CEL expressions. Jobs are
 * waited for unless `disableWaitForJobs`. A wait that fails marks the release failed in
 * Helm's storage, as a failed `helm --wait` would, so the state machine sees a failed
 * release and remediates it.
 */
import type { HealthCheckSet, HealthResult as CelHealth } from '../../cel/index.js';
import { waitForHealth } from '../../health/index.js';
import { markReleaseFailed, type StoredRelease } from '../../helm/storage.js';
import { refOf, splitApiVersion, type KubeObject } from '../../kube/object.js';
import { ApplyEngine } from '../../apply/engine.js';
import { formatGoDuration } from '../../util/duration.js';
import type { ReleaseContext } from './context.js';
import { desiredObjects } from './drift.js';

/** The poller wait failed; the release was marked failed in storage. */
export class WaitFailedError extends Error {}

/** A stand-in whose kstatus result is the CEL result (as the Kustomization health phase does). */
function celStandIn(obj: KubeObject, result: CelHealth): KubeObject {
  const conditions =
    result.status === 'Current' ? [] : [{ type: result.status === 'Failed' ? 'Stalled' : 'Reconciling', status: 'True', reason: result.reason, message: '' }];
  // A kind of no group kstatus has rules for: only the generic condition rules judge it.
  return { apiVersion: 'health.fluxless.dev/v1', kind: 'CelHealthResult', metadata: { name: obj.metadata.name, namespace: obj.metadata.namespace }, status: { conditions } };
}

function judged(exprs: HealthCheckSet | undefined, obj: KubeObject | undefined): KubeObject | undefined {
  if (!exprs || !obj) return obj;
  const r = exprs.evaluate(obj);
  return r ? celStandIn(obj, r) : obj;
}

/**
 * Waits for the objects of `rel` (see the module comment). Resolves when they are Current;
 * otherwise marks the release failed and throws WaitFailedError with the reason.
 */
export async function waitForRelease(ctx: ReleaseContext, rel: StoredRelease, opts: { timeoutMs: number; waitForJobs: boolean }): Promise<void> {
  const objects = (await desiredObjects(ctx, rel)).filter((o) => opts.waitForJobs || !(o.kind === 'Job' && splitApiVersion(o.apiVersion).group === 'batch'));
  if (!objects.length) return;
  const engine = new ApplyEngine(ctx.target.client, { signal: ctx.signal }, ctx.target.mapper);
  const intervalMs = ctx.svc.settings.healthIntervalMs;
  const refs = objects.map((o) => ({ ...refOf(o), apiVersion: o.apiVersion }));
  const result = await waitForHealth(refs, {
    timeoutMs: opts.timeoutMs,
    intervalMs,
    initialIntervalMs: Math.min(250, intervalMs),
    recheckCurrent: false,
    signal: ctx.signal,
    get: async (r) => judged(ctx.healthExprs, (await engine.getRef(r, r.apiVersion ? splitApiVersion(r.apiVersion).version : undefined)) ?? undefined) ?? null,
  });
  if (result.ok) return;
  const message = `health check failed after ${formatGoDuration(result.elapsedMs)}: ${result.message}`;
  await markReleaseFailed(ctx.target.client, rel, `Release "${rel.name}" failed: ${message}`, ctx.signal);
  throw new WaitFailedError(message);
}
