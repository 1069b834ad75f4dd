/**
 * Helm charts from OCI registries (`oci://host/path/<chart>` + a version or range), as
 * source-controller's OCIChartRepository and Helm's registry client do it:
 *
 * - a version that parses as a version (fluxcd/pkg ParseVersion) is used as the tag
 *   directly (`+` written as `_`), without listing tags;
 * - otherwise all tags are listed, `_` read as `+`, kept when they are strict semver
 *   (Helm's Tags), an exact string match wins, else the highest version satisfying the
 *   range (`''` and `*` = the newest stable version);
 * - the manifest must have the Helm config media type and a chart layer
 *   (`application/vnd.cncf.helm.chart.content.v1.tar+gzip`, or the legacy `application/tar+gzip`);
 *   the chart .tgz and the config (the chart's metadata) are read and verified.
 */
import { computeDigest } from '../artifacts/digest.js';
import { errorMessage } from '../util/errors.js';
import { buildRegistryClient, type OciAuth } from './auth.js';
import type { RegistryClient, RegistryClientOptions } from './client.js';
import { OciError } from './errors.js';
import type { Descriptor } from './manifest.js';
import { HELM_CHART_CONTENT, HELM_CONFIG, HELM_LEGACY_CHART_CONTENT } from './media-types.js';
import { formatRepository, InvalidReferenceError, OCI_SCHEME, parseRepository, type RepositoryName } from './reference.js';
import { combineSignals } from './fetch.js';
import { constraintMatches, parseConstraint, parseStrictVersion, parseVersion } from './version.js';
import semver from 'semver';
import { trimEnd } from '../util/trim.js';

/** Options of a chart pull. */
export interface HelmChartPullOptions {
  /** `provider` of the HelmRepository (generic|aws). */
  provider?: 'generic' | 'aws';
  /** Plain HTTP allowed (HelmRepository `insecure`). */
  insecure?: boolean;
  /** The version of the chart we already have: when the resolution gives it again, nothing is pulled. */
  lastVersion?: string;
  signal?: AbortSignal;
  /** Overall timeout (default 60 s, Flux's HelmRepository default). */
  timeoutMs?: number;
  client?: RegistryClient;
  clientOptions?: Omit<RegistryClientOptions, 'keychain' | 'tls' | 'insecure'>;
  /** Largest chart accepted (default 64 MiB). */
  maxChartBytes?: number;
  /**
   * Signature check of the chart's manifest (HelmChart `spec.verify`), run before the chart is
   * read, and on every pull, also when the version is unchanged (source-controller verifies at
   * every reconcile). Throws to refuse the chart.
   */
  verify?: (client: RegistryClient, repo: RepositoryName, digest: string, signal: AbortSignal) => Promise<void>;
}

/** A resolved chart version. */
export interface HelmChartVersion {
  /** Chart name (the last path component of the URL). */
  name: string;
  /** The version as semver (`1.2.3+build`). */
  version: string;
  /** The OCI tag (`1.2.3_build`). */
  tag: string;
  /** `oci://host/path/<chart>:<tag>`. */
  ref: string;
}

/** Result of pullHelmChart. */
export type HelmChartPullResult =
  | (HelmChartVersion & { changed: false; verified?: boolean; requests: number })
  | (HelmChartVersion & {
      changed: true;
      /** The chart package (.tgz) bytes. */
      chartTgz: Buffer;
      /** `sha256:<hex>` of chartTgz. */
      digest: string;
      size: number;
      /** `sha256:<hex>` of the manifest. */
      manifestDigest: string;
      /** The config blob parsed (the chart's Chart.yaml metadata as Helm pushed it). */
      metadata: Record<string, unknown>;
      /** Manifest annotations. */
      annotations: Record<string, string>;
      layer: Descriptor;
      /** True when `verify` accepted the chart's signature. */
      verified?: boolean;
      requests: number;
    });

/** Splits `oci://host/path/<chart>` into the repository and the chart name; throws OciError (URLInvalid). */
export function parseChartUrl(chartUrl: string): { repo: RepositoryName; name: string } {
  const fail = (msg: string): never => {
    throw new OciError('URLInvalid', `invalid chart URL '${chartUrl}': ${msg}`, { stalled: true });
  };
  if (!chartUrl.startsWith(OCI_SCHEME)) fail("the URL must start with 'oci://'");
  const rest = trimEnd(chartUrl.slice(OCI_SCHEME.length), '/');
  const slash = rest.indexOf('/');
  if (slash >= 0 && /[:@]/.test(rest.slice(slash + 1))) fail('the URL must not contain a tag or digest; give the version separately');
  try {
    const repo = parseRepository(rest);
    return { repo, name: repo.repository.split('/').pop()! };
  } catch (err) {
    if (err instanceof InvalidReferenceError) return fail(err.message);
    throw err;
  }
}

/**
 * Resolves a version or range to a chart version and tag (see the module comment).
 * Throws Error with Flux's/Helm's message when nothing matches.
 */
