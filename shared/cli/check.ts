/**
 * `fluxless check`, like `flux check --pre`: before anything is applied, what of a fleet
 * repository (a local checkout with `--path`, else the configured source's current
 * artifact) Fluxless supports, kind by kind, following the Kustomizations that build from
 * the same repository; Flux's own components that would be left out; the bootstrap pair
 * and where fluxless.yaml overrides it; and the cluster's version, and whether Flux's
 * controllers already run there.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { extractArtifact } from '../artifacts/extract.js';
import type { FluxlessConfig } from '../config/config.js';
import { applyCopyOperations } from '../kinds/artifactgenerator/copy.js';
import { artifactRequests } from '../kinds/artifactgenerator/pathpattern.js';
import { parseArtifactGenerator, type ArtifactGeneratorSpec } from '../kinds/artifactgenerator/spec.js';
import { isFluxComponent } from '../kinds/kustomization/components.js';
import { buildKustomization, buildSettings } from '../kinds/kustomization/build.js';
import { gatesOf } from '../kinds/kustomization/gates.js';
import { isFluxObject } from '../kinds/kustomization/definitions.js';
import { parseKustomization, type KustomizationSpec, type SubstituteRef } from '../kinds/kustomization/spec.js';
import { THIRD_PARTY_EVENT_SOURCE_KINDS } from '../notify/event.js';
import { kindReconciler } from '../kinds/registry.js';
import { KubeApiError, type KubeClient } from '../kube/client.js';
import { fmtObject, type KubeObject } from '../kube/object.js';
import { mergeBootstrap } from '../reconcile/bootstrap-pair.js';
import { materializeBuildTree } from '../render/materialize.js';
import { bootstrapObjects } from '../runtime/bootstrap.js';
import { removedVersionMessage } from '../runtime/versions.js';
import { localRoot } from './render-cmds.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord } from '../state/records.js';
import { FluxlessError, errorMessage } from '../util/errors.js';

/** One finding of the check. */
export interface Finding {
  ok: boolean;
  /** A warning does not fail the check. */
  warning?: boolean;
  text: string;
}

/** A client that refuses every request: the repository check never reads the cluster. */
const OFFLINE: KubeClient = {
  server: 'offline',
  requestCount: 0,
  request: () => Promise.reject(new FluxlessError('Offline', 'not read from the cluster during a check')),
  close: () => undefined,
};

/**
 * The ConfigMaps and Secrets of the repository's builds, by `<namespace>/<Kind>/<name>`, as
 * the API returns them (Secret `data` base64, `stringData` folded in): what a Kustomization's
 * `postBuild.substituteFrom` reads once the build that holds them has been applied.
 * SOPS-encrypted Secrets are left out (their values are not readable here).
 */
class RepositoryConfigs {
  private readonly objects = new Map<string, { data: Record<string, string> }>();
  private readonly encrypted = new Set<string>();

  /** Records `obj` when it is a ConfigMap or a readable Secret; `namespace` is the one it is applied to. */
  add(obj: KubeObject, namespace: string): void {
    if (obj.apiVersion !== 'v1' || (obj.kind !== 'ConfigMap' && obj.kind !== 'Secret')) return;
    if ('sops' in obj) {
      this.encrypted.add(`${namespace}/${obj.kind}/${obj.metadata.name}`);
      return;
    }
    const raw = obj as KubeObject & { data?: unknown; stringData?: unknown };
    const data: Record<string, string> = {};
    const strings = (v: unknown) => (v && typeof v === 'object' ? Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => typeof e[1] === 'string') : []);
    for (const [k, v] of strings(raw.data)) data[k] = v;
    if (obj.kind === 'Secret') for (const [k, v] of strings(raw.stringData)) data[k] = Buffer.from(v, 'utf8').toString('base64');
    this.objects.set(`${namespace}/${obj.kind}/${obj.metadata.name}`, { data });
  }

  /** Whether the repository holds the object, readable. */
  has(namespace: string, kind: string, name: string): boolean {
    return this.objects.has(`${namespace}/${kind}/${name}`);
  }

  /** Whether the repository holds the object SOPS-encrypted. */
  isEncrypted(namespace: string, kind: string, name: string): boolean {
    return this.encrypted.has(`${namespace}/${kind}/${name}`);
  }

  /** A client that answers GETs of these objects (404 for others) and refuses everything else. */
  client(): KubeClient {
    return {
      ...OFFLINE,
      request: <T>(method: string, p: string) => {
        const m = /^\/api\/v1\/namespaces\/([^/]+)\/(configmaps|secrets)\/([^/]+)$/.exec(p);
        if (method !== 'GET' || !m) return OFFLINE.request<T>(method, p);
        const found = this.objects.get(`${decodeURIComponent(m[1]!)}/${m[2] === 'secrets' ? 'Secret' : 'ConfigMap'}/${decodeURIComponent(m[3]!)}`);
        if (!found) return Promise.reject(new KubeApiError(404, 'NotFound', `${m[2]} "${decodeURIComponent(m[3]!)}" not found`));
        return Promise.resolve({ ...found, metadata: { resourceVersion: '' } } as T);
      },
    };
  }
}

