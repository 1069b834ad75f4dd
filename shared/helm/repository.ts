/**
 * HelmRepository (type default) access: credentials from its Secrets, the index fetch
 * (revision = `sha256:` of the downloaded bytes, artifact = the validated index as JSON),
 * and chart downloads from it. Messages follow source-controller's.
 */
import { createHash } from 'node:crypto';
import { chartMetadataFromArchive, ChartLoadError } from './chart-archive.js';
import { RepositoryError } from './errors.js';
import { redactUrl, repositoryGet, type RepositoryAccess } from './http.js';
import { indexToJson, IndexError, loadIndex, MAX_CHART_SIZE, MAX_INDEX_SIZE, validateMetadata, type ChartMetadata, type ChartVersion, type DroppedEntry, type IndexFile } from './index-file.js';
import type { HelmRepository } from './repository-spec.js';
import { trimEnd } from '../util/trim.js';

/** Secret data, as the API returns it decoded (bytes) or as strings. */
export type SecretData = Record<string, Buffer | string>;

/** Reads a Secret in a namespace; undefined when it does not exist. */
export type SecretLookup = (namespace: string, name: string) => Promise<SecretData | undefined>;

function text(v: Buffer | string | undefined): string | undefined {
  return v === undefined ? undefined : typeof v === 'string' ? v : v.toString('utf8');
}

/**
 * TLS material from a Secret (fluxcd/pkg runtime/secrets): `tls.crt`+`tls.key` (both or
 * neither), `ca.crt`; legacy `certFile`/`keyFile`/`caFile` as a fallback. Throws Error with Flux's text.
 */
export function tlsFromSecret(ref: string, data: SecretData, required: boolean): RepositoryAccess['tls'] | undefined {
  const cert = data['tls.crt'] ?? data.certFile;
  const key = data['tls.key'] ?? data.keyFile;
  const ca = data['ca.crt'] ?? data.caFile;
  if (cert && !key) throw new Error(`secret '${ref}' contains 'tls.crt' but missing 'tls.key'`);
  if (key && !cert) throw new Error(`secret '${ref}' contains 'tls.key' but missing 'tls.crt'`);
  if (!cert && !ca) {
    if (required) throw new Error(`secret '${ref}' must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'`);
    return undefined;
  }
  return { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) };
}

/**
 * The access settings of a HelmRepository, from its `secretRef` and `certSecretRef`
 * Secrets (already read). `certSecretRef` TLS wins over TLS keys in `secretRef`
 * (deprecated). Throws RepositoryError(AuthenticationFailed) with Flux's messages.
 */
export function repositoryAccess(repo: HelmRepository, secrets: { auth?: SecretData; cert?: SecretData } = {}): RepositoryAccess {
  const ns = repo.metadata.namespace;
  const access: RepositoryAccess = {
    url: repo.spec.normalizedUrl,
    passCredentials: repo.spec.passCredentials,
    timeoutMs: repo.spec.timeoutMs,
  };
  if (repo.spec.certSecretRef) {
    const ref = `${ns}/${repo.spec.certSecretRef.name}`;
    if (!secrets.cert) {
      throw new RepositoryError('AuthenticationFailed', `failed to get TLS authentication secret '${ref}': secrets "${repo.spec.certSecretRef.name}" not found`, {
        hint: `create Secret ${ref} with ca.crt and/or tls.crt and tls.key`,
      });
    }
    try {
      access.tls = tlsFromSecret(ref, secrets.cert, true);
    } catch (err) {
      throw new RepositoryError('AuthenticationFailed', `failed to construct Helm client's TLS config: ${(err as Error).message}`);
    }
  }
  if (repo.spec.secretRef) {
    const ref = `${ns}/${repo.spec.secretRef.name}`;
    if (!secrets.auth) {
      throw new RepositoryError('AuthenticationFailed', `failed to get authentication secret '${ref}': secrets "${repo.spec.secretRef.name}" not found`, {
        hint: `create Secret ${ref} with username and password`,
      });
    }
    const username = text(secrets.auth.username);
    const password = text(secrets.auth.password);
    if ((username === undefined) !== (password === undefined)) {
      const [present, missing] = username === undefined ? ['password', 'username'] : ['username', 'password'];
      throw new RepositoryError('AuthenticationFailed', `failed to detect authentication methods: secret '${ref}': malformed basic auth - has '${present}' but missing '${missing}'`);
    }
    if (username !== undefined && password !== undefined) access.auth = { username, password };
    if (!access.tls) {
      try {
        const t = tlsFromSecret(ref, secrets.auth, false);
        if (t) access.tls = t;
      } catch (err) {
        throw new RepositoryError('AuthenticationFailed', `failed to detect authentication methods: ${(err as Error).message}`);
      }
    }
  }
  return access;
}

/** Reads the Secrets a HelmRepository names and returns its access settings. */
export async function loadRepositoryAccess(repo: HelmRepository, lookup: SecretLookup): Promise<RepositoryAccess> {
  const ns = repo.metadata.namespace;
  const [auth, cert] = await Promise.all([
    repo.spec.secretRef ? lookup(ns, repo.spec.secretRef.name) : Promise.resolve(undefined),
    repo.spec.certSecretRef ? lookup(ns, repo.spec.certSecretRef.name) : Promise.resolve(undefined),
  ]);
  return repositoryAccess(repo, { auth, cert });
}

/** A fetched index: Flux's revision and artifact. */
export interface FetchedIndex {
  /** `sha256:<hex>` of the downloaded bytes (the artifact revision). */
  revision: string;
  /** Size of the downloaded index, bytes. */
  size: number;
  index: IndexFile;
  /** The artifact content: the validated index as indented JSON. */
  artifact: Buffer;
  /** Flux's artifact file name: `index-<revision hex>.yaml`. */
  artifactName: string;
  /** Entries Helm's validation dropped. */
  dropped: DroppedEntry[];
}

