/**
 * Phase "build": the artifact's tree linked into a private work directory, then Flux's
 * build: generate + kustomize, postBuild substitution, owner labels, commonMetadata (never
 * substituted), in kustomize-controller's order.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { OpenedArtifact } from '../../artifacts/cache.js';
import { isNotFound, type KubeClient } from '../../kube/client.js';
import type { KubeObject } from '../../kube/object.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { addOwnerLabels, applyCommonMetadata, renderKustomization } from '../../render/build.js';
import { materializeBuildTree } from '../../render/materialize.js';
import { mergeVariables, substituteVariables, type KubeObjectLike } from '../../render/substitute.js';
import type { ArtifactInfo } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import type { KustomizationSpec } from './spec.js';

/** A built Kustomization and the work directory to release when done. */
export interface Built {
  objects: KubeObject[];
  release(): Promise<void>;
}

/** Fetches (once per process), verifies and extracts the artifact, links what the build reads, and builds. */
export async function buildFromArtifact(svc: ReconcileServices, spec: KustomizationSpec, artifact: ArtifactInfo, signal?: AbortSignal): Promise<Built> {
  let opened: OpenedArtifact | undefined;
  let work: string | undefined;
  const release = async () => {
    opened?.release();
    if (work) await rm(work, { recursive: true, force: true });
  };
  try {
    try {
      opened = await svc.artifactCache.open(artifact);
    } catch (err) {
      throw new ReconcileFailure('ArtifactFailed', `failed to fetch artifact ${artifact.revision}: ${errorMessage(err)}`, { retryMs: spec.retryIntervalMs, cause: err });
    }
    work = await svc.artifactCache.workDir('ks-');
    const root = path.join(work, 'src');
    await materializeBuildTree(opened.root, spec.path ?? '', spec.render.components ?? [], root);
    let objects: KubeObject[];
    try {
      objects = await buildKustomization(svc.client, spec, root, signal);
    } catch (err) {
      throw new ReconcileFailure('BuildFailed', errorMessage(err), { retryMs: spec.retryIntervalMs, cause: err });
    }
    return { objects, release };
  } catch (err) {
    await release();
    throw err;
  }
}

/**
 * Renders a Kustomization from an extracted artifact (or any local directory): build,
 * substitute, owner labels, then commonMetadata, in Flux's order.
 */
export async function buildKustomization(client: KubeClient, spec: KustomizationSpec, root: string, signal?: AbortSignal): Promise<KubeObject[]> {
  let objects = await renderKustomization({ root, path: spec.path, spec: { ...spec.render, commonMetadata: undefined }, signal });
  if (spec.postBuild) {
    const vars = await substitutionVars(client, spec);
    objects = substituteVariables(objects as KubeObjectLike[], vars, { strict: true }) as KubeObject[];
  }
  objects = addOwnerLabels(objects, { name: spec.name, namespace: spec.namespace });
  return applyCommonMetadata(objects, spec.render.commonMetadata);
}

/** postBuild variables: `substituteFrom` ConfigMaps/Secrets in order, then `substitute` on top. */
async function substitutionVars(client: KubeClient, spec: KustomizationSpec): Promise<Record<string, string>> {
  const sources: Array<{ data: Record<string, string> }> = [];
  for (const s of spec.postBuild?.substituteFrom ?? []) {
    const p = `/api/v1/namespaces/${encodeURIComponent(spec.namespace)}/${s.kind === 'Secret' ? 'secrets' : 'configmaps'}/${encodeURIComponent(s.name)}`;
    try {
      const obj = await client.request<{ data?: Record<string, string> }>('GET', p);
      const data = obj.data ?? {};
      sources.push({
        data: s.kind === 'Secret' ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])) : data,
      });
    } catch (err) {
      if (isNotFound(err) && s.optional) continue;
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
