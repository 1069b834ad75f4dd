/**
 * The chart of a HelmRelease (helm-controller's getSource, isSourceReady, chart loading
 * and mutateChartWithSourceRevision): the source is the generated HelmChart (`spec.chart`)
 * or `spec.chartRef` (HelmChart, OCIRepository, ExternalArtifact), read from its record
 * after registering as its user (so its next artifact wakes this release); it must be
 * Ready for its generation, not Stalled, with an artifact. The artifact is read from the
 * store once per digest per process (digest verified), its Chart.yaml parsed, and, for
 * OCIRepository (and digest-revision ExternalArtifact) sources, its version given the
 * first 12 hex of the manifest digest as build metadata (`6.6.1+0cc9a8446c95`) in memory;
 * the resulting .tgz is written to disk once for helm.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chartMetadataFromArchive, ChartLoadError } from '../../helm/chart-archive.js';
import { chartCrds, setChartVersion } from '../../helm/chart-files.js';
import { versionWithMetadata } from '../../helm/chart-build.js';
import { helmChartFromRelease } from '../../helm/chart-spec.js';
import type { HelmRelease } from '../../helm/release-spec.js';
import { parseVersion, compareVersions } from '../../helm/semver.js';
import type { KubeObject, ObjectKey } from '../../kube/object.js';
import { ACCESS_DENIED_REASON, crossNamespaceDenial } from '../../kube/tenancy.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { registerSourceUser } from '../../reconcile/source-users.js';
import { getCondition, readRecord, recordKey, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';
import { formatGoDuration } from '../../util/duration.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { LruCache, once } from '../helmchart/cache.js';
import type { HelmGates, LoadedChart } from './context.js';

/** How long a HelmRelease waits for a source that is not ready (Flux: 30 s, jittered). */
export const SOURCE_RETRY_MS = 30_000;

const PLURAL: Record<string, string> = { HelmChart: 'helmcharts', OCIRepository: 'ocirepositories', ExternalArtifact: 'externalartifacts' };

/** The key of the HelmRelease's chart source: the generated HelmChart or spec.chartRef. */
export function chartSourceKey(hr: HelmRelease): ObjectKey {
  if (hr.spec.chartRef) return recordKey(hr.spec.chartRef.kind, hr.spec.chartRef.namespace, hr.spec.chartRef.name);
  const c = helmChartFromRelease(hr)!;
  return recordKey('HelmChart', c.metadata.namespace, c.metadata.name);
}

/**
 * The lockdown's `noCrossNamespaceRefs` (helm-controller's `--no-cross-namespace-refs`): a
 * chart source (chartRef, or spec.chart's sourceRef) in another namespace is AccessDenied,
 * stalled until the spec changes, before any HelmChart is made for it.
 */
export function assertSameNamespaceSource(settings: ReconcileServices['settings'], hr: HelmRelease): void {
  const ns = hr.metadata.namespace;
  const ref = hr.spec.chartRef
    ? { kind: hr.spec.chartRef.kind, namespace: hr.spec.chartRef.namespace, name: hr.spec.chartRef.name }
    : { kind: hr.spec.chart!.spec.sourceRef.kind, namespace: hr.spec.chart!.spec.sourceRef.namespace || ns, name: hr.spec.chart!.spec.sourceRef.name };
  const denied = crossNamespaceDenial(settings, ns, ref);
  if (denied) throw new ReconcileFailure(ACCESS_DENIED_REASON, denied, { stalled: true });
}

/** isSourceReady: a not-ready message, or undefined when the source can be used. */
export function sourceNotReady(key: ObjectKey, src: ObjectRecord): string | undefined {
  const id = `${key.kind} '${key.namespace}/${key.name}'`;
  if (key.kind === 'ExternalArtifact') return src.status.artifact ? undefined : `ExternalArtifact '${key.namespace}/${key.name}' is not ready: does not have an artifact`;
  const gen = Number(src.object?.metadata.generation ?? 1);
  if (gen !== Number(src.status.observedGeneration ?? -1)) {
    const ready = getCondition(src, 'Ready');
    return `${id} is not ready: ${ready?.status === 'False' ? ready.message : 'latest generation of object has not been reconciled'}`;
  }
  const stalled = getCondition(src, 'Stalled');
  if (stalled?.status === 'True') return `${id} is not ready: ${stalled.message}`;
  if (!src.status.artifact) return `${id} is not ready: does not have an artifact`;
  return undefined;
}

/** The source's artifact; a ReconcileFailure (ArtifactFailed, AccessDenied, SourceNotReady) otherwise. */
export async function chartSource(svc: ReconcileServices, hr: HelmRelease, self: ObjectKey, gates: HelmGates): Promise<{ key: ObjectKey; artifact: ArtifactInfo }> {
  const key = chartSourceKey(hr);
  if (key.kind === 'ExternalArtifact' && !gates.externalArtifact) {
    throw new ReconcileFailure('AccessDenied', `can't access '${key.kind}/${key.namespace}/${key.name}', ExternalArtifact feature gate is disabled`, { stalled: true });
  }
  // The generated HelmChart wakes its HelmRelease through its origin; chartRef sources through their users index.
  if (hr.spec.chartRef) await registerSourceUser(svc, key, self);
  const src = await readRecord(svc.state, key);
  if (!src?.object || src.deleted) {
    throw new ReconcileFailure('ArtifactFailed', `could not get Source object: ${PLURAL[key.kind] ?? key.kind.toLowerCase()}.source.toolkit.fluxcd.io "${key.name}" not found`, { retryMs: jitter(SOURCE_RETRY_MS) });
  }
  const notReady = sourceNotReady(key, src);
  if (notReady) throw new ReconcileFailure('SourceNotReady', notReady, { retryMs: jitter(SOURCE_RETRY_MS) });
  return { key, artifact: src.status.artifact! };
}

