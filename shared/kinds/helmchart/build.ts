/**
 * The chart build of a HelmChart, per source kind, as source-controller's builders:
 *
 * - HelmRepository (type default): the version is selected in the repository's stored
 *   index (parsed once per digest per process), the package downloaded once per index
 *   entry per process, repackaged only for `valuesFiles`;
 * - HelmRepository (type oci): the version is resolved against the registry and the
 *   chart pulled (nothing is pulled when the resolved version is the stored one);
 * - GitRepository, Bucket: the chart directory (or
 *   packaged chart) at `spec.chart` inside the source's artifact (extracted once per digest
 *   per process), packaged with its missing dependencies: local ones from the source,
 *   remote ones from the HelmRepository in the namespace whose URL matches (its stored
 *   index and credentials), else anonymously.
 */
import { buildLocalChart, buildRemoteChart, chartVersionMetadata, type CachedChart, type ChartBuildResult, type DependencyRepository, type DependencyResolver } from '../../helm/chart-build.js';
import type { HelmChart } from '../../helm/chart-spec.js';
import { ChartBuildError, RepositoryError } from '../../helm/errors.js';
import type { RepositoryAccess } from '../../helm/http.js';
import type { ChartVersion, IndexFile } from '../../helm/index-file.js';
import { downloadChart, loadRepositoryAccess, loadStoredIndex, type DownloadedChart } from '../../helm/repository.js';
import { normalizeRepositoryUrl, parseHelmRepository, type HelmRepository } from '../../helm/repository-spec.js';
import { chartMetadataFromArchive } from '../../helm/chart-archive.js';
import type { ObjectKey } from '../../kube/object.js';
import { OciError, pullHelmChart, type OciAuth } from '../../oci/index.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { listRecords, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { secretLookup } from '../helmrepository/reconciler.js';
import { offlineHelmRunner } from '../helmrelease/runner.js';
import { downloadCache, indexCache, once } from './cache.js';
import { cosignCheck } from '../ocirepository/verification.js';

/** Why a build could not start: the source is missing or has no artifact yet (FetchFailed). */
export class SourceUnavailableError extends Error {
  constructor(
    readonly reason: 'SourceUnavailable' | 'NoSourceArtifact',
    message: string,
  ) {
    super(message);
  }
}

/** What a build needs: the chart, its record, and the source record read by the caller. */
export interface BuildInput {
  svc: ReconcileServices;
  key: ObjectKey;
  chart: HelmChart;
  rec: ObjectRecord;
  source: ObjectRecord;
  signal?: AbortSignal;
}

/** The build, and the source artifact revision it observed (`status.observedSourceArtifactRevision`). */
export interface BuildOutput {
  result: ChartBuildResult;
  sourceRevision?: string;
  /** The chart version whose signature `spec.verify` accepted in this build (OCI charts). */
  verified?: string;
}

const inflightDownloads = new Map<string, Promise<DownloadedChart>>();
const inflightIndexes = new Map<string, Promise<IndexFile>>();

/** A chart package from a repository, downloaded once per index entry per process. */
function cachedDownload(access: RepositoryAccess, cv: ChartVersion, opts: { signal?: AbortSignal; verifyDigest?: boolean }): Promise<DownloadedChart> {
  const k = `${access.url}|${cv.name}@${cv.version}#${cv.digest ?? (cv.urls ?? []).join(',')}`;
  const hit = downloadCache.get(k);
  if (hit) return Promise.resolve(hit);
  return once(inflightDownloads, k, async () => {
    const c = await downloadChart(access, cv, opts);
    downloadCache.set(k, c);
    return c;
  });
}

/** The stored index of a HelmRepository, parsed once per digest per process. */
export function storedIndex(svc: Pick<ReconcileServices, 'artifacts'>, a: ArtifactInfo): Promise<IndexFile> {
  const hit = indexCache.get(a.digest);
  if (hit) return Promise.resolve(hit);
  return once(inflightIndexes, a.digest, async () => {
    const index = loadStoredIndex(await svc.artifacts.get(a.key, a.digest));
    indexCache.set(a.digest, index);
    return index;
  });
}