export async function resolveHelmChartVersion(client: RegistryClient, chartUrl: string, version: string | undefined, signal?: AbortSignal): Promise<HelmChartVersion> {
  const { repo, name } = parseChartUrl(chartUrl);
  const ver = version ?? '';
  const mk = (v: string): HelmChartVersion => {
    const tag = v.replaceAll('+', '_');
    return { name, version: v, tag, ref: `${OCI_SCHEME}${formatRepository(repo)}:${tag}` };
  };
  if (ver && parseVersion(ver)) return mk(ver);
  let raw: string[];
  try {
    raw = await client.listTags(repo, { signal });
  } catch (err) {
    throw new Error(`could not get tags for "${name}": could not fetch tags for "${chartUrl}": ${errorMessage(err)}`, { cause: err });
  }
  const versions: semver.SemVer[] = [];
  for (const t of raw) {
    const v = parseStrictVersion(t.replaceAll('_', '+'));
    if (v) versions.push(v);
  }
  if (versions.length === 0) throw new Error(`unable to locate any tags in provided repository: ${chartUrl}`);
  versions.sort((a, b) => semver.compare(b, a));
  const tags = versions.map((v) => v.version + (v.build.length ? `+${v.build.join('.')}` : ''));
  if (ver && tags.includes(ver)) return mk(ver);
  const constraint = parseConstraint(ver === '' || ver === '*' ? '*' : ver);
  for (const t of tags) {
    const v = parseVersion(t);
    if (v && constraintMatches(constraint, v)) return mk(t);
  }
  throw new Error(`could not locate a version matching provided version string ${ver}`);
}

/**
 * Pulls a chart: resolves the version, then (unless it equals `lastVersion`) the manifest,
 * config and chart layer, digests verified. Throws OciError: AuthenticationFailed,
 * URLInvalid, or ChartPullError with the cause in the message.
 */
export async function pullHelmChart(chartUrl: string, version: string | undefined, auth: OciAuth | undefined, opts: HelmChartPullOptions = {}): Promise<HelmChartPullResult> {
  const { repo } = parseChartUrl(chartUrl);
  const signal = combineSignals(opts.signal, opts.timeoutMs ?? 60_000);
  const client = opts.client ?? (await buildRegistryClient({ url: chartUrl, repository: repo, provider: opts.provider, insecure: opts.insecure }, auth, { ...opts.clientOptions, signal }));
  const start = client.requestCount;
  const requests = () => client.requestCount - start;
  let resolved: HelmChartVersion;
  try {
    resolved = await resolveHelmChartVersion(client, chartUrl, version, signal);
  } catch (err) {
    if (err instanceof OciError) throw err;
    throw new OciError('ChartPullError', `failed to get chart version for remote reference: ${errorMessage(err)}`, { cause: err });
  }
  if (opts.lastVersion !== undefined && opts.lastVersion === resolved.version) {
    if (!opts.verify) return { ...resolved, changed: false, requests: requests() };
    let digest: string;
    try {
      digest = (await client.headManifest({ ...repo, tag: resolved.tag }, { signal })).digest;
    } catch (err) {
      throw new OciError('ChartPullError', `failed to download chart for remote reference: failed to get '${resolved.ref}': ${errorMessage(err)}`, { cause: err });
    }
    await opts.verify(client, repo, digest, signal);
    return { ...resolved, changed: false, verified: true, requests: requests() };
  }
  let verified = false;
  const fail = (err: unknown): never => {
    if (err instanceof OciError && err.reason === 'VerificationError') throw err;
    throw new OciError('ChartPullError', `failed to download chart for remote reference: failed to get '${resolved.ref}': ${errorMessage(err)}`, { cause: err });
  };
  try {
    const m = await client.getManifest({ ...repo, tag: resolved.tag }, { signal });
    if (m.parsed.kind !== 'image') throw new Error(`${resolved.ref} is an image index, not a Helm chart`);
    if (opts.verify) {
      await opts.verify(client, repo, m.descriptor.digest, signal);
      verified = true;
    }
    const manifest = m.parsed.manifest;
    if (manifest.config.mediaType !== HELM_CONFIG) throw new Error(`could not load config with mediatype ${HELM_CONFIG}`);
    const layer = manifest.layers.find((l) => l.mediaType === HELM_CHART_CONTENT) ?? manifest.layers.find((l) => l.mediaType === HELM_LEGACY_CHART_CONTENT);
    if (!layer) throw new Error(`manifest does not contain a layer with mediatype ${HELM_CHART_CONTENT}`);
    const [configBytes, chartTgz] = await Promise.all([
      client.readBlob(repo, manifest.config, { signal, maxBytes: 1 << 20 }),
      client.readBlob(repo, layer, { signal, maxBytes: opts.maxChartBytes ?? 64 << 20 }),
    ]);
    let metadata: Record<string, unknown> = {};
    try {
      const j: unknown = JSON.parse(configBytes.toString('utf8'));
      if (j && typeof j === 'object' && !Array.isArray(j)) metadata = j as Record<string, unknown>;
    } catch {
      throw new Error(`the chart config of ${resolved.ref} is not valid JSON`);
    }
    return {
      ...resolved,
      changed: true,
      chartTgz,
      digest: computeDigest(chartTgz),
      size: chartTgz.length,
      manifestDigest: m.descriptor.digest,
      metadata,
      annotations: { ...(manifest.annotations ?? {}) },
      layer,
      ...(verified ? { verified } : {}),
      requests: requests(),
    };
  } catch (err) {
    return fail(err);
  }
}
