/**
 * Renders a Flux Kustomization's path into Kubernetes objects, as kustomize-controller does:
 * secure-join spec.path, generate/merge the kustomization file (generator.ts), build with
 * kustomize (`kubectl kustomize` from the kubectl layer), parse, check every object has
 * apiVersion/kind/metadata.name, then apply spec.commonMetadata.
 *
 * Containment. Flux builds on a filesystem rooted at the artifact root with
 * LoadRestrictionsNone: any file inside the artifact may be read, nothing outside it.
 * kubectl has no such filesystem, so Fluxless combines:
 *  - `--load-restrictor=LoadRestrictionsRootOnly` (kustomize's default): every *file* a
 *    kustomization reads (resources, patches, generator inputs, ...) must be in or below that
 *    kustomization's own directory, symlinks resolved. This is stricter than Flux: a file
 *    reference such as `../common/patch.yaml` fails, while directory references
 *    (`resources: [../base]`) work as in Flux.
 *  - a pre-build walk of the kustomization graph (checkReferences) that rejects directory
 *    references (resources, bases, components, generators, transformers, validators) whose
 *    real path is outside the artifact, which RootOnly alone would allow.
 *  - remote references (http(s) files, git repositories) are rejected unless
 *    `allowRemoteBases` is set, which is the behaviour of kustomize-controller with
 *    `--no-remote-bases=true`. Flux's default allows them; Fluxless defaults to off because
 *    a function has no git binary, and remote fetches make a build depend on another
 *    server. Without allowRemoteBases kubectl also runs with an empty PATH (no git) and an
 *    unreachable HTTP(S) proxy, as a second line of defence.
 * Plugins stay disabled (kubectl's defaults: builtin transformers only, no exec/container
 * functions, no helm inflation), matching Flux's DisabledPluginConfig.
 */
