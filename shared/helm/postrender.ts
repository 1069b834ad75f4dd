/**
 * Flux's post-render chain for a HelmRelease (helm-controller internal/postrender): each
 * `postRenderers[].kustomize` (patches, then images, in a kustomization whose only resource
 * is `helm-output.yaml`, plugins off), then `commonMetadata` (labels and annotations on
 * `metadata` only), then the origin labels `helm.toolkit.fluxcd.io/name|namespace`, which
 * win over commonMetadata. `postRenderStrategy` decides which documents go through it:
 * `combined` (all), `nohooks` (hooks untouched) or `separate` (hooks and templates in two
 * runs). Kustomize is the real one (`kubectl kustomize`); the metadata steps edit the YAML
 * in place so every other byte of a document is kept.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments, isMap, stringify, type Document } from 'yaml';
import { HELM_TOOLKIT_GROUP, type CommonMetadata, type PostRenderer, type PostRenderStrategy } from './release-spec.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** What one HelmRelease's post-rendering does. */
export interface PostRenderConfig {
  postRenderers: readonly PostRenderer[];
  commonMetadata?: CommonMetadata;
  /** The HelmRelease; its origin labels are always added (Flux's OriginLabels renderer). */
  origin?: { name: string; namespace: string };
  /** Default `combined`. */
  strategy?: PostRenderStrategy;
}

/** A post-render step failed; the message says which and why. */
export class PostRenderError extends Error {}

/** How to run kustomize. */
export interface KustomizeRunner {
  /** Path of kubectl (its `kustomize` subcommand). */
  kubectl: string;
  /** Parent of the temporary kustomization directories (default os.tmpdir()). */
  tmpDir?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
}

const HOOK_ANNOTATION = 'helm.sh/hook';

/** Splits a YAML stream into documents (empty ones dropped). */
function documents(stream: string): Document[] {
  const deep = yamlNestingProblem(stream);
  if (deep) throw new PostRenderError(`post-render input is not valid YAML: ${deep}`);
  const docs = parseAllDocuments(stream, { uniqueKeys: false, keepSourceTokens: false });
  const list = Array.isArray(docs) ? docs : [docs];
  for (const d of list) {
    if (d.errors.length) throw new PostRenderError(`post-render input is not valid YAML: ${d.errors[0].message.split('\n')[0]}`);
  }
  return (list as Document[]).filter((d) => d.contents !== null && d.contents !== undefined);
}

function isHook(doc: Document): boolean {
  const ann = doc.getIn(['metadata', 'annotations']);
  if (!isMap(ann)) return false;
  const v = ann.get(HOOK_ANNOTATION);
  return typeof v === 'string' ? v !== '' : v !== undefined && v !== null;
}

function joinDocs(docs: Document[]): string {
  return docs.map((d) => d.toString({ lineWidth: 0 })).map((s) => (s.startsWith('---') ? s : `---\n${s}`)).join('');
}

/** Sets string entries at metadata.<field> of each mapping document, creating the map (kustomize FieldSpec create: true). */
function setMetadataEntries(docs: Document[], field: 'labels' | 'annotations', entries: Record<string, string>): void {
  const keys = Object.keys(entries);
  if (keys.length === 0) return;
  for (const doc of docs) {
    if (!isMap(doc.contents)) continue;
    if (!isMap(doc.getIn(['metadata']))) doc.setIn(['metadata'], doc.createNode({}));
    if (!isMap(doc.getIn(['metadata', field]))) doc.setIn(['metadata', field], doc.createNode({}));
    for (const k of keys) doc.setIn(['metadata', field, k], doc.createNode(entries[k]));
  }
}

function runKubectlKustomize(dir: string, k: KustomizeRunner): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(k.kubectl, ['kustomize', dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: '/dev/null' },
      signal: k.signal,
      timeout: k.timeoutMs ?? 60_000,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', (e) => reject(new PostRenderError(`kustomize post-renderer could not run: ${e.message}`)));
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
      else {
        const msg = Buffer.concat(err).toString('utf8').replaceAll(dir, '.').trim().replace(/^Error: /, '');
        reject(new PostRenderError(`kustomize post-renderer failed: ${msg || `exit code ${code}`}`));
      }
    });
  });
}

function selectorJson(t: NonNullable<PostRenderer['kustomize']>['patches'][number]['target']) {
  if (!t) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(t)) if (v) out[k] = v;
  return out;
}

/** Runs one `postRenderers[].kustomize` over `stream` with the real kustomize. */
export async function kustomizeStream(stream: string, pr: NonNullable<PostRenderer['kustomize']>, k: KustomizeRunner): Promise<string> {
  const dir = await mkdtemp(path.join(k.tmpDir ?? os.tmpdir(), 'fluxless-postrender-'));
  try {
    const kustomization: Record<string, unknown> = {
      apiVersion: 'kustomize.config.k8s.io/v1beta1',
      kind: 'Kustomization',
      resources: ['helm-output.yaml'],
    };
    if (pr.patches.length) kustomization.patches = pr.patches.map((p) => ({ patch: p.patch, ...(p.target ? { target: selectorJson(p.target) } : {}) }));
    if (pr.images.length) kustomization.images = pr.images.map((i) => ({ ...i }));
    await writeFile(path.join(dir, 'helm-output.yaml'), stream);
    await writeFile(path.join(dir, 'kustomization.yaml'), stringify(kustomization));
    return await runKubectlKustomize(dir, k);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The chain over one group of documents. */
async function renderGroup(docs: Document[], cfg: PostRenderConfig, k: KustomizeRunner): Promise<Document[]> {
  let current = docs;
  for (const pr of cfg.postRenderers) {
    if (!pr.kustomize) continue;
    if (current.length === 0) continue;
    current = documents(await kustomizeStream(joinDocs(current), pr.kustomize, k));
  }
  if (cfg.commonMetadata) {
    if (cfg.commonMetadata.labels) setMetadataEntries(current, 'labels', cfg.commonMetadata.labels);
    if (cfg.commonMetadata.annotations) setMetadataEntries(current, 'annotations', cfg.commonMetadata.annotations);
  }
  if (cfg.origin) {
    setMetadataEntries(current, 'labels', {
      [`${HELM_TOOLKIT_GROUP}/name`]: cfg.origin.name,
      [`${HELM_TOOLKIT_GROUP}/namespace`]: cfg.origin.namespace,
    });
  }
  return current;
}

/**
 * Post-renders Helm's output stream (what a postrenderer/v1 plugin receives on stdin).
 * Returns the stream for Helm to install; never empty for non-empty input.
 */
export async function postRender(stream: string, cfg: PostRenderConfig, k: KustomizeRunner): Promise<string> {
  const docs = documents(stream);
  const strategy = cfg.strategy ?? 'combined';
  if (strategy === 'combined') return joinDocs(await renderGroup(docs, cfg, k));
  const hooks = docs.filter(isHook);
  const manifests = docs.filter((d) => !isHook(d));
  const renderedManifests = await renderGroup(manifests, cfg, k);
  const renderedHooks = strategy === 'separate' ? await renderGroup(hooks, cfg, k) : hooks;
  return joinDocs([...renderedHooks, ...renderedManifests]);
}

/** True when post-rendering does something beyond the origin labels (kustomize or commonMetadata). */
export function hasUserPostRenderers(cfg: PostRenderConfig): boolean {
  return cfg.postRenderers.some((p) => p.kustomize) || Boolean(cfg.commonMetadata?.labels || cfg.commonMetadata?.annotations);
}
