/**
 * Renders a Flux Kustomization's path into Kubernetes objects, as kustomize-controller does:
 * secure-join spec.path (build-path.ts), generate/merge the kustomization file
 * (generator.ts), check what the build would read (references.ts), build with kustomize
 * (`kubectl kustomize`, kustomize-run.ts, shared with concurrent builds by
 * kustomize-batch.ts; a plain directory of YAML is built in-process, direct.ts), parse and check the objects (manifests.ts: SOPS-encrypted Secrets
 * are refused, as Fluxless cannot decrypt them yet), then apply spec.commonMetadata
 * (metadata.ts).
 *
 * Containment. Flux builds on a filesystem rooted at the artifact root with
 * LoadRestrictionsNone: any file inside the artifact may be read, nothing outside it.
 * kubectl has no such filesystem, so Fluxless combines:
 *  - the pre-build walk of the kustomization graph (references.ts), which refuses every
 *    reference, in every field kustomize takes a path or URL from, that leaves the artifact
 *    or reaches the network, and every YAML input with excessive aliasing. It fails closed:
 *    a kustomization file it cannot parse is refused;
 *  - the load restrictor that walk allows: `LoadRestrictionsNone`, as in Flux (a file
 *    reference such as `replacements: [{path: ../../components/ks.yaml}]` works), when every
 *    file the build reads is a path the walk resolved inside the artifact; kustomize's own
 *    `LoadRestrictionsRootOnly` (every file in or below the reading kustomization's
 *    directory, symlinks resolved; directory references such as `../base` still work) when
 *    the graph has generators, transformers or validators (plugin configurations name paths
 *    through transformations the walk cannot follow) or remote references (remote content is
 *    never checked);
 *  - remote references are refused unless `allowRemoteBases` is set, which is the
 *    behaviour of kustomize-controller with `--no-remote-bases=true`. Flux's default allows
 *    them; Fluxless defaults to off: remote content is not checked before kustomize runs, a
 *    function has no git binary, and remote fetches make a build depend on another server;
 *  - kustomize runs confined (sandbox.ts): without allowRemoteBases, no git on PATH,
 *    proxies at a closed port, and its own empty network namespace where the kernel allows
 *    one; always under memory, CPU, time and output limits (kustomize-run.ts).
 * Plugins stay disabled (kubectl's defaults: builtin transformers only, no exec/container
 * functions, no helm inflation), matching Flux's DisabledPluginConfig.
 */
import { directBuild, directBuildEnabled, directBuildSpec } from './direct.js';
import { prepareKustomization } from './generator.js';
import { kustomizeBatcher, type KustomizeBatcher } from './kustomize-batch.js';
import { kustomizeBuild, type KustomizeLimits, type KustomizeOptions } from './kustomize-run.js';
import { assertNoSopsSecrets, parseManifests } from './manifests.js';
import { applyCommonMetadata } from './metadata.js';
import { checkReferences } from './references.js';
import { resolveBuildPath } from './build-path.js';
import { ensureTools } from './tools.js';
import type { KubeObject, RenderSpec } from './types.js';

export { OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL, addOwnerLabels, applyCommonMetadata } from './metadata.js';
export { assertNoSopsSecrets, isSopsEncryptedSecret, parseManifests } from './manifests.js';
export { resolveBuildPath } from './build-path.js';
export { checkReferences } from './references.js';
export {
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_CPU_LIMIT_SECONDS,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MEMORY_LIMIT_MIB,
  kustomizeBuild,
} from './kustomize-run.js';
/** Limits and options of one kustomize run (kustomize-run.ts). */
export type { KustomizeLimits, KustomizeOptions } from './kustomize-run.js';

/** One render: where, what, and within which limits. */
export interface RenderInput extends KustomizeLimits {
  /** The extracted artifact root. Fluxless writes the kustomization file inside it. */
  root: string;
  /** spec.path, relative to the artifact root ('' or './' for the root). */
  path: string;
  spec: RenderSpec;
  /**
   * Allow remote bases and resources (git repositories, http(s) files), kustomize-controller's
   * default. Default false in Fluxless: remote references are refused before kustomize runs,
   * and kustomize runs without network. Even when allowed, references to loopback,
   * link-local and unspecified addresses and `file:` URLs are refused, but the content of
   * remote bases is not checked.
   */
  allowRemoteBases?: boolean;
  signal?: AbortSignal;
  /**
   * Let this build share a kustomize run with concurrent builds when that cannot change its
   * output (default true; see kustomize-batch.ts).
   */
  batch?: boolean;
  /** The batcher to share runs through (default: the process-wide one for the kubectl binary). */
  batcher?: KustomizeBatcher;
  /**
   * Build a plain directory of YAML without kustomize when that gives kustomize's output
   * (default true; see direct.ts). False always runs `kubectl kustomize`.
   */
  direct?: boolean;
  /**
   * Return Secrets that are still SOPS-encrypted instead of failing with
   * SopsNotSupportedError (default false): for a caller that decrypts them itself.
   */
  keepSopsSecrets?: boolean;
}

/**
 * Renders spec.path of an extracted artifact into objects (generate, merge, check, build,
 * parse, commonMetadata). Writes the kustomization file into the artifact directory.
 */
export async function renderKustomization(input: RenderInput): Promise<KubeObject[]> {
  const { root, dir } = await resolveBuildPath(input.root, input.path);
  const prepared = await prepareKustomization(root, dir, input.spec);
  const { batchable, anyArtifactFile, rootOnlyBecause } = await checkReferences(root, dir, { allowRemoteBases: input.allowRemoteBases });
  // Flux's generated resources-only kustomization: parse, namespace and sort in-process.
  if (prepared.action === 'created' && input.direct !== false && directBuildSpec(input.spec) && directBuildEnabled()) {
    const objects = await directBuild(dir, prepared.file, input.spec.targetNamespace, input.maxOutputBytes);
    if (objects) return finish(objects, input);
  }
  const { kubectl } = await ensureTools();
  const opts: KustomizeOptions = {
    root,
    allowRemoteBases: input.allowRemoteBases,
    anyArtifactFile,
    rootOnlyBecause,
    timeoutMs: input.timeoutMs,
    maxOutputBytes: input.maxOutputBytes,
    memoryLimitMiB: input.memoryLimitMiB,
    cpuLimitSeconds: input.cpuLimitSeconds,
    signal: input.signal,
  };
  const text =
    batchable && !input.allowRemoteBases && input.batch !== false
      ? await (input.batcher ?? kustomizeBatcher(kubectl)).build(dir, opts)
      : await kustomizeBuild(kubectl, dir, opts);
  return finish(parseManifests(text), input);
}

/** The SOPS check and commonMetadata, after either build. */
function finish(objects: KubeObject[], input: RenderInput): KubeObject[] {
  if (!input.keepSopsSecrets) assertNoSopsSecrets(objects);
  return applyCommonMetadata(objects, input.spec.commonMetadata);
}
