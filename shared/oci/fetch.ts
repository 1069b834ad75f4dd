/**
 * fetchOciRepository: what source-controller's OCIRepository reconcileSource +
 * reconcileArtifact do, minus storage and status (the caller stores the result):
 *
 * 1. resolve `spec.ref`: digest (no request) > semver over all tags (+semverFilter; `_` read
 *    as `+` when the Helm chart layer is selected) > tag > `latest`;
 * 2. revision: `<tag>@sha256:<manifest digest>` from a HEAD of the tag (a GET when the HEAD
 *    fails), or `sha256:<hex>` for a digest ref;
 * 3. `spec.verify`: the manifest's signatures are checked before anything is pulled, when the
 *    caller says it is needed (a new revision, a new generation, or a failed last check);
 *    then nothing is pulled when the revision, `ignore` and `layerSelector` equal the last ones;
 * 4. else the manifest (an index resolves to its linux/amd64 image), its annotations as
 *    metadata, the layer selected by media type (else the first), then `extract` (untar,
 *    symlinks dropped, re-archived as a Flux tarball with the ignore rules) or `copy` (the
 *    compressed layer byte for byte). Blob bytes are verified against their digest while
 *    they stream; a mismatch fails the fetch and nothing is returned.
 *
 * With no last revision the tag is fetched with one GET (digest from the bytes) instead
 * of HEAD + GET.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact } from '../artifacts/build.js';
import { computeDigest } from '../artifacts/digest.js';
import { errorMessage } from '../util/errors.js';
import { buildRegistryClient, type OciAuth } from './auth.js';
import type { FetchedManifest, RegistryClient, RegistryClientOptions } from './client.js';
import { OciError, OciSpecError } from './errors.js';
import { pickPlatform, type Descriptor } from './manifest.js';
import { ANNOTATION_REVISION, ANNOTATION_SOURCE } from './media-types.js';
import { formatRepository, type OciReference, type RepositoryName } from './reference.js';
import { isHelmChartSelector, layerOperation, layerSelectorEqual, parseOciUrl, type OciLayerSelector, type OciRepositorySpec } from './spec.js';
import { untarLayer } from './untar.js';
import { GoRegexp } from '../util/go-regexp.js';
import { parseConstraint, pickSemverTag } from './version.js';

/** Options of one fetch. */
export interface FetchOciOptions {
  /** `status.artifact.revision` of the stored artifact. */
  lastRevision?: string;
  /** `status.observedIgnore` (undefined = not set, which differs from ''). */
  lastIgnore?: string;
  /** `status.observedLayerSelector`. */
  lastLayerSelector?: OciLayerSelector;
  signal?: AbortSignal;
  /** Reuse a client (its auth is then the caller's business); default: built from `auth`. */
  client?: RegistryClient;
  /** Extra options for the client built from `auth`. */
  clientOptions?: Omit<RegistryClientOptions, 'keychain' | 'tls' | 'insecure'>;
  /** Where the layer is extracted (a temp dir under it, removed afterwards); default os.tmpdir(). */
  workDir?: string;
  /** Cap on the extracted content (default 512 MiB). */
  maxExtractedBytes?: number;
  /** Signature verification (`spec.verify`), run before the pull. */
  verify?: OciVerifyHook;
}

/** How fetchOciRepository verifies a revision before pulling it. */
export interface OciVerifyHook {
  /** True when `revision` must be verified now (Flux: new revision, new generation, or a failed last check). */
  needed(revision: string): boolean;
  /** Verifies the manifest `digest`; throws OciError (VerificationError) when no signature is accepted. */
  run(client: RegistryClient, repo: RepositoryName, digest: string, signal: AbortSignal): Promise<void>;
}

/** The result: unchanged (nothing pulled), or the artifact to store. */
export type OciFetchResult = OciUnchanged | OciFetched;

/** Nothing was pulled: the stored artifact is current. */
export interface OciUnchanged {
  changed: false;
  revision: string;
  /** `sha256:<hex>` of the manifest. */
  manifestDigest: string;
  /** The revision whose signature was verified in this fetch (undefined: not checked now). */
  verified?: string;
  /** Requests made (registry and token servers). */
  requests: number;
}