import { spawn } from 'node:child_process';
import { lstat, readFile, realpath, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { isScalar, parseAllDocuments, parse as parseYaml } from 'yaml';
import { EnvironmentError, ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { assertInside, displayPath, findKustomizationFile, isWithin, prepareKustomization } from './generator.js';
import { kustomizeBatcher } from './kustomize-batch.js';
import { ensureTools } from './tools.js';
import type { CommonMetadata, KubeObject, RenderSpec } from './types.js';

export const OWNER_NAME_LABEL = 'kustomize.toolkit.fluxcd.io/name';
export const OWNER_NAMESPACE_LABEL = 'kustomize.toolkit.fluxcd.io/namespace';

export const DEFAULT_BUILD_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_OUTPUT_BYTES = 128 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;

export interface RenderInput {
  /** The extracted artifact root. Fluxless writes the kustomization file inside it. */
  root: string;
  /** spec.path, relative to the artifact root ('' or './' for the root). */
  path: string;
  spec: RenderSpec;
  /** Allow remote bases/resources (kustomize-controller's default); off by default here. */
  allowRemoteBases?: boolean;
  /** Kill kustomize after this long (default 120s). */
  timeoutMs?: number;
  /** Fail when kustomize writes more than this many bytes (default 128 MiB). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /**
   * Let this build share a kustomize run with concurrent builds when that cannot change its
   * output (default true; see kustomize-batch.ts).
   */
  batch?: boolean;
}

/**
 * Joins spec.path to the artifact root without letting it escape: `..` that climbs above the
 * root is rejected, as is a path whose symlinks resolve outside the root. A leading `/` is
 * taken as relative to the root (as Flux's SecureJoin does). Returns both symlink-resolved.
 */
export async function resolveBuildPath(root: string, specPath: string | undefined): Promise<{ root: string; dir: string }> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch (err) {
    throw new EnvironmentError(`artifact directory ${root} does not exist: ${errorMessage(err)}`, { cause: err });
  }
  const raw = specPath ?? '';
  if (raw.includes('\0')) throw new ValidationError(`spec.path ${JSON.stringify(raw)} contains a NUL byte`);
  const rel = path.posix.normalize(raw.replace(/\\/g, '/').replace(/^\/+/, '') || '.');
  if (rel === '..' || rel.startsWith('../')) {
    throw new ValidationError(`spec.path '${raw}' points outside the source artifact`, {
      hint: 'spec.path is relative to the root of the source artifact, e.g. ./apps/production',
    });
  }
  const joined = path.join(rootReal, rel);
  let real: string;
  try {
    real = await realpath(joined);
  } catch {
    throw new ValidationError(`kustomization path not found: spec.path '${raw}' does not exist in the source artifact`, {
      hint: 'check spec.path against the repository layout at the fetched revision',
    });
  }
  if (!isWithin(rootReal, real)) {
    throw new ValidationError(`spec.path '${raw}' resolves through a symlink to a location outside the source artifact`);
  }
  if (!(await stat(real)).isDirectory()) {
    throw new ValidationError(`spec.path '${raw}' is a file; it must be a directory`);
  }
  return { root: rootReal, dir: real };
}

/** Fields whose entries may name a directory kustomize loads as another kustomization. */
export const DIR_REF_FIELDS = ['resources', 'bases', 'components', 'generators', 'transformers', 'validators'] as const;

export const URL_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//;

/** Does a resources/components entry look like a remote (URL or git) reference? */
export function looksRemote(entry: string): boolean {
  if (URL_SCHEME.test(entry)) return true;
  if (/^(git@|gh:|git::|ssh:)/.test(entry)) return true;
  if (/[?&](ref|version|submodules|timeout)=/.test(entry)) return true;
  const first = entry.split('/')[0];
  return entry.includes('/') && first.includes('.') && first !== '.' && first !== '..';
}

function remoteError(file: string, field: string, entry: string): ValidationError {
  return new ValidationError(`${file}: ${field} entry '${entry}' is a remote reference, and remote bases are disabled`, {
    hint: 'vendor the remote manifests into the source repository (or into another source artifact)',
  });
}

export function strings(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** Entries of file-valued fields (read through kustomize's loader, which fetches http(s) URLs). */
export function fileRefs(k: Record<string, unknown>): Array<{ field: string; value: string }> {
  const out: Array<{ field: string; value: string }> = [];
  const push = (field: string, v: unknown) => {
    for (const s of strings(v)) if (!s.includes('\n')) out.push({ field, value: s });
  };
  for (const f of ['patchesStrategicMerge', 'configurations', 'crds']) push(f, k[f]);
  for (const f of ['patches', 'patchesJson6902', 'replacements']) {
    const list = k[f];
    if (Array.isArray(list)) for (const p of list) if (p && typeof p === 'object') push(`${f}[].path`, (p as { path?: unknown }).path);
  }
  for (const f of ['configMapGenerator', 'secretGenerator']) {
    const list = k[f];
    if (!Array.isArray(list)) continue;
    for (const g of list) {
      if (!g || typeof g !== 'object') continue;
      const gen = g as { files?: unknown; envs?: unknown; env?: unknown };
      for (const s of strings(gen.files)) push(`${f}[].files`, s.includes('=') ? s.slice(s.indexOf('=') + 1) : s);
      push(`${f}[].envs`, gen.envs);
      push(`${f}[].env`, gen.env);
    }
  }
  const openapi = k.openapi;
  if (openapi && typeof openapi === 'object') push('openapi.path', (openapi as { path?: unknown }).path);
  return out;
}

/**
 * Walks the kustomization graph from `dir` and rejects references that would make kustomize
 * read outside `root` (directory references, symlinks) or fetch remote content (unless
 * allowed). Entries that do not exist are left for kustomize to report.
 */
export async function checkReferences(root: string, dir: string, opts: { allowRemoteBases?: boolean } = {}): Promise<{ batchable: boolean }> {
  const visited = new Set<string>();
  let batchable = true;
  const visit = async (d: string): Promise<void> => {
    if (visited.has(d)) return;
    visited.add(d);
    const kfile = await findKustomizationFile(d);
    if (!kfile) return; // kustomize reports the missing file
    const shown = displayPath(root, kfile);
    await assertInside(root, kfile);
    let k: unknown;
    let text: string;
    try {
      text = await readFile(kfile, 'utf8');
      k = parseYaml(text, { version: '1.1', uniqueKeys: false });
    } catch {
      batchable = false;
      return; // unparsable: kustomize reports it, and reads nothing through it
    }
    if (!k || typeof k !== 'object' || Array.isArray(k)) {
      batchable = false;
      return;
    }
    const kus = k as Record<string, unknown>;
    if (batchable && !(await isBatchSafe(kus, text, d, root))) batchable = false;

    if (!opts.allowRemoteBases) {
      for (const { field, value } of fileRefs(kus)) {
        if (/^https?:\/\//i.test(value)) throw remoteError(shown, field, value);
      }
    }

    for (const field of DIR_REF_FIELDS) {
      for (const entry of strings(kus[field])) {
        if (entry.includes('\n') || entry === '') continue; // inline YAML (generators/transformers)
        const target = path.resolve(d, entry);
        const local = !URL_SCHEME.test(entry) && (await lstat(target).then(() => true, () => false));
        if (!local && looksRemote(entry)) {
          if (!opts.allowRemoteBases) throw remoteError(shown, field, entry);
          continue;
        }
        if (!isWithin(root, target)) {
          throw new ValidationError(`${shown}: ${field} entry '${entry}' points outside the source artifact`, {
            hint: 'kustomizations may only reference files and directories inside the source artifact',
          });
        }
        let real: string;
        try {
          real = await realpath(target);
        } catch {
          continue; // does not exist: kustomize reports it
        }
        if (!isWithin(root, real)) {
          throw new ValidationError(
            `${shown}: ${field} entry '${entry}' resolves through a symlink to a location outside the source artifact`,
          );
        }
        if ((await stat(real)).isDirectory()) await visit(real);
      }
    }
  };
  await visit(dir);
  return { batchable };
}

/**
 * Kustomization fields whose effects reach beyond their own build when several builds share
 * one kustomize run (kustomize-batch.ts): renames fixed up in back references at the top
 * (prefix/suffix, generator hashes, replacements, name-changing patches), vars resolved at
 * the top, process-wide schemas (openapi, crds), shared transformer configurations, plugins,
 * and output decorations that depend on the build root.
 */
const NOT_BATCH_SAFE_FIELDS = [
  'namePrefix', 'nameSuffix', 'configMapGenerator', 'secretGenerator', 'generators', 'transformers', 'validators',
  'vars', 'replacements', 'openapi', 'crds', 'configurations', 'buildMetadata', 'helmCharts', 'helmGlobals',
  'helmChartInflationGenerator', 'sortOptions',
];

async function isBatchSafe(kus: Record<string, unknown>, text: string, dir: string, root: string): Promise<boolean> {
  if (NOT_BATCH_SAFE_FIELDS.some((f) => f in kus)) return false;
  if (kus.kind !== undefined && kus.kind !== 'Kustomization') return false;
  if (/allowNameChange|allowKindChange/.test(text)) return false;
  // JSON 6902 patches may rename an object (or move it) without allowNameChange; kustomize
  // then fixes references to it across the whole run, other builds' included.
  for (const field of ['patches', 'patchesJson6902']) {
    const list = kus[field];
    if (list === undefined) continue;
    if (!Array.isArray(list)) return false;
    for (const p of list) {
      if (!p || typeof p !== 'object') return false;
      const entry = p as { patch?: unknown; path?: unknown };
      let body: string;
      if (typeof entry.patch === 'string') body = entry.patch;
      else if (typeof entry.path === 'string') {
        const file = path.resolve(dir, entry.path);
        if (!isWithin(root, file)) return false;
        try {
          body = await readFile(file, 'utf8');
        } catch {
          return false; // missing: kustomize reports it, alone
        }
      } else return false;
      if (renamesObjects(body)) return false;
    }
  }
  return true;
}

/** Paths a JSON patch must not touch for its build to share a kustomize run. */
const IDENTITY_PATH = /^(|\/|\/metadata\/?|\/metadata\/(name|namespace|generateName)(\/.*)?|\/kind|\/apiVersion)$/;

/** Does this patch (JSON 6902 as YAML or JSON; strategic merge patches never rename) change an object's identity? */
function renamesObjects(body: string): boolean {
  let doc: unknown;
  try {
    doc = parseYaml(body, { version: '1.1', uniqueKeys: false });
  } catch {
    return true; // unparsable: let kustomize say so, alone
  }
  if (!Array.isArray(doc)) return false; // a strategic merge patch
  return doc.some((op) => {
    if (!op || typeof op !== 'object') return true;
    const o = op as { path?: unknown; from?: unknown };
    return [o.path, o.from].some((v) => v !== undefined && (typeof v !== 'string' || IDENTITY_PATH.test(v)));
  });
}

export interface KustomizeOptions {
  root: string;
  allowRemoteBases?: boolean;
  timeoutMs?: number;
  maxOutputBytes?: number;
  signal?: AbortSignal;
}

/** Tidies kustomize's stderr for a user: trimmed, no `error: ` prefix, artifact-relative paths. */
function kustomizeMessage(stderr: string, root: string): string {
  let msg = stderr.trim().replace(/^error:\s*/i, '');
  msg = msg.split(root + path.sep).join('').split(root).join('.');
  return msg || 'kustomize exited with an error and no message';
}

/** Runs `kubectl kustomize <dir>` and returns its YAML output. */
export async function kustomizeBuild(kubectl: string, dir: string, opts: KustomizeOptions): Promise<string> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_BUILD_TIMEOUT_MS;
  const maxOut = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const env: NodeJS.ProcessEnv = {
    HOME: process.env.HOME || os.tmpdir(),
    TMPDIR: os.tmpdir(),
    PATH: opts.allowRemoteBases ? (process.env.PATH ?? '') : '',
  };
  if (!opts.allowRemoteBases) {
    // Unreachable proxy: any HTTP(S) fetch that got past checkReferences fails fast.
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy']) env[k] = 'http://127.0.0.1:9';
    env.NO_PROXY = '';
    env.no_proxy = '';
  }
  const args = ['kustomize', dir, '--load-restrictor=LoadRestrictionsRootOnly'];
  const t0 = Date.now();

  return await new Promise<string>((resolve, reject) => {
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(kubectl, args, { stdio: ['ignore', 'pipe', 'pipe'], env, signal: opts.signal });
    } catch (err) {
      reject(new EnvironmentError(`cannot run ${kubectl}: ${errorMessage(err)}`, { cause: err }));
      return;
    }
    const out: Buffer[] = [];
    let outBytes = 0;
    let err = '';
    let tooBig = false;
    let timedOut = false;
    let settled = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.stdout!.on('data', (b: Buffer) => {
      if (tooBig) return;
      outBytes += b.length;
      if (outBytes > maxOut) {
        tooBig = true;
        child.kill('SIGKILL');
        return;
      }
      out.push(b);
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (err.length < MAX_STDERR_BYTES) err += s.slice(0, MAX_STDERR_BYTES - err.length);
    });
    const finish = (e: Error | undefined, v?: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (e) reject(e);
      else resolve(v!);
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.name === 'AbortError') finish(new EnvironmentError('kustomize build was cancelled', { cause: e }));
      else finish(new EnvironmentError(`cannot run ${kubectl}: ${e.message}`, { cause: e, hint: 'see ensureTools / FLUXLESS_KUBECTL' }));
    });
    child.on('close', (code, signal) => {
      log.debug('kustomize build finished', { dir: displayPath(opts.root, dir), code, signal, ms: Date.now() - t0, bytes: outBytes });
      if (tooBig) {
        finish(new ValidationError(`kustomize build output exceeds ${maxOut} bytes; the kustomization is too large to render`));
      } else if (timedOut) {
        finish(new EnvironmentError(`kustomize build timed out after ${Math.round(timeoutMs / 1000)}s`));
      } else if (code !== 0) {
        const message = kustomizeMessage(err, opts.root);
        finish(new ValidationError(`kustomize build failed: ${message}`));
      } else {
        if (err.trim()) log.debug('kustomize warnings', { dir: displayPath(opts.root, dir), stderr: kustomizeMessage(err, opts.root) });
        finish(undefined, Buffer.concat(out).toString('utf8'));
      }
    });
  });
}

