/**
 * Building the chart artifact of a HelmChart, after source-controller's chart builders:
 *
 * - from a HelmRepository: select the version in the index, download the package, and
 *   repackage it only when `valuesFiles` (or version metadata) ask for it;
 * - from a directory in a source artifact (GitRepository, Bucket, an OCI or external
 *   artifact): load Chart.yaml, resolve the dependencies missing from `charts/` (local
 *   `file://` paths inside the source, remote repositories through a resolver, offline
 *   from the declared repositories), merge `valuesFiles` over `values.yaml`, and package
 *   with `helm package` (version with Flux's build metadata).
 *
 * Errors are ChartBuildError with source-controller's reasons and messages.
 */
import { createHash } from 'node:crypto';
import { cp, lstat, mkdir, readFile, readdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { chartLockDependencies, chartMetadataFromArchive, chartMetadataFromDir, ChartLoadError, readChartArchive } from './chart-archive.js';
import type { RepositoryError } from './errors.js';
import { ChartBuildError, HelmCommandError } from './errors.js';
import { encodeGoYaml, readValues, GoYamlError } from './goyaml.js';
import type { RepositoryAccess } from './http.js';
import { ChartVersionError, selectChartVersion, validateMetadata, type ChartDependency, type ChartMetadata, type ChartVersion, type IndexFile } from './index-file.js';
import { downloadChart, fetchRepositoryIndex, type DownloadedChart } from './repository.js';
import { normalizeRepositoryUrl } from './repository-spec.js';
import type { HelmRunner } from './runner.js';
import { formatVersion, parseConstraint, parseVersion, satisfies, SemverError, tryParseVersion, withMetadata } from './semver.js';
import { mergeMaps, type Values } from './values.js';
import { remoteChartNameProblem } from './chart-spec.js';

/** The outcome of a chart build. */
export interface ChartBuildResult {
  name: string;
  /** The chart version as stored (with build metadata when Flux adds it). */
  version: string;
  /** The packaged chart; undefined when `upToDate`. */
  data?: Buffer;
  /** `sha256:<hex>` of `data`. */
  digest?: string;
  /** Flux's artifact file name, `<name>-<version>.tgz`. */
  fileName: string;
  /** Packaged by us (Flux: ChartPackageSucceeded) rather than pulled as is (ChartPullSucceeded). */
  packaged: boolean;
  /** The values files that contributed (`status.observedValuesFiles`). */
  valuesFiles: string[];
  /** Dependencies added to `charts/`. */
  resolvedDependencies: number;
  /** The cached artifact already has this name and version: nothing was built. */
  upToDate: boolean;
}

/** The artifact a HelmChart already has (so an unchanged chart is not rebuilt). */
export interface CachedChart {
  name: string;
  version: string;
  valuesFiles?: string[];
}

/** Where a chart dependency's repository lives and how to reach it. */
export interface DependencyRepository {
  /** http(s) repository access (credentials when a HelmRepository in the namespace matches the URL). */
  access?: RepositoryAccess;
  /** The repository index when already known (a HelmRepository's stored artifact). */
  index?: IndexFile;
  /**
   * oci:// repositories: credentials and transport for `helm pull`, or `pull`, a function
   * returning the chart package (e.g. shared/oci's pullHelmChart), used instead of helm.
   */
  oci?: {
    username?: string;
    password?: string;
    plainHttp?: boolean;
    insecureSkipTlsVerify?: boolean;
    pull?: (chartUrl: string, version: string | undefined, signal?: AbortSignal) => Promise<Buffer>;
  };
}

/**
 * Finds the repository for a dependency URL (normalized as source-controller does).
 * Return undefined to fall back to anonymous access with a 60s timeout, as Flux does.
 */
export type DependencyResolver = (normalizedUrl: string) => Promise<DependencyRepository | undefined>;

/** BuildOptions.GetValuesFiles: a list that is just `values.yaml` means "no values files". */
export function effectiveValuesFiles(valuesFiles: readonly string[] | undefined): string[] {
  const list = valuesFiles ?? [];
  if (list.length === 1 && path.posix.normalize(list[0]) === 'values.yaml') return [];
  return list.slice();
}

/** git.ExtractHashFromRevision: the commit hash of `main@sha1:<hex>`, `sha1:<hex>` or legacy `main/<hex>`. */
export function hashFromRevision(rev: string): string {
  const at = rev.lastIndexOf(':');
  if (at >= 0) return rev.slice(at + 1);
  const slash = rev.lastIndexOf('/');
  return slash >= 0 ? rev.slice(slash + 1) : rev;
}

/**
 * The build metadata source-controller appends to the chart version: with
 * `reconcileStrategy: Revision` and a GitRepository/Bucket source the first 12 hex of the
 * source revision; with `valuesFiles` the object generation (`<rev12>.<gen>` or `<gen>`).
 * HelmRepository sources only get the generation part.
 */
export function chartVersionMetadata(opts: {
  sourceKind: string;
  reconcileStrategy: 'ChartVersion' | 'Revision';
  sourceRevision?: string;
  valuesFiles?: readonly string[];
  generation: number;
}): string | undefined {
  let meta = '';
  if (opts.reconcileStrategy === 'Revision' && opts.sourceKind !== 'HelmRepository' && opts.sourceRevision) {
    let rev = opts.sourceRevision;
    if (opts.sourceKind === 'GitRepository') rev = hashFromRevision(rev);
    else if (/^[a-z0-9]+:[0-9a-f]+$/.test(rev)) rev = rev.slice(rev.indexOf(':') + 1);
    if (opts.sourceKind === 'GitRepository' || opts.sourceKind === 'Bucket') rev = rev.slice(0, 12);
    meta = rev;
  }
  if (effectiveValuesFiles(opts.valuesFiles).length > 0) {
    meta = meta ? `${meta}.${opts.generation}` : String(opts.generation);
  }
  return meta || undefined;
}

/** Masterminds SetMetadata on a chart version: `<major.minor.patch[-pre]>+<metadata>`. Throws ChartBuildError(ChartMetadataPatch). */
export function versionWithMetadata(version: string, metadata: string): string {
  let v;
  try {
    v = parseVersion(version);
  } catch (err) {
    throw new ChartBuildError('ChartMetadataPatch', `failed to parse version from chart metadata as SemVer: ${(err as Error).message}`);
  }
  try {
    return formatVersion(withMetadata(v, metadata));
  } catch (err) {
    throw new ChartBuildError('ChartMetadataPatch', `failed to set SemVer metadata on chart version: ${(err as Error).message}`);
  }
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

/** Resolves `rel` inside `root` like securejoin: never outside root (`..` and symlinks are contained). */
async function secureJoin(root: string, rel: string): Promise<string> {
  const joined = path.resolve(root, '.' + path.sep + path.normalize('/' + rel));
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    return joined; // does not exist yet; lexically inside root
  }
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) {
    throw new ChartBuildError('ChartReference', `path '${rel}' resolves outside the source`);
  }
  return real;
}