async function checkCluster(rt: Runtime): Promise<Finding[]> {
  const out: Finding[] = [];
  try {
    const v = await rt.client.request<{ gitVersion?: string }>('GET', '/version');
    out.push({ ok: true, text: `Kubernetes ${v.gitVersion ?? '?'} at ${rt.client.server}` });
  } catch (err) {
    out.push({ ok: false, text: `the cluster at ${rt.client.server} cannot be reached: ${errorMessage(err)}` });
    return out;
  }
  try {
    const list = await rt.client.request<{ items?: KubeObject[] }>('GET', '/apis/apps/v1/deployments', { query: { labelSelector: 'app.kubernetes.io/part-of=flux' } });
    const names = (list.items ?? []).map((d) => `${d.metadata.namespace}/${d.metadata.name}`);
    out.push(
      names.length
        ? { ok: false, text: `Flux's controllers run in this cluster (${names.join(', ')}): stop them (flux uninstall --keep-namespace) before Fluxless reconciles the same objects` }
        : { ok: true, text: "no Flux controllers run in this cluster" },
    );
  } catch (err) {
    out.push({ ok: true, warning: true, text: `could not list Deployments to look for Flux's controllers: ${errorMessage(err)}` });
  }
  return out;
}

interface KindCount {
  total: number;
  problems: Map<string, number>;
}

