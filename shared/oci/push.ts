/**
 * pushArtifact: `flux push artifact oci://<host>/<repo>:<tag> --path --source --revision`.
 * The same artifact as Flux's: an OCI image manifest with config media type
 * `application/vnd.cncf.flux.config.v1+json` (an empty image config with `created`), one
 * layer `application/vnd.cncf.flux.content.v1.tar+gzip` holding the directory (or the one
 * file) as a Flux tarball, and the annotations `org.opencontainers.image.created` (now in
 * UTC, or the epoch with `reproducible`), `.source`, `.revision` plus any extra ones.
 * Default ignore list: VCS files and `*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip`.
 *
 * Differences from Flux: `.sourceignore` files in the directory also apply and VCS files are
 * always left out (the archive is built by artifacts/build.ts); the gzip bytes differ from
 * Go's, so digests are not comparable with Flux's, but equal content gives equal digests.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { buildArtifact } from '../artifacts/build.js';
import { EXCLUDE_VCS } from '../artifacts/ignore.js';
import { errorMessage, ValidationError } from '../util/errors.js';
import type { OciAuth } from './auth.js';
import { buildRegistryClient } from './auth.js';
import type { RegistryClient, RegistryClientOptions } from './client.js';
import { OciError } from './errors.js';
import { encodeFluxConfig, encodeImageManifest, type Descriptor } from './manifest.js';
import { ANNOTATION_CREATED, ANNOTATION_REVISION, ANNOTATION_SOURCE, FLUX_CONFIG, FLUX_CONTENT_TARGZ, OCI_MANIFEST } from './media-types.js';
import { DEFAULT_TAG, formatRepository, InvalidReferenceError, OCI_SCHEME, parseReference, type OciReference } from './reference.js';

/** `flux push artifact`'s default `--ignore-paths`: sourceignore.ExcludeVCS + ExcludeExt. */
export const DEFAULT_PUSH_IGNORE: readonly string[] = [...EXCLUDE_VCS, '*.jpg', '*.jpeg', '*.gif', '*.png', '*.wmv', '*.flv', '*.tar.gz', '*.zip'];
/** The `created` of `--reproducible`. */
export const REPRODUCIBLE_CREATED = '1970-01-01T00:00:00Z';

/** Inputs of a push (the `flux push artifact` flags). */
export interface PushArtifactOptions {
  /** `oci://host/repo[:tag]` (default tag `latest`). */
  url: string;
  /** A directory, or one file. */
  path: string;
  /** `--source`: where the content comes from (the Git URL). Required. */
  source: string;
  /** `--revision`: `<branch|tag>@sha1:<commit>` by convention. Required. */
  revision: string;
  /** `--annotations k=v`. */
  annotations?: Record<string, string>;
  /** `--ignore-paths` (default DEFAULT_PUSH_IGNORE); `--add-ignore-paths` is just more entries. */
  ignorePaths?: readonly string[];
  /** `--reproducible`: created = 1970-01-01T00:00:00Z. */
  reproducible?: boolean;
  /** An explicit created timestamp (RFC 3339). */
  created?: string;
  /** `--insecure-registry`. */
  insecure?: boolean;
  /** `--provider aws` (ECR with the caller's AWS credentials). */
  provider?: 'generic' | 'aws';
  /** Credentials (a docker config Secret's data, TLS). */
  auth?: OciAuth;
  /** Reuse a client instead (its keychain then decides the credentials). */
  client?: RegistryClient;
  clientOptions?: Omit<RegistryClientOptions, 'keychain' | 'tls' | 'insecure'>;
  signal?: AbortSignal;
  /** Clock for `created` (tests). */
  now?: () => Date;
}

/** What `flux push artifact -o json` prints, plus the descriptors. */
export interface PushArtifactResult {
  /** `oci://host/repo@sha256:<hex>`. */
  url: string;
  /** `host/repo`. */
  repository: string;
  tag: string;
  /** `sha256:<hex>` of the manifest. */
  digest: string;
  config: Descriptor;
  layer: Descriptor;
  /** The manifest bytes pushed. */
  manifest: Buffer;
  /** Files in the layer. */
  fileCount: number;
  requests: number;
}