/** The index URL of a repository: `<url>/index.yaml` (path joined, query kept). */
export function indexUrl(repoUrl: string): string {
  const u = new URL(repoUrl);
  u.pathname = trimEnd(u.pathname, '/') + '/index.yaml';
  return u.toString();
}

/**
 * Downloads and validates `<url>/index.yaml`. With `lastRevision` equal to the new revision
 * the index is not parsed again and `unchanged: true` is returned (Flux's short-circuit).
 * Throws RepositoryError: reason Failed (`failed to fetch Helm repository index: ...`) or
 * IndexationFailed (`failed to load Helm repository from index YAML: ...`).
 */
export async function fetchRepositoryIndex(
  access: RepositoryAccess,
  opts: { lastRevision?: string; signal?: AbortSignal; maxBytes?: number } = {},
): Promise<({ unchanged: false } & FetchedIndex) | { unchanged: true; revision: string; size: number }> {
  let bytes: Buffer;
  const maxBytes = opts.maxBytes ?? MAX_INDEX_SIZE;
  try {
    bytes = await repositoryGet(access, indexUrl(access.url), { maxBytes, signal: opts.signal, what: 'index' });
  } catch (err) {
    const e = err as RepositoryError;
    throw new RepositoryError(e.reason === 'URLInvalid' ? 'URLInvalid' : 'Failed', `failed to fetch Helm repository index: failed to cache index to temporary file: ${e.message}`, {
      cause: err,
      hint: e.hint,
      status: e.status,
    });
  }
  const revision = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
  if (opts.lastRevision && opts.lastRevision === revision) return { unchanged: true, revision, size: bytes.length };
  let loaded;
  try {
    loaded = loadIndex(bytes);
  } catch (err) {
    throw new RepositoryError('IndexationFailed', `failed to load Helm repository from index YAML: failed to load index: ${err instanceof IndexError ? err.message : String(err)}`, {
      cause: err,
      hint: 'the server answered, but not with a Helm repository index (index.yaml with apiVersion and entries)',
    });
  }
  return {
    unchanged: false,
    revision,
    size: bytes.length,
    index: loaded.index,
    artifact: Buffer.from(indexToJson(loaded.index)),
    artifactName: `index-${revision.slice('sha256:'.length)}.yaml`,
    dropped: loaded.dropped,
  };
}

/** Loads a stored index artifact (the JSON written by fetchRepositoryIndex, or any index.yaml). */
export function loadStoredIndex(bytes: Uint8Array): IndexFile {
  return loadIndex(bytes).index;
}

/** helm repo.ResolveReferenceURL: an absolute chart URL is kept; a relative one resolves against the repository URL, whose query is kept. */
export function resolveChartUrl(repoUrl: string, ref: string): string {
  try {
    const abs = new URL(ref);
    if (abs.protocol) return ref;
  } catch {
    // relative
  }
  const base = new URL(repoUrl);
  base.pathname = trimEnd(base.pathname, '/') + '/';
  const query = base.search;
  const resolved = new URL(ref, base);
  resolved.search = query;
  return resolved.toString();
}

/** docker/go-units HumanSize (decimal units, 4 significant digits), as Flux's events print sizes. */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let i = 0;
  let size = bytes;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${Number(size.toPrecision(4))}${units[i]}`;
}

/** A downloaded chart package, checked. */
export interface DownloadedChart {
  /** The .tgz bytes. */
  data: Buffer;
  /** `sha256:<hex>` of the bytes. */
  digest: string;
  metadata: ChartMetadata;
  url: string;
}

/**
 * source-controller DownloadChart + validatePackageAndWriteToPath: downloads `urls[0]` of
 * the entry (relative URLs resolve against the repository), then loads and validates the
 * chart metadata. With `verifyDigest` (default true) the sha256 must equal the index
 * entry's `digest` when it has one (Flux does not check it; Fluxless does unless told not to).
 */
export async function downloadChart(
  access: RepositoryAccess,
  cv: ChartVersion,
  opts: { signal?: AbortSignal; verifyDigest?: boolean; maxBytes?: number } = {},
): Promise<DownloadedChart> {
  if (!cv.urls || cv.urls.length === 0) throw new RepositoryError('Failed', `chart '${cv.name}' has no downloadable URLs`);
  const url = resolveChartUrl(access.url, cv.urls[0]);
  const data = await repositoryGet(access, url, { maxBytes: opts.maxBytes ?? MAX_CHART_SIZE, signal: opts.signal, what: 'chart' });
  const hex = createHash('sha256').update(data).digest('hex');
  if ((opts.verifyDigest ?? true) && cv.digest && cv.digest.toLowerCase() !== hex) {
    throw new RepositoryError('Failed', `chart '${cv.name}' version '${cv.version}' from ${redactUrl(url)} has digest sha256:${hex}, but the index says ${cv.digest}`, {
      hint: 'the repository index is stale or the package was replaced; re-index the repository (helm repo index)',
    });
  }
  let metadata: ChartMetadata;
  try {
    metadata = await chartMetadataFromArchive(data);
  } catch (err) {
    throw new RepositoryError('Failed', `failed to load chart metadata from written chart: ${err instanceof ChartLoadError ? err.message : String(err)}`);
  }
  const problem = validateMetadata(metadata);
  if (problem) throw new RepositoryError('Failed', `failed to validate metadata of written chart: ${problem}`);
  return { data, digest: `sha256:${hex}`, metadata, url };
}