/** A new artifact. */
export interface OciFetched {
  changed: true;
  /** `<tag>@sha256:<hex>` or `sha256:<hex>` (digest ref). */
  revision: string;
  manifestDigest: string;
  /** The tag followed (tag and semver refs). */
  tag?: string;
  /** The revision whose signature was verified in this fetch (undefined: not checked now). */
  verified?: string;
  /** `host/repo@sha256:<hex>`: what was pulled. */
  pulled: string;
  /** The artifact bytes to store: a Flux tarball (extract) or the layer as is (copy). */
  tarGz: Buffer;
  /** `sha256:<hex>` of tarGz (`status.artifact.digest`). */
  digest: string;
  size: number;
  /** The manifest's annotations (`status.artifact.metadata`). */
  metadata: Record<string, string>;
  /** The layer used. */
  layer: Descriptor;
  operation: 'extract' | 'copy';
  /** What to record as `status.observedIgnore` / `status.observedLayerSelector`. */
  observedIgnore?: string;
  observedLayerSelector?: OciLayerSelector;
  /** Flux's artifact file name: `<manifest digest hex>.tar.gz`. */
  fileName: string;
  /** Files and directories in the stored tarball (extract only). */
  fileCount?: number;
  requests: number;
}

/** Fetches an OCIRepository's artifact (see the module comment). Throws OciError with Flux's reason and message. */
export async function fetchOciRepository(spec: OciRepositorySpec, auth: OciAuth | undefined, opts: FetchOciOptions = {}): Promise<OciFetchResult> {
  let repo: RepositoryName;
  try {
    repo = parseOciUrl(spec.url);
  } catch (err) {
    if (err instanceof OciSpecError) throw new OciError('URLInvalid', err.message, { stalled: true, cause: err });
    throw err;
  }
  const signal = combineSignals(opts.signal, spec.timeoutMs);
  const client =
    opts.client ?? (await buildRegistryClient({ url: spec.url, repository: repo, provider: spec.provider, insecure: spec.insecure }, auth, { ...opts.clientOptions, signal }));
  const startCount = client.requestCount;
  const requests = () => client.requestCount - startCount;
  const mediaType = spec.layerSelector?.mediaType;

  // 1. The tag (or digest) to pull.
  let ref: OciReference;
  try {
    ref = await resolveRef(client, repo, spec, signal);
  } catch (err) {
    throw new OciError('ReadOperationFailed', `failed to determine the artifact tag for '${spec.url}': ${errorMessage(err)}`, { cause: err });
  }

  // 2. The revision.
  let revision: string;
  let manifestDigest: string;
  let prefetched: FetchedManifest | undefined;
  try {
    if (ref.digest) {
      manifestDigest = ref.digest;
      revision = ref.digest;
    } else if (opts.lastRevision === undefined) {
      prefetched = await client.getManifest(ref, { signal });
      manifestDigest = prefetched.descriptor.digest;
      revision = `${ref.tag}@${manifestDigest}`;
    } else {
      try {
        manifestDigest = (await client.headManifest(ref, { signal })).digest;
      } catch (headErr) {
        if (signal.aborted) throw headErr;
        prefetched = await client.getManifest(ref, { signal });
        manifestDigest = prefetched.descriptor.digest;
      }
      revision = `${ref.tag}@${manifestDigest}`;
    }
  } catch (err) {
    throw new OciError('OCIArtifactPullFailed', `failed to determine artifact digest: ${errorMessage(err)}`, { cause: err });
  }

  // 3. Verified (before anything is pulled)? Unchanged?
  let verified: string | undefined;
  if (opts.verify?.needed(revision)) {
    await opts.verify.run(client, repo, manifestDigest, signal);
    verified = revision;
  }
  const v = verified !== undefined ? { verified } : {};
  if (opts.lastRevision === revision && opts.lastIgnore === spec.ignore && layerSelectorEqual(spec.layerSelector, opts.lastLayerSelector)) {
    return { changed: false, revision, manifestDigest, ...v, requests: requests() };
  }

  // 4. Pull.
  const digestRef: OciReference = { registry: repo.registry, repository: repo.repository, digest: manifestDigest };
  let fetched: FetchedManifest;
  try {
    fetched = prefetched ?? (await client.getManifest(digestRef, { signal }));
    if (fetched.parsed.kind === 'index') {
      const child = pickPlatform(fetched.parsed.index);
      if (!child) throw new Error(`no child with platform linux/amd64 in index ${formatRepository(repo)}@${manifestDigest}`);
      fetched = await client.getManifest({ ...repo, digest: child.digest }, { signal });
      if (fetched.parsed.kind !== 'image') throw new Error(`child ${child.digest} of index ${manifestDigest} is not an image manifest`);
    }
  } catch (err) {
    throw new OciError('OCIArtifactPullFailed', `failed to pull artifact from '${spec.url}': ${errorMessage(err)}`, { cause: err });
  }
  if (fetched.parsed.kind !== 'image') throw new OciError('OCIArtifactLayerOperationFailed', 'failed to parse artifact manifest: not an image manifest');
  const manifest = fetched.parsed.manifest;
  const metadata = { ...(manifest.annotations ?? {}) };

  const layers = manifest.layers;
  if (layers.length < 1) throw new OciError('OCIArtifactLayerOperationFailed', 'no layers found in artifact');
  let layer: Descriptor | undefined;
  if (mediaType) {
    layer = layers.find((l) => l.mediaType === mediaType);
    if (!layer) throw new OciError('OCIArtifactLayerOperationFailed', `failed to find layer with media type '${mediaType}' in artifact`);
  } else {
    layer = layers[0];
  }

  const operation = layerOperation(spec.layerSelector);
  const fileName = `${manifestDigest.slice(manifestDigest.indexOf(':') + 1)}.tar.gz`;
  const base = {
    changed: true as const,
    revision,
    manifestDigest,
    ...(ref.tag !== undefined && !ref.digest ? { tag: ref.tag } : {}),
    pulled: `${formatRepository(repo)}@${manifestDigest}`,
    ...v,
    metadata,
    layer,
    operation,
    ...(spec.ignore !== undefined ? { observedIgnore: spec.ignore } : {}),
    ...(spec.layerSelector !== undefined ? { observedLayerSelector: { ...spec.layerSelector } } : {}),
    fileName,
  };

  if (operation === 'copy') {
    let tarGz: Buffer;
    try {
      tarGz = await client.readBlob(repo, layer, { signal });
    } catch (err) {
      throw new OciError('OCIArtifactLayerOperationFailed', `failed to copy layer from artifact: ${errorMessage(err)}`, { cause: err });
    }
    return { ...base, tarGz, digest: computeDigest(tarGz), size: tarGz.length, requests: requests() };
  }

  const work = await mkdtemp(path.join(opts.workDir ?? os.tmpdir(), 'fluxless-oci-'));
  try {
    const dir = path.join(work, 'content');
    try {
      const stream = await client.openBlob(repo, layer, { signal });
      await untarLayer(stream, dir, { maxBytes: opts.maxExtractedBytes });
    } catch (err) {
      throw new OciError('OCIArtifactLayerOperationFailed', `failed to extract layer contents from artifact: ${errorMessage(err)}`, { cause: err });
    }
    let built;
    try {
      built = await buildArtifact(dir, { ignore: spec.ignore });
    } catch (err) {
      throw new OciError('ArchiveOperationFailed', `unable to archive artifact to storage: ${errorMessage(err)}`, { cause: err });
    }
    return { ...base, tarGz: built.tarGz, digest: built.digest, size: built.size, fileCount: built.fileCount, requests: requests() };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function resolveRef(client: RegistryClient, repo: RepositoryName, spec: OciRepositorySpec, signal: AbortSignal): Promise<OciReference> {
  const r = spec.ref;
  if (r.kind === 'digest') return { ...repo, digest: r.digest };
  if (r.kind === 'tag') return { ...repo, tag: r.tag };
  const tags = await client.listTags(repo, { signal });
  let filter: GoRegexp | undefined;
  if (r.semverFilter) filter = GoRegexp.compile(r.semverFilter);
  let constraint;
  try {
    constraint = parseConstraint(r.semver);
  } catch (err) {
    throw new Error(`semver '${r.semver}' parse error: ${errorMessage(err)}`);
  }
  const tag = pickSemverTag(tags, constraint, { filter, layerMediaType: isHelmChartSelector(spec.layerSelector) ? spec.layerSelector!.mediaType : undefined });
  if (tag === undefined) throw new Error(`no match found for semver: ${r.semver}`);
  return { ...repo, tag };
}

/** The caller's signal plus the spec timeout. */
export function combineSignals(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, t]) : t;
}

/** Flux's `ArtifactInStorage` message: `stored artifact for digest '<revision>'`. */
export function artifactStoredMessage(revision: string): string {
  return `stored artifact for digest '${revision}'`;
}

/**
 * Flux's `NewArtifact` event message: `stored artifact with revision '<rev>' from '<url>'`,
 * plus `, origin source '<s>', origin revision '<r>'` when the annotations carry both.
 */
export function newArtifactMessage(revision: string, url: string, metadata: Record<string, string> | undefined): string {
  let msg = `stored artifact with revision '${revision}' from '${url}'`;
  const source = metadata?.[ANNOTATION_SOURCE];
  const rev = metadata?.[ANNOTATION_REVISION];
  if (source && rev) msg += `, origin source '${source}', origin revision '${rev}'`;
  return msg;
}

/** Flux's progress message for a new revision: `new revision '<rev>' for '<ref>'`. */
export function newRevisionMessage(revision: string, repo: RepositoryName, tagOrDigest: string): string {
  const sep = tagOrDigest.startsWith('sha256:') ? '@' : ':';
  return `new revision '${revision}' for '${formatRepository(repo)}${sep}${tagOrDigest}'`;
}