function snippet(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 200 ? s.slice(0, 200) + '...' : s;
}

/** Parses kustomize output into objects, rejecting any without apiVersion, kind or metadata.name. */
export function parseManifests(text: string): KubeObject[] {
  const docs = parseAllDocuments(text);
  const objects: KubeObject[] = [];
  if (!Array.isArray(docs)) return objects;
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i];
    if (doc.errors.length) {
      throw new ValidationError(`failed to parse kustomize output (document ${i + 1}): ${doc.errors[0].message}`);
    }
    const c = doc.contents;
    if (c === null || (isScalar(c) && (c.value === null || c.value === undefined))) continue;
    const v = doc.toJS() as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) {
      throw new ValidationError(`failed to decode Kubernetes apiVersion, kind and name from: ${snippet(v)}`);
    }
    const o = v as Record<string, unknown>;
    const meta = o.metadata as Record<string, unknown> | undefined;
    const missing: string[] = [];
    if (typeof o.apiVersion !== 'string' || !o.apiVersion) missing.push('apiVersion');
    if (typeof o.kind !== 'string' || !o.kind) missing.push('kind');
    if (!meta || typeof meta !== 'object' || typeof meta.name !== 'string' || !meta.name) missing.push('metadata.name');
    if (missing.length) {
      const what = [typeof o.kind === 'string' ? o.kind : undefined, meta && typeof meta.name === 'string' ? meta.name : undefined]
        .filter(Boolean)
        .join(' ');
      throw new ValidationError(
        `failed to decode Kubernetes apiVersion, kind and name from ${what ? `'${what}'` : `object ${i + 1}`}: missing ${missing.join(', ')} in ${snippet(v)}`,
      );
    }
    objects.push(o as KubeObject);
  }
  return objects;
}