/** Walks the builds of `root` from `startPath`, following Kustomizations of the same repository. */
async function checkRepository(cfg: FluxlessConfig, tree: string, startPath: string, settings: Runtime['settings']): Promise<Finding[]> {
  // The reconcile's build settings (remote bases, the lockdown, the tool's memory, strict
  // substitution); SOPS values are not decrypted here, as the check reads no key from the cluster.
  const build = { ...buildSettings(settings), strict: gatesOf(settings).strictPostBuildSubstitutions, skipDecryption: true };
  const out: Finding[] = [];
  const kinds = new Map<string, KindCount>();
  let skipped = 0;
  let clusterObjects = 0;
  /** Alerts per event-source kind of another controller (they match no event here). */
  const inertSources = new Map<string, number>();
  const count = (key: string, problem?: string) => {
    const k = kinds.get(key) ?? { total: 0, problems: new Map() };
    k.total++;
    if (problem) k.problems.set(problem, (k.problems.get(problem) ?? 0) + 1);
    kinds.set(key, k);
  };
  const [source, root] = bootstrapObjects(cfg);
  const seen = new Set<string>();
  type Item = { name: string; namespace: string; path: string; spec?: KustomizationSpec; tree: string; via?: string; artifact?: string; deferred?: boolean };
  const queue: Item[] = [{ name: root.metadata.name, namespace: root.metadata.namespace!, path: startPath, tree }];
  /** ExternalArtifacts generated from this repository (`<namespace>/<name>` -> their tree). */
  const generated = new Map<string, string>();
  /** Kustomizations on an ExternalArtifact not generated (yet) when they were found. */
  let waiting: Item[] = [];
  /** Kustomizations on other sources: checked when Fluxless fetches those. */
  const elsewhere: string[] = [];
  /** Sources of the bootstrap kind that Kustomizations build from, and those the builds define (`<namespace>/<name>`). */
  const referencedSources = new Set<string>();
  const definedSources = new Set<string>();
  /** ConfigMaps and Secrets built so far, for postBuild.substituteFrom. */
  const configs = new RepositoryConfigs();
  /** Kustomizations whose substituteFrom objects no build has produced yet: built after the others. */
  let deferred: Item[] = [];
  /** substituteFrom objects (not optional) that are in no build of the repository, or only encrypted. */
  const notInRepository = new Set<string>();
  const encryptedVars = new Set<string>();
  const genWork = await mkdtemp(path.join(os.tmpdir(), 'fluxless-check-gen-'));
  const isOurs = (kind: string, name: string, namespace: string) => kind === source.kind && name === source.metadata.name && namespace === source.metadata.namespace;
  try {
    for (;;) {
      if (!queue.length) {
        // Kustomizations waiting for an ExternalArtifact that a later build generated.
        const ready = waiting.filter((w) => generated.has(w.artifact!));
        waiting = waiting.filter((w) => !ready.includes(w));
        for (const w of ready) queue.push({ ...w, tree: generated.get(w.artifact!)! });
        // Then those waiting for their substituteFrom objects, built with what the repository has.
        if (!ready.length) {
          if (!deferred.length) break;
          queue.push(...deferred);
          deferred = [];
        }
      }
      const item = queue.shift()!;
      const seenKey = `${item.tree}\0${item.path}`;
      if (seen.has(seenKey)) continue;
      const spec: KustomizationSpec =
        item.spec ?? parseKustomization({ ...root, metadata: { ...root.metadata, name: item.name, namespace: item.namespace }, spec: { ...(root.spec ?? {}), path: item.path } });
      const isMissing = (r: SubstituteRef) => !r.optional && !configs.has(spec.namespace, r.kind, r.name);
      if ((spec.postBuild?.substituteFrom ?? []).some(isMissing) && !item.deferred) {
        deferred.push({ ...item, spec, deferred: true });
        continue;
      }
      seen.add(seenKey);
      const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-check-'));
      try {
        const dest = path.join(work, 'src');
        await materializeBuildTree(item.tree, spec.path, spec.render.components ?? [], dest);
        let objects: KubeObject[];
        try {
          // substituteFrom reads the repository's own ConfigMaps and Secrets; those in none of its
          // builds (made in the cluster) are left out, and their variables stay as written.
          const collectConfigs = (objs: KubeObject[]) => {
            for (const obj of objs) if (!isFluxObject(obj)) configs.add(obj, obj.metadata.namespace ?? spec.namespace);
          };
          const once = async () => {
            const missing = (spec.postBuild?.substituteFrom ?? []).filter(isMissing);
            const postBuild = spec.postBuild && { ...spec.postBuild, substituteFrom: spec.postBuild.substituteFrom.filter((r) => !missing.includes(r)) };
            return { missing, objects: await buildKustomization(configs.client(), { ...spec, postBuild }, dest, missing.length ? { ...build, strict: false } : build) };
          };
          let built = await once();
          collectConfigs(built.objects);
          // A build may hold the objects it substitutes from (applied on an earlier reconcile in a
          // running cluster): built again with them.
          if (built.missing.some((r) => !isMissing(r))) {
            built = await once();
            collectConfigs(built.objects);
          }
          for (const r of built.missing) (configs.isEncrypted(spec.namespace, r.kind, r.name) ? encryptedVars : notInRepository).add(`${r.kind} ${spec.namespace}/${r.name}`);
          objects = built.objects;
        } catch (err) {
          out.push({ ok: false, text: `build of ${item.path}${item.via ? ` of ${item.via}` : ''} (Kustomization ${item.namespace}/${item.name}) failed: ${errorMessage(err)}` });
          continue;
        }
        for (const obj of objects) {
          if (!isFluxObject(obj)) {
            if (isFluxComponent(obj)) skipped++;
            else clusterObjects++;
            continue;
          }
          if (obj.kind === source.kind) definedSources.add(`${obj.metadata.namespace ?? spec.namespace}/${obj.metadata.name}`);
          const kind = kindReconciler(obj.kind);
          const label = `${obj.kind} (${obj.apiVersion})`;
          if (!kind) {
            count(label, `${obj.kind} is not a kind Fluxless knows`);
            continue;
          }
          const removed = removedVersionMessage(kind, obj.apiVersion);
          if (removed) {
            count(label, removed);
            continue;
          }
          let problem: string | undefined;
          try {
            kind.validate?.({ ...obj, metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? spec.render.targetNamespace ?? spec.namespace } });
          } catch (err) {
            problem = errorMessage(err).replace(/^\S+ [^:]+: /, '');
          }
          count(label, problem);
          if (obj.kind === 'Alert' && !problem) {
            for (const k of new Set(((obj.spec?.eventSources ?? []) as Array<{ kind?: unknown }>).map((e) => e.kind))) {
              if (typeof k === 'string' && THIRD_PARTY_EVENT_SOURCE_KINDS.includes(k)) inertSources.set(k, (inertSources.get(k) ?? 0) + 1);
            }
          }
          // The bootstrap pair from gotk-sync.yaml: merged with the configuration.
          const isBootstrap = [source, root].find((b) => b.kind === obj.kind && b.metadata.name === obj.metadata.name && (obj.metadata.namespace ?? spec.namespace) === b.metadata.namespace);
          if (isBootstrap) {
            const { conflicts } = mergeBootstrap(isBootstrap, obj);
            out.push({ ok: true, warning: conflicts.length > 0, text: `${fmtObject({ ...obj, metadata: { ...obj.metadata, namespace: isBootstrap.metadata.namespace } })} is the bootstrap pair (gotk-sync.yaml): merged with fluxless.yaml${conflicts.length ? `; fluxless.yaml wins on ${conflicts.join('; ')}` : ''}` });
            continue;
          }
          // Follow Kustomizations that build from the same repository, directly or through an
          // ArtifactGenerator over it.
          if (obj.kind === 'ArtifactGenerator' && !problem) {
            out.push(...(await generateFromRepository(parseArtifactGenerator({ ...obj, metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? spec.namespace } }), tree, genWork, isOurs, generated)));
          }
          if (obj.kind === 'Kustomization' && !problem) {
            const ks = parseKustomization({ ...obj, metadata: { ...obj.metadata, namespace: obj.metadata.namespace ?? spec.namespace } });
            const ref = ks.sourceRef;
            if (isOurs(ref.kind, ref.name, ref.namespace)) {
              queue.push({ name: ks.name, namespace: ks.namespace, path: ks.path, spec: ks, tree });
            } else if (ref.kind === 'ExternalArtifact') {
              const artifact = `${ref.namespace}/${ref.name}`;
              const t = generated.get(artifact);
              const item = { name: ks.name, namespace: ks.namespace, path: ks.path, spec: ks, via: `ExternalArtifact ${artifact}`, artifact };
              if (t) queue.push({ ...item, tree: t });
              else waiting.push({ ...item, tree: '' });
            } else {
              elsewhere.push(`${ks.namespace}/${ks.name} (${ref.kind} ${ref.namespace}/${ref.name})`);
              if (ref.kind === source.kind) referencedSources.add(`${ref.namespace}/${ref.name}`);
            }
          }
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(genWork, { recursive: true, force: true });
  }
  for (const w of waiting) elsewhere.push(`${w.namespace}/${w.name} (${w.via}, not generated from this repository)`);
  out.push({ ok: true, text: `${clusterObjects} Kubernetes object(s) to apply from ${seen.size} Kustomization path(s)` });
  if (elsewhere.length) {
    const shown = elsewhere.slice(0, 5).join(', ');
    out.push({ ok: true, warning: true, text: `${elsewhere.length} Kustomization(s) build from other sources, checked when Fluxless fetches them: ${shown}${elsewhere.length > 5 ? `, and ${elsewhere.length - 5} more` : ''}` });
    // A source no build defines is made outside the repository, as `flux bootstrap` or Flux
    // Operator's FluxInstance makes the fleet's own source under a name of its choosing.
    for (const ref of referencedSources) {
      if (definedSources.has(ref)) continue;
      const [ns, name] = ref.split('/') as [string, string];
      out.push({
        ok: true,
        warning: true,
        text: `${source.kind} ${ref} is defined in no build of the repository: if it is this repository (made by flux bootstrap or a FluxInstance), set name: ${name}${ns !== source.metadata.namespace ? ` and namespace: ${ns}` : ''} in fluxless.yaml`,
      });
    }
  }
  const listed = (set: Set<string>) => `${[...set].slice(0, 5).join(', ')}${set.size > 5 ? `, and ${set.size - 5} more` : ''}`;
  if (notInRepository.size) {
    out.push({
      ok: true,
      warning: true,
      text: `${notInRepository.size} postBuild.substituteFrom object(s) are in no build of the repository (made in the cluster?), so their variables were not substituted here: ${listed(notInRepository)}`,
    });
  }
  if (encryptedVars.size) {
    out.push({
      ok: true,
      warning: true,
      text: `${encryptedVars.size} postBuild.substituteFrom object(s) are SOPS-encrypted in the repository (the check decrypts nothing), so their variables were not substituted here: ${listed(encryptedVars)}`,
    });
  }
  if (skipped) out.push({ ok: true, warning: true, text: `${skipped} object(s) of Flux's own components (gotk-components.yaml) are left out: Fluxless replaces Flux's controllers (set applyFluxComponents: true to apply them)` });
  for (const [k, n] of inertSources) {
    out.push({ ok: true, warning: true, text: `${n} Alert(s) name event sources of kind ${k}: they match no event, as Fluxless reconciles no ${k} objects; their other sources are forwarded` });
  }
  for (const [label, k] of [...kinds.entries()].sort()) {
    const bad = [...k.problems.values()].reduce((a, b) => a + b, 0);
    if (!bad) out.push({ ok: true, text: `${label}: ${k.total} supported` });
    for (const [problem, n] of k.problems) out.push({ ok: false, text: `${label}: ${n} of ${k.total}: ${problem}` });
  }
  return out;
}

/**
 * Builds the outputs of an ArtifactGenerator whose sources are all this repository (the
 * copy operations and pathPattern of its reconciler, over the checked-out tree) into
 * `work`, recording each as a generated ExternalArtifact. A generator over other sources
 * is left to its reconcile.
 */
async function generateFromRepository(
  ag: ArtifactGeneratorSpec,
  tree: string,
  work: string,
  isOurs: (kind: string, name: string, namespace: string) => boolean,
  generated: Map<string, string>,
): Promise<Finding[]> {
  if (!ag.sources.every((s) => isOurs(s.kind, s.name, s.namespace))) return [];
  const roots = new Map(ag.sources.map((s) => [s.alias, tree]));
  try {
    for (const req of await artifactRequests(ag.artifacts, ag.pathPattern, roots)) {
      const dir = path.join(work, `${ag.namespace}.${req.artifact.name}`);
      await rm(dir, { recursive: true, force: true });
      await mkdir(dir, { recursive: true });
      await applyCopyOperations(req.artifact.copy, roots, dir);
      generated.set(`${ag.namespace}/${req.artifact.name}`, dir);
    }
    return [];
  } catch (err) {
    return [{ ok: false, text: `ArtifactGenerator ${ag.namespace}/${ag.name}: ${errorMessage(err)}` }];
  }
}

/** `fluxless check --pre`: the cluster only. */
export async function checkPrerequisites(rt: Runtime): Promise<{ code: number; text: string }> {
  const c = await checkCluster(rt);
  const failed = c.filter((f) => !f.ok).length;
  return { code: failed ? 1 : 0, text: ['► checking prerequisites', ...c.map(fmt), failed ? `✗ ${failed} problem(s)` : '✔ prerequisites checks passed'].join('\n') };
}

/**
 * Runs the checks; returns the report and the exit code (0: everything supported, 1: not).
 * `localPath` is a checkout of the fleet repository (its root, or the directory of `path`).
 */
export async function checkCmd(rt: Runtime, cfg: FluxlessConfig, opts: { localPath?: string; cluster: boolean }): Promise<{ code: number; text: string }> {
  const findings: Finding[] = [];
  const lines: string[] = [];
  if (opts.cluster) {
    lines.push('► checking prerequisites');
    const c = await checkCluster(rt);
    findings.push(...c);
    lines.push(...c.map(fmt));
  }
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-check-src-'));
  try {
    let tree: string;
    let startPath = cfg.path;
    if (opts.localPath) {
      const abs = path.resolve(opts.localPath);
      if (!existsSync(abs)) throw new FluxlessError('Usage', `--path ${opts.localPath} does not exist`);
      // A checkout's root checks the configured path; a directory inside it is that path (like `flux build --path`).
      const root = await localRoot(abs);
      const inside = root !== path.parse(abs).root && abs !== root;
      tree = inside ? root : abs;
      if (inside) startPath = `./${path.relative(root, abs)}`;
    } else {
      const [source] = bootstrapObjects(cfg);
      const rec = await readRecord(rt.state, { kind: source.kind, namespace: source.metadata.namespace!, name: source.metadata.name });
      const a = rec?.status.artifact;
      if (!a) {
        throw new FluxlessError('NoArtifact', `the source ${cfg.source.url} has not been fetched yet`, {
          hint: `give a local checkout with --path, or run 'fluxless reconcile source ${source.kind === 'OCIRepository' ? 'oci' : 'git'} ${source.metadata.name}' first`,
        });
      }
      tree = path.join(work, 'src');
      await extractArtifact(await rt.artifacts.get(a.key, a.digest), tree);
    }
    const r = await checkRepository(cfg, tree, startPath, rt.settings);
    lines.push(`► checking the repository (path ${startPath})`);
    findings.push(...r);
    lines.push(...r.map(fmt));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const failed = findings.filter((f) => !f.ok).length;
  lines.push(failed ? `✗ ${failed} problem(s): Fluxless would reconcile the rest and report these on their objects` : '✔ all checks passed');
  return { code: failed ? 1 : 0, text: lines.join('\n') };
}

function fmt(f: Finding): string {
  return `${f.ok ? (f.warning ? '!' : '✔') : '✗'} ${f.text}`;
}