/** The OCI credentials of a `type: oci` HelmRepository (dockerconfigjson or username/password). */
async function ociAuthOf(svc: ReconcileServices, repo: HelmRepository): Promise<OciAuth | undefined> {
  const lookup = secretLookup(svc);
  const ns = repo.metadata.namespace;
  const auth: OciAuth = {};
  if (repo.spec.secretRef) {
    const name = `${ns}/${repo.spec.secretRef.name}`;
    const data = await lookup(ns, repo.spec.secretRef.name);
    if (!data) throw new OciError('AuthenticationFailed', `failed to get authentication secret '${name}': secrets "${repo.spec.secretRef.name}" not found`);
    const text = Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : v.toString('utf8')]));
    if (text['.dockerconfigjson'] || text['.dockercfg']) auth.pullSecret = { data: text, name };
    else if (text.username !== undefined || text.password !== undefined) auth.credentials = { username: text.username, password: text.password };
  }
  if (repo.spec.certSecretRef) {
    const name = `${ns}/${repo.spec.certSecretRef.name}`;
    const data = await lookup(ns, repo.spec.certSecretRef.name);
    if (!data) throw new OciError('AuthenticationFailed', `failed to get TLS authentication secret '${name}': secrets "${repo.spec.certSecretRef.name}" not found`);
    auth.certSecret = { data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, typeof v === 'string' ? v : v.toString('utf8')])), name };
  }
  return auth.pullSecret || auth.credentials || auth.certSecret ? auth : undefined;
}

/** The artifact this HelmChart already has, when it can be reused (Flux's cached chart). */
async function cachedChart(svc: ReconcileServices, rec: ObjectRecord): Promise<CachedChart | undefined> {
  const a = rec.status.artifact;
  const name = rec.status.observedChartName as string | undefined;
  if (!a || !name) return undefined;
  try {
    await svc.artifacts.get(a.key, a.digest);
  } catch {
    return undefined;
  }
  return { name, version: a.revision, valuesFiles: (rec.status.observedValuesFiles as string[] | undefined) ?? undefined };
}

/** Builds from a HelmRepository (type default or oci). */
async function fromHelmRepository(i: BuildInput, repo: HelmRepository, cached: CachedChart | undefined, force: boolean): Promise<BuildOutput> {
  const { svc, chart, source } = i;
  const runner = await offlineHelmRunner(svc);
  const generation = Number(chart.metadata.generation ?? 1);
  const versionMetadata = chartVersionMetadata({ sourceKind: 'HelmRepository', reconcileStrategy: chart.spec.reconcileStrategy, valuesFiles: chart.spec.valuesFiles, generation });
  const common = {
    runner,
    chart: chart.spec.chart,
    version: chart.spec.version,
    valuesFiles: chart.spec.valuesFiles,
    ignoreMissingValuesFiles: chart.spec.ignoreMissingValuesFiles,
    versionMetadata,
    cached,
    force,
    signal: i.signal,
  };
  if (repo.spec.type === 'oci') {
    const auth = await ociAuthOf(svc, repo);
    const url = `${repo.spec.normalizedUrl}/${chart.spec.chart}`;
    const lastVersion = cached && !force && !versionMetadata && cached.name === chart.spec.chart ? cached.version : undefined;
    let pulled;
    try {
      pulled = await pullHelmChart(url, chart.spec.version, auth, {
        provider: repo.spec.provider,
        insecure: repo.spec.insecure,
        lastVersion,
        signal: i.signal,
        timeoutMs: repo.spec.timeoutMs,
        ...(chart.spec.verify ? { verify: cosignCheck(svc.secrets, i.key.namespace, chart.spec.verify) } : {}),
      });
    } catch (err) {
      if (err instanceof OciError && err.reason !== 'ChartPullError') throw err;
      const msg = errorMessage(err).replace(/^failed to (get chart version|download chart) for remote reference: /, '');
      throw new ChartBuildError(/failed to get chart version/.test(errorMessage(err)) ? 'ChartReference' : 'ChartPull', `failed to ${/failed to get chart version/.test(errorMessage(err)) ? 'get chart version' : 'download chart'} for remote reference: ${msg}`, { cause: err });
    }
    const verified = pulled.verified ? { verified: pulled.version } : {};
    if (!pulled.changed) {
      return { result: { name: cached!.name, version: cached!.version, fileName: `${cached!.name}-${cached!.version}.tgz`, packaged: false, valuesFiles: cached!.valuesFiles ?? [], resolvedDependencies: 0, upToDate: true }, ...verified };
    }
    const data = pulled.chartTgz;
    const md = await chartMetadataFromArchive(data);
    const cv: ChartVersion = { ...md, name: md.name ?? pulled.name, version: pulled.version, urls: [pulled.ref], created: '', digest: pulled.digest.slice('sha256:'.length) };
    const index: IndexFile = { apiVersion: 'v1', generated: '', entries: { [chart.spec.chart]: [cv] } };
    const result = await buildRemoteChart({
      ...common,
      access: { url: repo.spec.normalizedUrl },
      index,
      version: pulled.version,
      download: async () => ({ data, digest: pulled.digest, metadata: md, url: pulled.ref }),
    });
    return { result, ...verified };
  }
  const art = source.status.artifact;
  if (!art) throw new SourceUnavailableError('NoSourceArtifact', `no artifact available for HelmRepository source '${repo.metadata.name}'`);
  const index = await storedIndex(svc, art);
  const access = await loadRepositoryAccess(repo, secretLookup(svc));
  const result = await buildRemoteChart({ ...common, access, index, download: cachedDownload });
  return { result, sourceRevision: art.revision };
}