/** Builds and pushes a Flux artifact (see the module comment). Throws ValidationError for bad input, OciError for registry failures. */
export async function pushArtifact(opts: PushArtifactOptions): Promise<PushArtifactResult> {
  if (!opts.source) throw new ValidationError('--source is required: the source address, e.g. the Git URL');
  if (!opts.revision) throw new ValidationError("--revision is required: the source revision in the format '<branch|tag>@sha1:<commit-sha>'");
  if (!opts.path) throw new ValidationError(`invalid path ${JSON.stringify(opts.path)}`);
  if (!opts.url.startsWith(OCI_SCHEME)) throw new ValidationError(`URL must be in format 'oci://<domain>/<org>/<repo>' (got '${opts.url}')`);
  let ref: OciReference;
  try {
    ref = parseReference(opts.url);
  } catch (err) {
    if (err instanceof InvalidReferenceError) throw new ValidationError(`invalid artifact URL '${opts.url}': ${err.message}`);
    throw err;
  }
  if (ref.digest) throw new ValidationError(`invalid artifact URL '${opts.url}': push to a tag, not a digest`);
  const tag = ref.tag ?? DEFAULT_TAG;
  for (const k of Object.keys(opts.annotations ?? {})) {
    if (!k || k.includes('=')) throw new ValidationError(`invalid annotation ${k}, must be in the format key=value`);
  }
  const created = opts.created ?? (opts.reproducible ? REPRODUCIBLE_CREATED : formatCreated(opts.now ? opts.now() : new Date()));
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(created)) {
    throw new ValidationError(`invalid created timestamp "${created}": use RFC 3339, e.g. 2024-01-02T15:04:05Z`);
  }

  let st;
  try {
    st = await stat(opts.path);
  } catch (err) {
    throw new ValidationError(`invalid path '${opts.path}', must point to an existing directory or file: ${errorMessage(err)}`);
  }
  const ignoreList = opts.ignorePaths ?? DEFAULT_PUSH_IGNORE;
  // An empty list must not bring back the defaults of artifacts/build.ts: a pattern no name can match.
  const ignore = ignoreList.length > 0 ? ignoreList.join('\n') : '\u0000';
  let built;
  let staging: string | undefined;
  try {
    let dir = opts.path;
    if (!st.isDirectory()) {
      staging = await mkdtemp(path.join(os.tmpdir(), 'fluxless-push-'));
      await copyFile(opts.path, path.join(staging, path.basename(opts.path)));
      dir = staging;
    }
    built = await buildArtifact(dir, { ignore });
  } finally {
    if (staging) await rm(staging, { recursive: true, force: true });
  }

  const diffId = await uncompressedDigest(built.tarGz);
  const configBytes = encodeFluxConfig(created, diffId);
  const annotations: Record<string, string> = {
    [ANNOTATION_CREATED]: created,
    [ANNOTATION_SOURCE]: opts.source,
    [ANNOTATION_REVISION]: opts.revision,
    ...(opts.annotations ?? {}),
  };
  if (!annotations[ANNOTATION_CREATED]) annotations[ANNOTATION_CREATED] = created;
  const config: Descriptor = { mediaType: FLUX_CONFIG, size: configBytes.length, digest: sha256(configBytes) };
  const layer: Descriptor = { mediaType: FLUX_CONTENT_TARGZ, size: built.size, digest: built.digest };
  const manifest = encodeImageManifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer], annotations });

  const client =
    opts.client ??
    (await buildRegistryClient({ url: opts.url, repository: ref, provider: opts.provider, insecure: opts.insecure }, opts.auth, { ...opts.clientOptions, signal: opts.signal }));
  const start = client.requestCount;
  let digest: string;
  try {
    await Promise.all([client.pushBlob(ref, built.tarGz, { signal: opts.signal }), client.pushBlob(ref, configBytes, { signal: opts.signal })]);
    digest = await client.putManifest({ ...ref, tag }, manifest, OCI_MANIFEST, { signal: opts.signal });
  } catch (err) {
    throw new OciError('PushFailed', `pushing artifact failed: ${errorMessage(err)}`, { cause: err });
  }
  const repository = formatRepository(ref);
  return {
    url: `${OCI_SCHEME}${repository}@${digest}`,
    repository,
    tag,
    digest,
    config,
    layer,
    manifest,
    fileCount: built.fileCount,
    requests: client.requestCount - start,
  };
}

function formatCreated(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function sha256(b: Buffer): string {
  return `sha256:${createHash('sha256').update(b).digest('hex')}`;
}

/** `sha256:` of the uncompressed tar (the layer's diff id). */
async function uncompressedDigest(tarGz: Buffer): Promise<string> {
  const h = createHash('sha256');
  await pipeline(Readable.from([tarGz]), zlib.createGunzip(), async (src: AsyncIterable<Buffer>) => {
    for await (const c of src) h.update(c);
  });
  return `sha256:${h.digest('hex')}`;
}