interface ParsedChart {
  data: Buffer;
  name: string;
  version: string;
  appVersion?: string;
  metadata: LoadedChart['metadata'];
}

const parsed = new LruCache<ParsedChart>(256, 256 << 20, (c) => c.data.length);
const inflight = new Map<string, Promise<ParsedChart>>();
const onDisk = new Map<string, string>();
const inflightDisk = new Map<string, Promise<string>>();
const crdCache = new LruCache<{ crds: KubeObject[]; ignored: string[] }>(256);

async function parse(data: Buffer): Promise<ParsedChart> {
  const md = await chartMetadataFromArchive(data);
  if (!md.name || !md.version) throw new ChartLoadError(`validation: chart.metadata.${!md.name ? 'name' : 'version'} is required`);
  return { data, name: md.name, version: md.version, ...(md.appVersion ? { appVersion: md.appVersion } : {}), metadata: md };
}

/** mutateChartWithSourceRevision: the OCI digest (revision digest) and the version with its first 12 hex. */
export function digestTracking(kind: string, revision: string, chartVersion: string): { ociDigest: string; version: string } | undefined {
  if (kind !== 'OCIRepository' && !(kind === 'ExternalArtifact' && revision.includes(':'))) return undefined;
  try {
    parseVersion(chartVersion);
  } catch {
    throw new ReconcileFailure('ChartMutateError', `invalid chart version ${chartVersion}`);
  }
  const sha12 = (rev: string) => {
    const pair = rev.split(':');
    if (pair.length !== 2 || pair[1].length < 12) throw new ReconcileFailure('ChartMutateError', `invalid artifact revision ${revision}`);
    return pair[1].slice(0, 12);
  };
  const at = revision.split('@');
  let tagVersion;
  if (at.length === 2) {
    try {
      tagVersion = parseVersion(at[0].replaceAll('_', '+'));
    } catch {
      tagVersion = undefined;
    }
  }
  if (tagVersion) {
    if (compareVersions(tagVersion, parseVersion(chartVersion)) !== 0) throw new ReconcileFailure('ChartMutateError', `artifact revision ${at[0]} does not match chart version ${chartVersion}`);
    return { ociDigest: at[1], version: versionWithMetadata(chartVersion, sha12(at[1])) };
  }
  return { ociDigest: revision, version: versionWithMetadata(chartVersion, sha12(revision)) };
}

/**
 * Loads the chart of `artifact` (see the module comment) into `dir` (the helm runner's
 * chart directory). Throws ReconcileFailure: ArtifactFailed, ChartMutateError.
 */
export async function loadChart(
  svc: ReconcileServices,
  source: { key: ObjectKey; artifact: ArtifactInfo },
  opts: { gates: HelmGates; dir: string },
): Promise<LoadedChart & { ociDigest?: string }> {
  const a = source.artifact;
  let base: ParsedChart;
  try {
    base =
      parsed.get(a.digest) ??
      (await once(inflight, a.digest, async () => {
        const p = await parse(await svc.artifacts.get(a.key, a.digest));
        parsed.set(a.digest, p);
        return p;
      }));
  } catch (err) {
    if (err instanceof FluxlessError && err.code === 'NotFound') {
      throw new ReconcileFailure('ArtifactFailed', `Source not ready: artifact not found. Retrying in ${formatGoDuration(SOURCE_RETRY_MS)}`, { retryMs: SOURCE_RETRY_MS, cause: err });
    }
    throw new ReconcileFailure('ArtifactFailed', `Could not load chart: ${errorMessage(err)}`, { cause: err });
  }
  const tracked = digestTracking(source.key.kind, a.revision, base.version);
  let chart = base;
  if (tracked && !opts.gates.disableChartDigestTracking) {
    const k = `${a.digest}|${tracked.version}`;
    chart =
      parsed.get(k) ??
      (await once(inflight, k, async () => {
        const p = await parse(await setChartVersion(base.data, tracked.version)).catch((err: unknown) => {
          throw new ReconcileFailure('ChartMutateError', errorMessage(err), { cause: err });
        });
        parsed.set(k, p);
        return p;
      }));
  }
  const diskKey = `${opts.dir}|${a.digest}|${chart.version}`;
  const file =
    onDisk.get(diskKey) ??
    (await once(inflightDisk, diskKey, async () => {
      await mkdir(opts.dir, { recursive: true, mode: 0o700 });
      const f = path.join(opts.dir, `${a.digest.slice('sha256:'.length, 'sha256:'.length + 32)}-${chart.version.replace(/[^A-Za-z0-9._+-]/g, '_')}.tgz`);
      await writeFile(f, chart.data, { mode: 0o600 });
      onDisk.set(diskKey, f);
      return f;
    }));
  const crdKey = `${a.digest}|${chart.version}`;
  return {
    name: chart.name,
    version: chart.version,
    ...(chart.appVersion ? { appVersion: chart.appVersion } : {}),
    metadata: chart.metadata,
    data: chart.data,
    path: file,
    artifactDigest: a.digest,
    ...(tracked ? { ociDigest: tracked.ociDigest } : {}),
    crds: async () => {
      const hit = crdCache.get(crdKey);
      if (hit) return hit;
      const c = await chartCrds(chart.data);
      const v = { crds: c.crds.map((x) => x.object as unknown as KubeObject), ignored: c.ignored };
      crdCache.set(crdKey, v);
      return v;
    },
  };
}
