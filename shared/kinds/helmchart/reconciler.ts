/**
 * The HelmChart reconciler (`source.toolkit.fluxcd.io/v1`), as source-controller: read the
 * source (registered as its user first, so its next artifact wakes this chart), build the
 * chart (build.ts), store the packaged chart as this object's artifact (revision = the
 * chart version, the last 2 kept) unless the stored one already has that name and
 * version, and wake the HelmReleases that use it. Explicit HelmCharts and the ones a
 * HelmRelease generates from `spec.chart` (origin HelmRelease) reconcile the same way.
 */
import { createHash } from 'node:crypto';
import type { ChartBuildResult } from '../../helm/chart-build.js';
import { parseHelmChart, type HelmChart } from '../../helm/chart-spec.js';
import { ChartBuildError, RepositoryError } from '../../helm/errors.js';
import { unverifiedCondition, withVerification } from '../ocirepository/verification.js';
import { OciError } from '../../oci/index.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { helmChartDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { registerSourceUser, sourceUsers } from '../../reconcile/source-users.js';
import { writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { getCondition, isReady, readRecord, recordKey, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { sourceFailure, sourceSuccess } from '../helmrepository/status.js';
import { SourceUnavailableError, buildChart, buildFailureCondition } from './build.js';

/** Artifacts kept per HelmChart. */
const KEEP_ARTIFACTS = 2;
const DEFAULT_INTERVAL_MS = 60_000;
const PLURAL: Record<string, string> = {
  HelmRepository: 'helmrepositories',
  GitRepository: 'gitrepositories',
  Bucket: 'buckets',
};

/** source-controller's Build.Summary(). */
export function buildSummary(b: Pick<ChartBuildResult, 'name' | 'version' | 'packaged' | 'valuesFiles'>): string {
  let s = `${b.packaged ? 'packaged' : 'pulled'} '${b.name}' chart with version '${b.version}'`;
  if (b.valuesFiles.length) s += ` and merged values files [${b.valuesFiles.join(' ')}]`;
  return s;
}

function reasonFor(b: Pick<ChartBuildResult, 'packaged'>): string {
  return b.packaged ? 'ChartPackageSucceeded' : 'ChartPullSucceeded';
}

/** Reconciles one HelmChart. */
export async function reconcileHelmChart(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, signal } = req;
  const handledRequest = rec.requestedAt;
  let chart: HelmChart;
  try {
    chart = parseHelmChart(rec.object, { defaultNamespace: key.namespace });
  } catch (err) {
    const message = errorMessage(err);
    await writeStatus(svc.state, key, sourceFailure('InvalidSpec', message, { stalled: true, handledRequest, nextRunMs: jitter(DEFAULT_INTERVAL_MS) }), svc.now());
    return { ready: false, reason: 'InvalidSpec', message, wake: [] };
  }
  if (chart.spec.suspend || rec.suspended) return { ready: isReady(rec), reason: 'Suspended', message: 'HelmChart is suspended', wake: [] };
  const nextRunMs = jitter(chart.spec.intervalMs);
  const ref = chart.spec.sourceRef;
  const sourceKey = recordKey(ref.kind, key.namespace, ref.name);
  try {
    await registerSourceUser(svc, sourceKey, key);
    const source = await readRecord(svc.state, sourceKey);
    if (!source?.object || source.deleted) {
      throw new SourceUnavailableError('SourceUnavailable', `failed to get source: ${PLURAL[ref.kind] ?? ref.kind.toLowerCase()}.source.toolkit.fluxcd.io "${ref.name}" not found`);
    }
    const { result, sourceRevision, verified } = await buildChart({ svc, key, chart, rec, source, signal });
    if (chart.spec.verify && verified === undefined) req.log.warn('spec.verify is not applied: as in Flux, only charts from an OCI HelmRepository are verified', { source: `${ref.kind}/${ref.name}` });
    const verification = (u: StatusUpdate): StatusUpdate => withVerification(u, chart.spec.verify !== undefined, verified === undefined ? undefined : `verified signature of version ${verified}`);
    const message = buildSummary(result);
    const reason = reasonFor(result);
    const fields = { observedChartName: result.name, ...(sourceRevision ? { observedSourceArtifactRevision: sourceRevision } : {}) };
    if (result.upToDate && rec.status.artifact) {
      await writeStatus(svc.state, key, verification(sourceSuccess(rec, { reason, message, artifact: rec.status.artifact, event: { reason, message }, fields, handledRequest, nextRunMs })), svc.now());
      return { ready: true, reason, message, revision: rec.status.artifact.revision, wake: [] };
    }
    if (!result.data) throw new ChartBuildError('Unknown', 'the chart build produced no package');
    let stored;
    try {
      stored = await svc.artifacts.put(key, result.version, result.data);
    } catch (err) {
      const e = new Error(`unable to copy Helm chart to storage: ${errorMessage(err)}`, { cause: err });
      (e as Error & { storage?: boolean }).storage = true;
      throw e;
    }
    await svc.artifacts.gc(key, KEEP_ARTIFACTS, { protect: [stored.key] }).catch((err: unknown) => req.log.warn('artifact gc failed', { error: errorMessage(err) }));
    const artifact: ArtifactInfo = {
      revision: result.version,
      digest: stored.digest,
      key: stored.key,
      size: stored.size,
      ...(stored.url ? { url: stored.url } : {}),
      lastUpdateTime: stored.lastUpdateTime,
    };
    const storedFields = { observedValuesFiles: chart.spec.ignoreMissingValuesFiles ? result.valuesFiles : undefined, url: stored.url };
    await writeStatus(svc.state, key, verification(sourceSuccess(rec, { reason, message, artifact, stored: storedFields, event: { reason, message }, fields, handledRequest, nextRunMs })), svc.now());
    req.log.info('new chart artifact', { chart: result.name, version: result.version, packaged: result.packaged, dependencies: result.resolvedDependencies });
    const token = `${result.version}@${stored.digest}`;
    const wake = await sourceUsers(svc, key, token);
    // A generated HelmChart's user is the HelmRelease that made it (its spec names the template's source, not the chart).
    const o = rec.origin;
    if (o?.by === 'HelmRelease' && o.namespace && o.name && !wake.some((w) => w.key.kind === 'HelmRelease' && w.key.namespace === o.namespace && w.key.name === o.name)) {
      wake.push({ key: recordKey('HelmRelease', o.namespace, o.name), reason: 'source', dedupKey: token, revision: result.version });
    }
    return { ready: true, reason, message, revision: result.version, wake };
  } catch (err) {
    let reason: string;
    let condition: 'FetchFailed' | 'BuildFailed' | 'StorageOperationFailed' = 'FetchFailed';
    let stalled = false;
    if (err instanceof SourceUnavailableError) reason = err.reason;
    else if (err instanceof ChartBuildError) {
      reason = err.reason;
      condition = buildFailureCondition(err);
      stalled = err.persistent;
    } else if (err instanceof RepositoryError) reason = err.reason;
    else if (err instanceof OciError) {
      reason = err.reason;
      stalled = err.stalled;
    } else if ((err as { storage?: boolean }).storage) {
      reason = 'ArchiveOperationFailed';
      condition = 'StorageOperationFailed';
    } else reason = 'Failed';
    const message = errorMessage(err);
    const failed = sourceFailure(reason, message, { stalled, condition: reason === 'VerificationError' ? undefined : condition, handledRequest, nextRunMs });
    // Flux: a refused signature is SourceVerified=False, VerificationError (not FetchFailed).
    if (reason === 'VerificationError') failed.conditions = [...(failed.conditions ?? []), unverifiedCondition(message)];
    await writeStatus(svc.state, key, failed, svc.now());
    req.log.warn('chart failed', { reason, error: message });
    // A generated chart that starts failing tells its HelmRelease at once (it reports why it waits).
    const o = rec.origin;
    const before = getCondition(rec, 'Ready');
    const wake: Wake[] =
      o?.by === 'HelmRelease' && o.namespace && o.name && (before?.message !== message || before.status !== 'False')
        ? [{ key: recordKey('HelmRelease', o.namespace, o.name), reason: 'source', dedupKey: `failed-${createHash('sha256').update(message).digest('hex').slice(0, 16)}` }]
        : [];
    return { ready: false, reason, message, wake, transientError: transientCause(err) };
  }
}

/** A HelmChart removed (from Git, or by its HelmRelease): its artifacts, record and users index go. */
export async function finalizeHelmChart(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const n = await svc.artifacts.deleteAll(req.key);
  await svc.state.delete(req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  return { ready: false, reason: 'Finalized', message: `HelmChart deleted, ${n} artifact(s) removed`, wake: [] };
}

/** The HelmChart kind. */
export const helmChartKind: KindReconciler = {
  ...helmChartDescriptor,
  reconcile: reconcileHelmChart,
  finalize: finalizeHelmChart,
  summary: (rec: ObjectRecord) => ({ revision: rec.status.artifact?.revision ?? '' }),
  sourceOf: (rec) => {
    const sr = ((rec.object?.spec ?? {}) as { sourceRef?: { kind?: string; name?: string } }).sourceRef;
    return sr?.kind && sr.name ? { kind: sr.kind, namespace: rec.object!.metadata.namespace ?? 'default', name: sr.name } : undefined;
  },
  validate: (obj) => void parseHelmChart(obj, { defaultNamespace: obj.metadata.namespace ?? 'default' }),
};
