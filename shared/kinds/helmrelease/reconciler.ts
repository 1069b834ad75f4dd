/**
 * The HelmRelease reconciler (`helm.toolkit.fluxcd.io/v2`), laid out like helm-controller's
 * Reconcile and reconcileRelease: spec -> suspend -> healthCheckExprs / readyExpr ->
 * chart template (the generated HelmChart) -> dependsOn -> source -> values -> chart
 * (digest tracking) -> target (remote cluster, impersonation: RESTClientError when its
 * references cannot be used) -> release target change -> failure counter reset ->
 * lastAttempted* -> the atomic release (state machine, helm actions) -> status, then wake
 * the HelmReleases that depend on this one. A release in sync costs no helm command: one
 * LIST of its storage Secrets, the values' ConfigMaps/Secrets and the state records. A
 * remote target that does not answer fails only this HelmRelease (Ready=False naming the
 * cluster, retried, never dead-lettered); `status.targetCluster` records a remote target.
 */
import { HealthCheckSet } from '../../cel/index.js';
import { parseHelmRelease, type HelmRelease } from '../../helm/release-spec.js';
import { listReleases } from '../../helm/storage.js';
import { valuesDigest } from '../../helm/values.js';
import { parseInventoryId, sameKey, type ObjectKey } from '../../kube/object.js';
import type { Target } from '../../kube/targets.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { helmReleaseDescriptor } from './descriptor.js';
import { ReconcileFailure, transientCause } from '../../reconcile/failure.js';
import { readRecord, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { helmChartKind } from '../helmchart/reconciler.js';
import { runUninstall } from './action-unlock.js';
import { runAtomicRelease } from './atomic.js';
import { assertSameNamespaceSource, chartSource, chartSourceKey, loadChart } from './chart.js';
import { REQUESTED_AT_ANNOTATION, RESET_ANNOTATION, handleAnnotationRequest, helmGatesOf, type ReleaseContext } from './context.js';
import { contextForStored } from './stored-context.js';
import { checkDependencies, compileReadyExprs, dependentsToWake } from './dependencies.js';
import { finalizeHelmRelease } from './finalize.js';
import { latest } from './history.js';
import { chartFilesDir } from './runner.js';
import { WorkingStatus } from './status-work.js';
import { REST_CLIENT_ERROR, helmForTarget, releaseTargetOf, remoteDown, targetClusterField } from './target.js';
import { syncChartTemplate } from './template.js';
import { redactText, resolveValues } from './values.js';

/** helm-controller's prefix for errors that need a spec change. */
export const TERMINAL_ERROR_MESSAGE = 'Reconciliation failed terminally due to configuration error';
/** The API group. */
export const HELMRELEASE_GROUP = 'helm.toolkit.fluxcd.io';
/** How soon a release whose action failed without writing storage is retried (Flux backs off exponentially). */
const ERROR_RETRY_MS = 60_000;

/** Reasons whose Ready=False a later phase turns into Unknown "reconciliation in progress". */
const EARLY_REASONS = ['DependencyNotReady', 'AccessDenied', 'ArtifactFailed', 'SourceNotReady', 'ValuesError', 'ChartMutateError', REST_CLIENT_ERROR];

/** Reasons that record an event, with its severity (others only set Ready). */
const EARLY_EVENTS: Record<string, 'info' | 'error'> = { DependencyNotReady: 'info', ValuesError: 'error', AccessDenied: 'error' };

function retryOf(interval: number, ms: number | undefined): number {
  return ms ?? Math.min(interval, ERROR_RETRY_MS);
}

/** ReleaseTargetChanged: why the release must be reinstalled elsewhere, if it must. */
function targetChanged(w: WorkingStatus, hr: HelmRelease, chartName: string): string | undefined {
  const cur = latest(w.history);
  if (!w.f.storageNamespace || !cur) return undefined;
  if (hr.storageNamespace !== w.f.storageNamespace) return 'storage namespace';
  if (hr.releaseNamespace !== cur.namespace) return 'release namespace';
  if (hr.releaseName !== cur.name) return 'release name';
  if (chartName !== cur.chartName) return 'chart name';
  return undefined;
}

/** Reconciles one HelmRelease. */
export async function reconcileHelmRelease(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, log } = req;
  const gen = Number(rec.object?.metadata.generation ?? 1);
  const w = new WorkingStatus(rec, gen, () => svc.now());
  const handledRequest = rec.requestedAt;
  const rawSpec = (rec.object?.spec ?? {}) as Record<string, unknown>;
  const finish = async (nextRunMs: number, wake: Wake[] = [], transientError?: Error): Promise<ReconcileResult> => {
    await w.write(svc.state, key, { handledRequest, nextRunMs });
    const ready = w.get('Ready');
    return { ready: ready?.status === 'True', reason: ready?.reason ?? '', message: ready?.message ?? '', revision: w.f.lastAttemptedRevision, wake, ...(transientError ? { transientError } : {}) };
  };

  let hr: HelmRelease;
  try {
    hr = parseHelmRelease(rec.object, { defaultNamespace: key.namespace });
  } catch (err) {
    const message = errorMessage(err);
    w.mark('Ready', 'False', 'InvalidSpec', message);
    w.markStalled('InvalidSpec', message);
    w.event({ severity: 'error', reason: 'InvalidSpec', message });
    return finish(jitter(300_000));
  }
  if (hr.spec.suspend || rec.suspended) {
    log.info('reconciliation is suspended for this object');
    return { ready: w.isReady(), reason: 'Suspended', message: 'HelmRelease is suspended', wake: [] };
  }
  const intervalMs = hr.spec.intervalMs;
  let healthExprs: HealthCheckSet | undefined;
  let readyExprs;
  try {
    healthExprs = hr.spec.healthCheckExprs.length ? HealthCheckSet.compile(hr.spec.healthCheckExprs, 'spec.healthCheckExprs') : undefined;
    readyExprs = compileReadyExprs(hr);
  } catch (err) {
    const message = `${TERMINAL_ERROR_MESSAGE}: ${errorMessage(err)}`;
    w.mark('Ready', 'False', 'InvalidCELExpression', message);
    w.markStalled('InvalidCELExpression', message);
    w.event({ severity: 'error', reason: 'InvalidCELExpression', message: errorMessage(err) });
    return finish(jitter(intervalMs));
  }
  const gates = helmGatesOf(svc.settings);
  const wake: Wake[] = [];
  let redact: string[] = [];
  let target: Target | undefined;
  try {
    assertSameNamespaceSource(svc.settings, hr);
    const t = await syncChartTemplate(svc, hr, w.f.helmChart);
    w.f.helmChart = t.helmChart;
    for (const wk of t.wake) {
      // A generated HelmChart that just changed is reconciled here, not through the queue: the
      // release can then go on at once instead of waiting for the chart to wake it.
      const generated = wk.key.kind === 'HelmChart' && t.helmChart === `${wk.key.namespace}/${wk.key.name}` && wk.dedupKey.startsWith('gen-');
      const chartRec = generated ? await readRecord(svc.state, wk.key) : undefined;
      if (!chartRec?.object || chartRec.deleted) {
        wake.push(wk);
        continue;
      }
      const r = await helmChartKind.reconcile(svc, { key: wk.key, record: chartRec, reason: 'dependency', log: log.child({ helmChart: `${wk.key.namespace}/${wk.key.name}` }), signal: req.signal });
      wake.push(...r.wake.filter((x) => !sameKey(x.key, key)));
      if (r.transientError) wake.push(wk);
    }
    w.markReconciling('Progressing', 'Fulfilling prerequisites');

    await checkDependencies(svc, hr, key, rec, readyExprs, gates);
    const progressing = () => {
      if (EARLY_REASONS.includes(w.get('Ready')?.reason ?? '')) w.mark('Ready', 'Unknown', 'Progressing', 'reconciliation in progress');
    };
    progressing();
    const source = await chartSource(svc, hr, key, gates);
    const vals = await resolveValues(svc.client, hr);
    redact = vals.redact;
    for (const s of vals.skipped) log.info(redactText(s, redact));
    const chart = await loadChart(svc, source, { gates, dir: chartFilesDir() });
    progressing();
    target = await releaseTargetOf(svc, hr);
    w.f.targetCluster = targetClusterField(target);
    progressing();
    const on = target;

    const changed = targetChanged(w, hr, chart.name);
    if (changed && (changed !== 'chart name' || hr.spec.upgrade.chartNameChangeStrategy === 'Reinstall')) {
      log.info(`release target configuration changed (${changed}): running uninstall for current release`);
      const old = contextForStored(svc, req, hr, w, on);
      old.lastSet = await listReleases(on.client, old.hr.storageNamespace, old.hr.releaseName, req.signal);
      try {
        await runUninstall(old);
      } catch (err) {
        if (!/no latest release/.test(errorMessage(err))) throw err;
      }
      w.history = [];
      w.clearFailures();
      w.f.storageNamespace = undefined;
      return finish(intervalMs, [...wake, { key, reason: 'dependency', dedupKey: `retarget-${svc.now().getTime()}` }]);
    }
    w.f.storageNamespace = hr.storageNamespace;

    const requestedAt = rec.object?.metadata.annotations?.[REQUESTED_AT_ANNOTATION] ?? rec.requestedAt;
    const values = vals.values;
    const digest = valuesDigest(values);
    const ctx: ReleaseContext = {
      svc,
      key,
      log,
      signal: req.signal,
      hr,
      rawSpec,
      annotations: rec.object?.metadata.annotations ?? {},
      requestedAt,
      w,
      chart,
      values,
      valuesDigest: digest,
      redact,
      ...(healthExprs ? { healthExprs } : {}),
      initialObservedGeneration: Number(rec.status.observedGeneration ?? 0),
      gates,
      target: on,
      runner: () => helmForTarget(svc, on),
    };
    const resetRequested = handleAnnotationRequest(ctx, RESET_ANNOTATION, 'lastHandledResetAt');
    const lastDigest = w.f.lastAttemptedConfigDigest;
    if (w.f.lastAttemptedGeneration !== gen || w.f.lastAttemptedRevision !== chart.version || (lastDigest !== undefined && lastDigest !== digest) || resetRequested) {
      w.clearFailures();
    }
    w.f.lastAttemptedGeneration = gen;
    w.f.lastAttemptedRevision = chart.version;
    w.f.lastAttemptedRevisionDigest = chart.ociDigest;
    w.f.lastAttemptedConfigDigest = digest;
    w.f.lastAttemptedValuesChecksum = undefined;

    const outcome = await runAtomicRelease(ctx, async () => {
      await w.write(svc.state, key, {});
    });
    switch (outcome.kind) {
      case 'done':
        if (w.isReady()) wake.push(...(await dependentsToWake(svc, key, `${gen}-${chart.version}-${digest.slice(7, 19)}`)));
        return finish(jitter(intervalMs), wake);
      case 'retryAfter':
        return finish(jitter(outcome.ms), wake);
      case 'requeue':
        return finish(intervalMs, [...wake, { key, reason: 'dependency', dedupKey: `requeue-${svc.now().getTime()}-${w.f.failures ?? 0}` }]);
      case 'stalled':
        return finish(jitter(intervalMs), wake);
      default: {
        // 'error'
        const down = remoteDown(on, outcome.error);
        if (down) {
          // The object's failure, not the worker's: Ready=False naming the cluster, retried.
          const ready = w.get('Ready');
          if (ready?.status !== 'False' || !ready.message.includes(`cluster '${down.cluster.name}'`)) w.mark('Ready', 'False', 'ReconcileError', down.message);
          log.warn('release failed: target cluster unreachable', { cluster: down.cluster.name, error: down.message });
          return finish(retryOf(intervalMs, undefined), wake);
        }
        const t = transientCause(outcome.error);
        log.warn('release failed', { error: redactText(errorMessage(outcome.error), redact) });
        return finish(retryOf(intervalMs, undefined), wake, t);
      }
    }
  } catch (err) {
    const down = remoteDown(target, err);
    const f = down
      ? new ReconcileFailure('ReconcileError', down.message, { cause: err })
      : err instanceof ReconcileFailure
        ? err
        : new ReconcileFailure(err instanceof FluxlessError && err.code === 'ValidationFailed' ? 'InvalidSpec' : 'ReconcileError', errorMessage(err), { cause: err });
    const message = redactText(f.message, redact);
    w.mark('Ready', 'False', f.reason, message);
    if (f.stalled) w.markStalled(f.reason, message);
    const sev = EARLY_EVENTS[f.reason] ?? (f.reason === 'ArtifactFailed' && /^Could not load chart/.test(message) ? 'error' : undefined);
    if (sev) w.event({ severity: sev, reason: f.reason, message: message.replace(/^Could not load chart: /, '') });
    log.warn('reconcile failed', { reason: f.reason, error: message, ...(target?.remote ? { cluster: target.cluster.name } : {}) });
    return finish(retryOf(intervalMs, f.retryMs), wake, down ? undefined : transientCause(err));
  } finally {
    target?.release();
  }
}