/** Flux ssautil.SetCommonMetadata: labels and annotations set on every object, overriding. */
export function applyCommonMetadata(objects: KubeObject[], cm: CommonMetadata | undefined): KubeObject[] {
  const labels = cm?.labels && Object.keys(cm.labels).length ? cm.labels : undefined;
  const annotations = cm?.annotations && Object.keys(cm.annotations).length ? cm.annotations : undefined;
  if (!labels && !annotations) return objects;
  for (const o of objects) {
    if (labels) o.metadata.labels = { ...(o.metadata.labels ?? {}), ...labels };
    if (annotations) o.metadata.annotations = { ...(o.metadata.annotations ?? {}), ...annotations };
  }
  return objects;
}

/** Flux's owner labels (ssa ResourceManager.SetOwnerLabels), set on every object in place. */
export function addOwnerLabels(objects: KubeObject[], owner: { name: string; namespace: string }): KubeObject[] {
  for (const o of objects) {
    o.metadata.labels = { ...(o.metadata.labels ?? {}), [OWNER_NAME_LABEL]: owner.name, [OWNER_NAMESPACE_LABEL]: owner.namespace };
  }
  return objects;
}

/**
 * Renders spec.path of an extracted artifact into objects (generate, merge, build, parse,
 * commonMetadata). Writes the kustomization file into the artifact directory.
 */
export async function renderKustomization(input: RenderInput): Promise<KubeObject[]> {
  const { root, dir } = await resolveBuildPath(input.root, input.path);
  await prepareKustomization(root, dir, input.spec);
  const { batchable } = await checkReferences(root, dir, { allowRemoteBases: input.allowRemoteBases });
  const { kubectl } = await ensureTools();
  const opts: KustomizeOptions = {
    root,
    allowRemoteBases: input.allowRemoteBases,
    timeoutMs: input.timeoutMs,
    maxOutputBytes: input.maxOutputBytes,
    signal: input.signal,
  };
  const text =
    batchable && !input.allowRemoteBases && input.batch !== false
      ? await kustomizeBatcher(kubectl).build(dir, opts)
      : await kustomizeBuild(kubectl, dir, opts);
  const objects = parseManifests(text);
  return applyCommonMetadata(objects, input.spec.commonMetadata);
}