/** Copies a directory tree, following symlinks only when they stay inside `root`. */
async function copyTree(root: string, src: string, dst: string): Promise<void> {
  await mkdir(dst, { recursive: true });
  const realRoot = await realpath(root);
  for (const name of await readdir(src)) {
    const from = path.join(src, name);
    const to = path.join(dst, name);
    let st = await lstat(from);
    let real = from;
    if (st.isSymbolicLink()) {
      real = await realpath(from).catch(() => '');
      if (!real || (real !== realRoot && !real.startsWith(realRoot + path.sep))) continue; // dangling or escaping: dropped
      st = await stat(real);
    }
    if (st.isDirectory()) await copyTree(root, real, to);
    else if (st.isFile()) await cp(real, to);
  }
}

/** Merges values files read by `read(path)` in order (later wins, maps merged, lists replaced). */
async function mergeValuesFiles(
  paths: readonly string[],
  ignoreMissing: boolean,
  read: (p: string) => Promise<{ text: string } | { missing: string }>,
  prefix = '',
): Promise<{ values: Values; used: string[] }> {
  let merged: Values = {};
  const used: string[] = [];
  for (const p of paths) {
    const r = await read(p);
    if ('missing' in r) {
      if (ignoreMissing) continue;
      throw new ChartBuildError('ValuesFilesMerge', prefix + r.missing);
    }
    let v: Values;
    try {
      v = readValues(r.text);
    } catch (err) {
      throw new ChartBuildError('ValuesFilesMerge', `${prefix}unmarshaling values from '${p}' failed: ${err instanceof GoYamlError ? err.message : String(err)}`);
    }
    merged = mergeMaps(merged, v);
    used.push(p);
  }
  return { values: merged, used };
}

