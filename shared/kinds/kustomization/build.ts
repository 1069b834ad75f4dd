/**
 * Phase "build": the files the build reads, out of the cached artifact into a private work
 * directory, then Flux's build: generate + kustomize, SOPS decryption (`spec.decryption`),
 * postBuild substitution, owner labels, commonMetadata (never substituted), in
 * kustomize-controller's order.
 *
 * With `spec.decryption`, the keys come from the Secret named by `secretRef` (read from the
 * management cluster, never impersonated, as Flux); generator inputs and patches are
 * decrypted in the private work tree before kustomize (the decrypted file replaces the work
 * tree's copy, a hard link when the cache extracted the artifact; the cache keeps the
 * encrypted bytes), such a build never shares a kustomize run with others, and every
 * rendered object is decrypted before substitution. Without it, encrypted Secrets are kept
 * as rendered: the apply phase refuses them with Flux's message.
 */
import { createHash } from 'node:crypto';
import { rm } from '../../util/fs-inline.js';
import path from 'node:path';
import type { OpenedTree } from '../../artifacts/cache.js';
import { isNotFound, type KubeClient } from '../../kube/client.js';
import type { KubeObject } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { addOwnerLabels, applyCommonMetadata, renderKustomization, resolveBuildPath } from '../../render/build.js';
import { findKustomizationFile, isLocalRelativePath, prepareKustomization } from '../../render/generator.js';
import { createDecryptor, type Decryptor, type KmsOptions } from '../../sops/index.js';
import { tenancyOf } from '../../kube/tenancy.js';
import { materializeBuildTree } from '../../render/materialize.js';
import { directBuildTree } from '../../render/direct-tree.js';
import { mergeVariables, substituteVariables, type KubeObjectLike } from '../../render/substitute.js';
import type { ArtifactInfo } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { gatesOf } from './gates.js';
import type { KustomizationSpec } from './spec.js';
import { WATCH_ENABLED, WATCH_LABEL, type ConfigVersion } from './watch.js';

/** A built Kustomization and the work directory to release when done. */
export interface Built {
  objects: KubeObject[];
  /** The `postBuild.substituteFrom` objects as read for this build (for the config watch). */
  configs: ConfigVersion[];
  /** `sha256:` checksum of the built objects (Flux's `status.history[].digest`). */
  digest: string;
  release(): Promise<void>;
}

/** Build options beyond the spec. */
export interface BuildOptions {
  /** Strict postBuild substitution (an unset `${var}` fails); Flux 2.9's default is on. */
  strict?: boolean;
  /** Receives the substituteFrom objects as read. */
  configs?: ConfigVersion[];
  signal?: AbortSignal;
  /** Let kustomize fetch remote bases (settings.allowRemoteBases, off under noRemoteBases). */
  allowRemoteBases?: boolean;
  /** Memory limit of the kustomize process, MiB (settings.toolMemoryMiB; default: the sandbox's). */
  memoryLimitMiB?: number;
  /** AWS KMS endpoint and credentials for SOPS files with KMS keys (default: the function's own). */
  kms?: KmsOptions;
  /** Build without `spec.decryption` even when it is set (the CLI when the key Secret cannot be read). */
  skipDecryption?: boolean;
}

/**
 * Fetches and verifies the artifact (once per process) and builds: a plain directory of YAML
 * straight from the artifact in memory (direct-tree.ts), anything else in a work directory
 * holding what the build reads.
 */