/** Repositories of remote dependencies: the HelmRepositories of the namespace, by normalized URL. */
export function dependencyResolver(svc: ReconcileServices, namespace: string): DependencyResolver {
  let repos: Promise<Array<{ repo: HelmRepository; artifact?: ArtifactInfo }>> | undefined;
  const list = () =>
    (repos ??= listRecords(svc.state, { kind: 'HelmRepository', namespace }).then((reads) => {
      const out: Array<{ repo: HelmRepository; artifact?: ArtifactInfo }> = [];
      for (const r of reads) {
        if (!r.record?.object || r.record.deleted) continue;
        try {
          out.push({ repo: parseHelmRepository(r.record.object, { defaultNamespace: namespace }), artifact: r.record.status.artifact });
        } catch {
          // an invalid HelmRepository matches nothing
        }
      }
      return out;
    }));
  return async (url): Promise<DependencyRepository | undefined> => {
    const hit = (await list()).find((r) => r.repo.spec.normalizedUrl === normalizeRepositoryUrl(url));
    if (!hit) return undefined;
    const repo = hit.repo;
    if (repo.spec.type === 'oci') {
      const auth = await ociAuthOf(svc, repo);
      return {
        oci: {
          pull: async (chartUrl, version, signal) => {
            const res = await pullHelmChart(chartUrl, version, auth, { provider: repo.spec.provider, insecure: repo.spec.insecure, signal, timeoutMs: repo.spec.timeoutMs });
            if (!res.changed) throw new Error('unexpected unchanged pull');
            return res.chartTgz;
          },
        },
      };
    }
    const access = await loadRepositoryAccess(repo, secretLookup(svc));
    return { access, ...(hit.artifact ? { index: await storedIndex(svc, hit.artifact) } : {}) };
  };
}

/** Builds from a chart path inside a source artifact (GitRepository, Bucket). */
async function fromArtifact(i: BuildInput, cached: CachedChart | undefined, force: boolean): Promise<BuildOutput> {
  const { svc, chart, source } = i;
  const art = source.status.artifact;
  const kind = chart.spec.sourceRef.kind;
  if (!art) throw new SourceUnavailableError('NoSourceArtifact', `no artifact available for ${kind} source '${chart.spec.sourceRef.name}'`);
  const runner = await offlineHelmRunner(svc);
  const generation = Number(chart.metadata.generation ?? 1);
  const versionMetadata = chartVersionMetadata({ sourceKind: kind, reconcileStrategy: chart.spec.reconcileStrategy, sourceRevision: art.revision, valuesFiles: chart.spec.valuesFiles, generation });
  const opened = await svc.artifactCache.open({ key: art.key, digest: art.digest });
  try {
    const result = await buildLocalChart({
      runner,
      sourceDir: opened.root,
      chartPath: chart.spec.chart.replace(/^\.\//, ''),
      valuesFiles: chart.spec.valuesFiles,
      ignoreMissingValuesFiles: chart.spec.ignoreMissingValuesFiles,
      versionMetadata,
      cached,
      force,
      resolveRepository: dependencyResolver(svc, chart.metadata.namespace),
      signal: i.signal,
    });
    return { result, sourceRevision: art.revision };
  } finally {
    opened.release();
  }
}

/** Builds the chart of a HelmChart from its source (see the module comment). */
export async function buildChart(i: BuildInput): Promise<BuildOutput> {
  const cached = await cachedChart(i.svc, i.rec);
  // Flux rebuilds when the generation changed since the last reconcile.
  const force = Number(i.chart.metadata.generation ?? 1) !== Number(i.rec.status.observedGeneration ?? 0);
  if (i.chart.spec.sourceRef.kind === 'HelmRepository') {
    let repo: HelmRepository;
    try {
      repo = parseHelmRepository(i.source.object, { defaultNamespace: i.chart.metadata.namespace });
    } catch (err) {
      throw new SourceUnavailableError('SourceUnavailable', `failed to get source: ${errorMessage(err)}`);
    }
    return fromHelmRepository(i, repo, cached, force);
  }
  return fromArtifact(i, cached, force);
}

/** The failure condition source-controller sets for a build error. */
export function buildFailureCondition(err: unknown): 'FetchFailed' | 'BuildFailed' {
  if (err instanceof ChartBuildError) return err.step === 'ChartReference' || err.step === 'ChartPull' || err.step === 'Unknown' ? 'FetchFailed' : 'BuildFailed';
  if (err instanceof RepositoryError) return 'FetchFailed';
  return 'FetchFailed';
}