/** The values.yaml bytes Fluxless writes for merged values (go-yaml v2 style, keys sorted). */
function encodeValues(values: Values): string {
  return Object.keys(values).length === 0 ? '' : encodeGoYaml(values, { sortKeys: true });
}

async function packageDir(runner: HelmRunner, chartDir: string, version: string, out: string, signal?: AbortSignal): Promise<Buffer> {
  try {
    const file = await runner.package(chartDir, { destination: out, version, signal });
    return await readFile(file);
  } catch (err) {
    const msg = err instanceof HelmCommandError ? err.message : String(err);
    throw new ChartBuildError('ChartPackage', msg, { cause: err });
  }
}

/**
 * Rewrites a packaged chart: sets its version and/or replaces values.yaml, and packages it
 * again with `helm package`. Used for remote charts with valuesFiles, and for
 * helm-controller's digest tracking (`<version>+<digest12>`) before an install or upgrade.
 */
export async function repackageChart(runner: HelmRunner, tgz: Buffer, opts: { version?: string; valuesYaml?: string; signal?: AbortSignal }): Promise<Buffer> {
  const work = await runner.scratchDir('repack-');
  try {
    let files;
    try {
      files = await readChartArchive(tgz);
    } catch (err) {
      throw new ChartBuildError('ChartPackage', `failed to load downloaded chart: ${err instanceof ChartLoadError ? err.message : String(err)}`);
    }
    const dir = path.join(work, 'src', files.top || 'chart');
    for (const [rel, data] of files.files) {
      const to = path.join(dir, rel);
      await mkdir(path.dirname(to), { recursive: true });
      await writeFile(to, data);
    }
    if (opts.valuesYaml !== undefined) await writeFile(path.join(dir, 'values.yaml'), opts.valuesYaml);
    const md = await chartMetadataFromDir(dir);
    const out = path.join(work, 'out');
    await mkdir(out);
    return await packageDir(runner, dir, opts.version ?? md.version ?? '', out, opts.signal);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Options of buildRemoteChart. */
export interface RemoteChartOptions {
  runner: HelmRunner;
  access: RepositoryAccess;
  /** The repository index (the HelmRepository's stored artifact, loaded). */
  index: IndexFile;
  chart: string;
  /** Default `*`. */
  version?: string;
  valuesFiles?: readonly string[];
  ignoreMissingValuesFiles?: boolean;
  /** Build metadata (chartVersionMetadata()). */
  versionMetadata?: string;
  cached?: CachedChart;
  /** Rebuild even when the cached artifact matches (Flux: a new generation). */
  force?: boolean;
  /** Check the package against the index digest (default true). */
  verifyDigest?: boolean;
  /** Downloads a chart version (default downloadChart); a caller may answer from a cache. */
  download?: (access: RepositoryAccess, cv: ChartVersion, opts: { signal?: AbortSignal; verifyDigest?: boolean }) => Promise<DownloadedChart>;
  signal?: AbortSignal;
}

/** source-controller's remote builder (a chart from a HelmRepository of type default). */
export async function buildRemoteChart(o: RemoteChartOptions): Promise<ChartBuildResult> {
  const nameProblem = remoteChartNameProblem(o.chart);
  if (nameProblem) throw new ChartBuildError('ChartReference', nameProblem);
  let cv;
  try {
    cv = selectChartVersion(o.index, o.chart, o.version ?? '*');
  } catch (err) {
    throw new ChartBuildError('ChartReference', `failed to get chart version for remote reference: ${err instanceof ChartVersionError ? err.message : String(err)}`);
  }
  const valuesFiles = effectiveValuesFiles(o.valuesFiles);
  const version = o.versionMetadata ? versionWithMetadata(cv.version, o.versionMetadata) : cv.version;
  const requiresPackaging = valuesFiles.length > 0 || Boolean(o.versionMetadata);
  let fileName: string;
  try {
    fileName = path.basename(chartsEntry('/', `${cv.name}-${version}.tgz`));
  } catch (err) {
    throw new ChartBuildError('ChartReference', `chart '${o.chart}' in the repository index: ${(err as Error).message}`);
  }
  if (o.cached && !o.force && o.cached.name === cv.name && o.cached.version === version) {
    return { name: cv.name, version, fileName, packaged: requiresPackaging, valuesFiles: o.cached.valuesFiles ?? valuesFiles, resolvedDependencies: 0, upToDate: true };
  }
  let downloaded;
  try {
    downloaded = await (o.download ?? downloadChart)(o.access, cv, { signal: o.signal, verifyDigest: o.verifyDigest });
  } catch (err) {
    const e = err as RepositoryError;
    throw new ChartBuildError('ChartPull', `failed to download chart for remote reference: ${e.message}`, { cause: err, hint: e.hint });
  }
  if (!requiresPackaging) {
    return { name: cv.name, version, data: downloaded.data, digest: downloaded.digest, fileName, packaged: false, valuesFiles: [], resolvedDependencies: 0, upToDate: false };
  }
  const files = await readChartArchive(downloaded.data).catch((err: unknown) => {
    throw new ChartBuildError('ChartPackage', `failed to load downloaded chart: ${(err as Error).message}`);
  });
  let valuesYaml: string | undefined;
  let used: string[] = [];
  if (valuesFiles.length) {
    const merged = await mergeValuesFiles(valuesFiles, o.ignoreMissingValuesFiles ?? false, async (p) => {
      const clean = path.posix.normalize(p);
      const data = files.files.get(clean);
      if (data === undefined || clean.startsWith('templates/') || clean === 'Chart.yaml') return { missing: `no values file found at path '${p}'` };
      return { text: data.toString('utf8') };
    }, 'failed to merge chart values: ');
    const encoded = encodeValues(merged.values);
    const current = files.files.get('values.yaml')?.toString('utf8');
    if (current !== encoded) {
      valuesYaml = encoded;
      used = merged.used;
    }
  }
  const data = await repackageChart(o.runner, downloaded.data, { version, valuesYaml, signal: o.signal });
  return { name: cv.name, version, data, digest: sha256(data), fileName, packaged: true, valuesFiles: used, resolvedDependencies: 0, upToDate: false };
}

/** Options of buildLocalChart. */
export interface LocalChartOptions {
  runner: HelmRunner;
  /** The extracted source artifact (the work dir all paths are relative to). */
  sourceDir: string;
  /** Path of the chart directory (or packaged .tgz) inside the source. */
  chartPath: string;
  /** Paths relative to the source root (not the chart), as in Flux. */
  valuesFiles?: readonly string[];
  ignoreMissingValuesFiles?: boolean;
  versionMetadata?: string;
  cached?: CachedChart;
  force?: boolean;
  /** Repositories of remote dependencies; default: anonymous, 60s timeout. */
  resolveRepository?: DependencyResolver;
  signal?: AbortSignal;
}

/** source-controller's local builder (a chart from a source artifact directory). */
export async function buildLocalChart(o: LocalChartOptions): Promise<ChartBuildResult> {
  if (!o.chartPath) throw new ChartBuildError('ChartReference', 'no path set for local chart reference');
  if (path.isAbsolute(o.chartPath)) throw new ChartBuildError('ChartReference', 'local chart reference path is expected to be relative');
  const chartAbs = await secureJoin(o.sourceDir, o.chartPath);
  const st = await stat(chartAbs).catch(() => undefined);
  if (!st) throw new ChartBuildError('ChartReference', `stat ${o.chartPath}: no such file or directory`, { hint: 'check spec.chart: it is a path inside the source artifact' });
  const isDir = st.isDirectory();
  let md: ChartMetadata;
  try {
    md = isDir ? await chartMetadataFromDir(chartAbs) : await chartMetadataFromArchive(await readFile(chartAbs));
  } catch (err) {
    throw new ChartBuildError('ChartReference', err instanceof ChartLoadError ? err.message : String(err));
  }
  const problem = validateMetadata(md);
  if (problem) throw new ChartBuildError('ChartReference', problem);
  const name = md.name!;
  const version = o.versionMetadata ? versionWithMetadata(md.version!, o.versionMetadata) : md.version!;
  const valuesFiles = effectiveValuesFiles(o.valuesFiles);
  const requiresPackaging = isDir || Boolean(o.versionMetadata) || valuesFiles.length > 0;
  const fileName = `${name}-${version}.tgz`;
  if (o.cached && !o.force && o.cached.name === name && o.cached.version === version) {
    return { name, version, fileName, packaged: requiresPackaging, valuesFiles: o.cached.valuesFiles ?? valuesFiles, resolvedDependencies: 0, upToDate: true };
  }
  if (!requiresPackaging) {
    const data = await readFile(chartAbs);
    return { name, version, data, digest: sha256(data), fileName, packaged: false, valuesFiles: [], resolvedDependencies: 0, upToDate: false };
  }

  let merged: { values: Values; used: string[] } | undefined;
  if (valuesFiles.length) {
    merged = await mergeValuesFiles(valuesFiles, o.ignoreMissingValuesFiles ?? false, async (p) => {
      const abs = await secureJoin(o.sourceDir, p);
      const fst = await stat(abs).catch(() => undefined);
      if (!fst || !fst.isFile()) {
        const rel = abs.startsWith(o.sourceDir) ? abs.slice(o.sourceDir.length) : p;
        return { missing: `no values file found at path '${rel}' (reference '${p}')` };
      }
      return { text: await readFile(abs, 'utf8') };
    });
  }

  if (!isDir) {
    const files = await readChartArchive(await readFile(chartAbs));
    const encoded = merged ? encodeValues(merged.values) : undefined;
    const changed = encoded !== undefined && files.files.get('values.yaml')?.toString('utf8') !== encoded;
    const data = await repackageChart(o.runner, await readFile(chartAbs), { version, valuesYaml: changed ? encoded : undefined, signal: o.signal });
    return { name, version, data, digest: sha256(data), fileName, packaged: true, valuesFiles: changed ? merged!.used : [], resolvedDependencies: 0, upToDate: false };
  }

  const work = await o.runner.scratchDir('chart-');
  try {
    const dir = path.join(work, 'src', name);
    try {
      await copyTree(o.sourceDir, chartAbs, dir);
    } catch (err) {
      throw new ChartBuildError('ChartPackage', `failed to copy the chart: ${(err as Error).message}`);
    }
    let used: string[] = [];
    if (merged) {
      const encoded = encodeValues(merged.values);
      const current = await readFile(path.join(dir, 'values.yaml'), 'utf8').catch(() => undefined);
      if (current === undefined) throw new ChartBuildError('ValuesFilesMerge', 'failed to locate values file: values.yaml');
      if (current !== encoded) {
        await writeFile(path.join(dir, 'values.yaml'), encoded);
        used = merged.used;
      }
    }
    const resolved = await buildDependencies({
      runner: o.runner,
      sourceDir: o.sourceDir,
      chartPath: o.chartPath,
      workChartDir: dir,
      metadata: md,
      resolve: o.resolveRepository,
      signal: o.signal,
    });
    const out = path.join(work, 'out');
    await mkdir(out);
    const data = await packageDir(o.runner, dir, version, out, o.signal);
    return { name, version, data, digest: sha256(data), fileName, packaged: true, valuesFiles: used, resolvedDependencies: resolved, upToDate: false };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Names of the charts already in a chart's `charts/` directory (subchart dirs and .tgz). */
async function presentDependencies(chartsDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(chartsDir, { withFileTypes: true }).catch(() => [])) {
    const p = path.join(chartsDir, entry.name);
    try {
      if (entry.isDirectory()) names.push((await chartMetadataFromDir(p)).name ?? '');
      else if (entry.name.endsWith('.tgz')) names.push((await chartMetadataFromArchive(await readFile(p))).name ?? '');
    } catch {
      // not a chart: Helm ignores it too
    }
  }
  return names.filter(Boolean);
}

function isLocalDependency(dep: ChartDependency): boolean {
  return !dep.repository || dep.repository.startsWith('file://');
}

/**
 * source-controller's DependencyManager.Build: the dependencies (Chart.lock wins over
 * Chart.yaml) not present in `charts/` are added: local ones copied from inside the source,
 * remote ones downloaded (version constraint, repository from the resolver). Returns the
 * number added. Throws ChartBuildError(DependencyBuild).
 */
export async function buildDependencies(o: {
  runner: HelmRunner;
  sourceDir: string;
  chartPath: string;
  /** The writable copy of the chart the dependencies go into. */
  workChartDir: string;
  metadata: ChartMetadata;
  resolve?: DependencyResolver;
  signal?: AbortSignal;
}): Promise<number> {
  const lock = await chartLockDependencies(o.workChartDir).catch((err: unknown) => {
    throw new ChartBuildError('DependencyBuild', (err as Error).message);
  });
  const reqs = (lock ?? o.metadata.dependencies ?? []).filter(Boolean);
  if (reqs.length === 0) return 0;
  const chartsDir = path.join(o.workChartDir, 'charts');
  const present = await presentDependencies(chartsDir);
  if (present.length === reqs.length) return 0;
  const missing = reqs.filter((d) => !present.includes(d.name) && !(d.alias && present.includes(d.alias)));
  if (missing.length === 0) return 0;
  await mkdir(chartsDir, { recursive: true });
  const repos = new Map<string, Promise<{ repo: DependencyRepository; index?: IndexFile }>>();
  const repoFor = (url: string) => {
    let p = repos.get(url);
    if (!p) {
      p = (async () => {
        const repo = (await o.resolve?.(url)) ?? {};
        if (url.startsWith('oci://')) return { repo };
        const access = repo.access ?? { url, timeoutMs: 60_000 };
        if (repo.index) return { repo: { ...repo, access }, index: repo.index };
        const fetched = await fetchRepositoryIndex(access, { signal: o.signal });
        if (fetched.unchanged) throw new Error('unexpected unchanged index');
        return { repo: { ...repo, access }, index: fetched.index };
      })();
      repos.set(url, p);
    }
    return p;
  };
  // Dependencies are added one at a time: small charts, and errors stay deterministic.
  for (const dep of missing) {
    const label = dep.alias || dep.name;
    try {
      if (isLocalDependency(dep)) await addLocalDependency(o, dep, chartsDir);
      else await addRemoteDependency(o, dep, chartsDir, repoFor);
    } catch (err) {
      const kind = isLocalDependency(dep) ? 'local' : 'remote';
      const msg = err instanceof ChartBuildError ? err.message.replace(/^[^:]+: /, '') : err instanceof Error ? err.message : String(err);
      throw new ChartBuildError('DependencyBuild', `failed to add ${kind} dependency '${label}': ${msg}`, { cause: err });
    }
  }
  return missing.length;
}

async function addLocalDependency(o: { sourceDir: string; chartPath: string }, dep: ChartDependency, chartsDir: string): Promise<void> {
  let rel: string;
  if (!dep.repository) rel = path.posix.join(o.chartPath, 'charts', dep.name);
  else {
    const u = dep.repository.slice('file://'.length);
    rel = path.posix.join(o.chartPath, u);
  }
  const abs = await secureJoin(o.sourceDir, rel);
  const st = await stat(abs).catch(() => undefined);
  if (!st) throw new Error(`no chart found at '${abs.slice(o.sourceDir.length)}' (reference '${dep.repository}')`);
  let constraint;
  try {
    constraint = parseConstraint(dep.version ?? '');
  } catch (err) {
    throw new Error(`invalid version/constraint format '${dep.version ?? ''}': ${err instanceof SemverError ? err.message : String(err)}`);
  }
  let md: ChartMetadata;
  try {
    md = st.isDirectory() ? await chartMetadataFromDir(abs) : await chartMetadataFromArchive(await readFile(abs));
  } catch (err) {
    throw new Error(`failed to load chart from '${abs.slice(o.sourceDir.length)}' (reference '${dep.repository}'): ${(err as Error).message}`);
  }
  const problem = validateMetadata(md);
  if (problem) throw new Error(`chart at '${abs.slice(o.sourceDir.length)}' (reference '${dep.repository}'): ${problem}`);
  const v = tryParseVersion(md.version ?? '');
  if (!v) throw new Error(`invalid semantic version '${md.version ?? ''}'`);
  if (!satisfies(v, constraint)) throw new Error(`can't get a valid version for constraint '${dep.version}'`);
  if (st.isDirectory()) await copyTree(o.sourceDir, abs, chartsEntry(chartsDir, md.name!));
  else await cp(abs, path.join(chartsDir, path.basename(abs)));
}

async function addRemoteDependency(
  o: { runner: HelmRunner; signal?: AbortSignal },
  dep: ChartDependency,
  chartsDir: string,
  repoFor: (url: string) => Promise<{ repo: DependencyRepository; index?: IndexFile }>,
): Promise<void> {
  const repoUrl = dep.repository;
  if (repoUrl.startsWith('@') || repoUrl.startsWith('alias:')) throw new Error(`aliased repository dependency is not supported: ${repoUrl}`);
  if (!/^(https?|oci):\/\//.test(repoUrl)) throw new Error(`invalid dependency repository URL: ${repoUrl}`);
  const url = normalizeRepositoryUrl(repoUrl);
  const { repo, index } = await repoFor(url).catch((err: unknown) => {
    throw new Error(`failed to get chart repository for URL '${url}': ${(err as Error).message}`);
  });
  if (url.startsWith('oci://')) {
    const chartUrl = `${url}/${dep.name}`;
    if (repo.oci?.pull) {
      let data: Buffer;
      try {
        data = await repo.oci.pull(chartUrl, dep.version, o.signal);
      } catch (err) {
        throw new Error(`failed to get chart '${dep.name}' version '${dep.version ?? ''}' from '${repoUrl}': ${(err as Error).message}`);
      }
      const md = await chartMetadataFromArchive(data);
      const problem = validateMetadata(md);
      if (problem) throw new Error(`chart '${dep.name}' from '${repoUrl}': ${problem}`);
      await writeFile(chartsEntry(chartsDir, `${md.name}-${md.version}.tgz`), data);
      return;
    }
    try {
      await o.runner.pull(chartUrl, {
        destination: chartsDir,
        version: dep.version,
        username: repo.oci?.username,
        password: repo.oci?.password,
        plainHttp: repo.oci?.plainHttp,
        insecureSkipTlsVerify: repo.oci?.insecureSkipTlsVerify,
        signal: o.signal,
      });
    } catch (err) {
      throw new Error(`failed to get chart '${dep.name}' version '${dep.version ?? ''}' from '${repoUrl}': ${(err as Error).message}`);
    }
    return;
  }
  let cv;
  try {
    cv = selectChartVersion(index!, dep.name, dep.version ?? '');
  } catch (err) {
    throw new Error(`failed to get chart '${dep.name}' version '${dep.version ?? ''}' from '${repoUrl}': ${(err as Error).message}`);
  }
  let dl;
  try {
    dl = await downloadChart(repo.access!, cv, { signal: o.signal });
  } catch (err) {
    throw new Error(`chart download of version '${cv.version}' failed: ${(err as Error).message}`);
  }
  await writeFile(chartsEntry(chartsDir, `${cv.name}-${cv.version}.tgz`), dl.data);
}

/**
 * `dir/name` for a name taken from chart metadata or an index (a chart's name and version),
 * refused unless it is one plain file name: such names come from whoever published the
 * chart, and a name with a path in it must not choose where Fluxless writes.
 */
export function chartsEntry(dir: string, name: string): string {
  // eslint-disable-next-line no-control-regex
  if (name === '' || name === '.' || name === '..' || /[/\\\u0000]/.test(name)) {
    throw new Error(`chart file name ${JSON.stringify(name)} is invalid: a chart's name and version may not contain a path`);
  }
  const p = path.join(dir, name);
  if (path.dirname(p) !== path.resolve(dir)) throw new Error(`chart file name ${JSON.stringify(name)} is invalid`);
  return p;
}

/** Values the chart ships with (its values.yaml), for diffs and `helm get values --all` style views. */
export async function chartDefaultValues(tgz: Buffer): Promise<Values> {
  const files = await readChartArchive(tgz);
  const v = files.files.get('values.yaml');
  return v ? readValues(v.toString('utf8')) : {};
}