export async function buildFromArtifact(svc: ReconcileServices, spec: KustomizationSpec, artifact: ArtifactInfo, signal?: AbortSignal): Promise<Built> {
  let opened: OpenedTree | undefined;
  let work: string | undefined;
  const release = async () => {
    opened?.release();
    if (work) await rm(work, { recursive: true, force: true });
  };
  try {
    try {
      opened = await svc.artifactCache.openTree(artifact);
    } catch (err) {
      throw new ReconcileFailure('ArtifactFailed', `failed to fetch artifact ${artifact.revision}: ${errorMessage(err)}`, { retryMs: spec.retryIntervalMs, cause: err });
    }
    const buildFailed = (err: unknown) => new ReconcileFailure('BuildFailed', errorMessage(err), { retryMs: spec.retryIntervalMs, cause: err });
    // A plain directory of YAML builds from the artifact in memory, with no work directory.
    let direct: KubeObject[] | undefined;
    if (!spec.decryption) {
      direct = await directBuildTree(opened.tree, spec.path, spec.render).catch((err: unknown) => {
        throw buildFailed(err);
      });
    }
    let root: string | undefined;
    if (!direct) {
      work = await svc.artifactCache.workDir('ks-');
      root = path.join(work, 'src');
      await materializeBuildTree(opened.tree, spec.path ?? '', spec.render.components ?? [], root);
    }
    let objects: KubeObject[];
    const configs: ConfigVersion[] = [];
    const opts: BuildOptions = { ...buildSettings(svc.settings), strict: gatesOf(svc.settings).strictPostBuildSubstitutions, configs, signal };
    try {
      objects = direct ? await afterRender(svc.client, spec, direct, opts) : await buildKustomization(svc.client, spec, root!, opts);
    } catch (err) {
      throw buildFailed(err);
    }
    return { objects, configs, digest: buildDigest(objects), release };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * The checksum of a build, as Flux's history keys it (kustomize-controller: sha256 of the
 * built multi-document YAML): here of the objects' JSON in build order, so the same build
 * gives the same digest.
 */
export function buildDigest(objects: readonly KubeObject[]): string {
  const h = createHash('sha256');
  for (const o of objects) h.update(JSON.stringify(o)).update('\n');
  return `sha256:${h.digest('hex')}`;
}

/**
 * The build options the runtime's settings give (remote bases and the lockdown, the tool's
 * memory limit, SOPS KMS): every build of a Kustomization uses them, the reconcile's, a pull
 * request preview's and the CLI's alike. Strict substitution is the reconcile's (the feature
 * gate); `fluxless build` and `diff` keep `flux build`'s default (not strict).
 */
export function buildSettings(settings: ReconcileServices['settings']): Pick<BuildOptions, 'allowRemoteBases' | 'memoryLimitMiB' | 'kms'> {
  const t = tenancyOf(settings);
  return {
    allowRemoteBases: settings.allowRemoteBases && !t.noRemoteBases,
    ...(settings.toolMemoryMiB ? { memoryLimitMiB: settings.toolMemoryMiB } : {}),
    ...(t.sopsKms ? { kms: t.sopsKms } : {}),
  };
}

/**
 * Renders a Kustomization from an extracted artifact (or any local directory): build,
 * substitute, owner labels, then commonMetadata, in Flux's order.
 */
export async function buildKustomization(client: KubeClient, spec: KustomizationSpec, root: string, opts: BuildOptions | AbortSignal = {}): Promise<KubeObject[]> {
  const o: BuildOptions = opts instanceof AbortSignal ? { signal: opts } : opts;
  const dec = spec.decryption && !o.skipDecryption ? await decryptorFor(client, spec, o.kms) : undefined;
  let objects: KubeObject[];
  try {
    if (dec) await decryptWorkTree(dec, root, spec);
    objects = await renderKustomization({
      root,
      path: spec.path,
      spec: { ...spec.render, commonMetadata: undefined },
      signal: o.signal,
      allowRemoteBases: o.allowRemoteBases,
      ...(o.memoryLimitMiB ? { memoryLimitMiB: o.memoryLimitMiB } : {}),
      // Encrypted Secrets are decrypted below, or refused before apply with Flux's message.
      keepSopsSecrets: true,
      // A build that saw plaintext never shares a kustomize run with other builds.
      ...(dec ? { batch: false } : {}),
    });
    if (dec) {
      for (let i = 0; i < objects.length; i++) {
        const out = await dec.decryptResource(objects[i] as unknown as Record<string, unknown>);
        if (out) objects[i] = out as unknown as KubeObject;
      }
    }
  } finally {
    dec?.close();
  }
  return afterRender(client, spec, objects, o);
}

/** What follows the render, in Flux's order: postBuild substitution, owner labels, then commonMetadata. */
async function afterRender(client: KubeClient, spec: KustomizationSpec, rendered: KubeObject[], o: BuildOptions): Promise<KubeObject[]> {
  let objects = rendered;
  if (spec.postBuild) {
    const vars = await substitutionVars(client, spec, o.configs);
    objects = substituteVariables(objects as KubeObjectLike[], vars, {
      strict: o.strict ?? true,
      always: spec.postBuild.substituteStrategy === 'Always',
    }) as KubeObject[];
  }
  objects = addOwnerLabels(objects, { name: spec.name, namespace: spec.namespace });
  return applyCommonMetadata(objects, spec.render.commonMetadata);
}

/**
 * The decryptor of `spec.decryption`: the keys of its Secret (read from the management
 * cluster), or none (KMS with the function's own credentials only).
 */
async function decryptorFor(client: KubeClient, spec: KustomizationSpec, kms: KmsOptions | undefined): Promise<Decryptor> {
  const ref = spec.decryption?.secretRef;
  let secretData: Record<string, string> | undefined;
  const secretName = ref ? `${spec.namespace}/${ref.name}` : undefined;
  if (ref) {
    try {
      const s = await client.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${encodeURIComponent(spec.namespace)}/secrets/${encodeURIComponent(ref.name)}`);
      secretData = s.data ?? {};
    } catch (err) {
      throw new FluxlessError('DecryptionSecretUnavailable', `cannot get sops decryption Secret '${secretName}': ${errorMessage(err)}`, {
        cause: err,
        hint: `create the Secret ${ref.name} in namespace ${spec.namespace} with the private keys (*.agekey, *.asc) or sops.aws-kms credentials`,
      });
    }
  }
  return createDecryptor({ secretData, secretName, kms });
}

/**
 * Decrypts the generator inputs and patches kustomize will read (Flux's DecryptSources, run
 * after the kustomization file is generated): a build path without a kustomization file gets
 * the generated one first (the render then merges the spec into it, as into any existing
 * file), and local `spec.components` are walked too, since Flux's walk sees them in the
 * generated file.
 */
async function decryptWorkTree(dec: Decryptor, workRoot: string, spec: KustomizationSpec): Promise<void> {
  const { root, dir } = await resolveBuildPath(workRoot, spec.path);
  if (!(await findKustomizationFile(dir))) await prepareKustomization(root, dir, {});
  await dec.decryptSources(root, dir);
  for (const c of spec.render.components ?? []) {
    if (!isLocalRelativePath(c)) continue;
    const p = path.join(dir, c.replace(/^file:\/\//, ''));
    if (!(await findKustomizationFile(p))) continue;
    await dec.decryptSources(root, p);
  }
}

/** postBuild variables: `substituteFrom` ConfigMaps/Secrets in order, then `substitute` on top. */
async function substitutionVars(client: KubeClient, spec: KustomizationSpec, seen?: ConfigVersion[]): Promise<Record<string, string>> {
  const sources: Array<{ data: Record<string, string> }> = [];
  for (const s of spec.postBuild?.substituteFrom ?? []) {
    const p = `/api/v1/namespaces/${encodeURIComponent(spec.namespace)}/${s.kind === 'Secret' ? 'secrets' : 'configmaps'}/${encodeURIComponent(s.name)}`;
    try {
      const obj = await client.request<{ data?: Record<string, string>; metadata?: { resourceVersion?: string; labels?: Record<string, string> } }>('GET', p);
      seen?.push({ kind: s.kind, name: s.name, resourceVersion: obj.metadata?.resourceVersion ?? '', watched: obj.metadata?.labels?.[WATCH_LABEL] === WATCH_ENABLED });
      const data = obj.data ?? {};
      sources.push({
        data: s.kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) : data,
      });
    } catch (err) {
      if (isNotFound(err) && s.optional) {
        // A missing optional object may appear later; Flux's watch fires on its creation too.
        seen?.push({ kind: s.kind, name: s.name, resourceVersion: '', watched: true });
        continue;
      }
      if (isNotFound(err)) {
        throw new FluxlessError('SubstituteFromNotFound', `substitute from '${s.kind}/${s.name}' error: ${s.kind} '${spec.namespace}/${s.name}' not found`, {
          hint: 'create it, or mark the reference optional: true',
        });
      }
      throw err;
    }
  }
  return mergeVariables(sources, spec.postBuild?.substitute);
}