/** The objects a HelmRelease manages (its inventory), for `tree`. */
function children(rec: ObjectRecord): Array<ObjectKey & { group: string }> {
  const inv = rec.status.inventory as { entries?: Array<{ id: string }> } | undefined;
  return (inv?.entries ?? []).map((e) => {
    const r = parseInventoryId(e.id);
    return { kind: r.kind, namespace: r.namespace, name: r.name, group: r.group };
  });
}

/** The chart source of a HelmRelease record, for `reconcile --with-source`. */
function sourceOf(rec: ObjectRecord): ObjectKey | undefined {
  try {
    return chartSourceKey(parseHelmRelease(rec.object, { defaultNamespace: rec.object?.metadata.namespace ?? 'default' }));
  } catch {
    return undefined;
  }
}

/** What `get` shows: the chart version of the latest release (or the last attempted one). */
function summary(rec: ObjectRecord): { revision: string } {
  const h = rec.status.history as Array<{ chartVersion?: string; version?: number }> | undefined;
  const newest = [...(h ?? [])].sort((a, b) => (b.version ?? 0) - (a.version ?? 0))[0];
  return { revision: newest?.chartVersion ?? (rec.status.lastAttemptedRevision as string | undefined) ?? '' };
}

/** The HelmRelease kind. */
export const helmReleaseKind: KindReconciler = {
  ...helmReleaseDescriptor,
  reconcile: reconcileHelmRelease,
  finalize: finalizeHelmRelease,
  summary,
  children,
  sourceOf,
  validate: (obj) => void parseHelmRelease(obj, { defaultNamespace: obj.metadata.namespace ?? 'default' }),
};
