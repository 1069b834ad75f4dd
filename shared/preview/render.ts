/**
 * The preview of one source at a pull request's head:
 *
 * 1. which Kustomizations the change touches: those reading the source (the users
 *    index) whose inputs, the files a build of them reads (spec.path and everything its
 *    kustomization graph references, as render/materialize.ts links them), at the head
 *    or at the base, include a changed file; a change outside every input touches
 *    nothing. Kustomization definitions the touched ones render at the head that differ
 *    from the stored ones (or are new) are previewed too, with their new definition;
 * 2. each is built with Flux's build (generator, kustomize, postBuild, owner labels) and
 *    its cluster objects are server-side dry-run against the live cluster
 *    (`applyAll({ diffOnly })`: nothing is written); objects of its inventory that the
 *    head no longer renders would be pruned (when spec.prune). Flux objects are compared
 *    with the stored definitions instead of the cluster (Fluxless keeps them as
 *    definitions). Secret values never appear: diffs come from the engine's masked
 *    field diff.
 * A build or validation failure is the Kustomization's result (a red check); an API
 * server that does not answer is thrown (the preview is retried).
 */
import { isDeepStrictEqual } from 'node:util';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { ValidationFailedError } from '../apply/errors.js';
import { fieldDiff, renderDiff } from '../apply/diff.js';
import { engineFor } from '../kinds/kustomization/apply.js';
import { authorizeDefinitions } from '../kinds/kustomization/authorize.js';
import { targetOf } from '../kinds/kustomization/target.js';
import type { Target } from '../kube/targets.js';
import { buildKustomization, buildSettings } from '../kinds/kustomization/build.js';
import { withoutFluxComponents } from '../kinds/kustomization/components.js';
import { gatesOf } from '../kinds/kustomization/gates.js';
import { isFluxGroup, isFluxObject } from '../kinds/kustomization/definitions.js';
import { parseKustomization, type KustomizationSpec } from '../kinds/kustomization/spec.js';
import { fmtObject, fmtRef, inventoryId, parseInventoryId, refOf, type KubeObject, type ObjectKey } from '../kube/object.js';
import { transientCause } from '../reconcile/failure.js';
import { registeredMembers } from '../reconcile/reverse-index.js';
import { referencesSource } from '../reconcile/source-users.js';
import { materializeBuildTree } from '../render/materialize.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord, type ObjectRecord } from '../state/records.js';
import { errorMessage } from '../util/errors.js';
import { listFiles, type PreviewSource } from './sources.js';

/** What the pull request would do to one object. */
export interface ObjectChange {
  /** `Kind/namespace/name` */
  subject: string;
  action: 'created' | 'configured' | 'deleted';
  /** Field-level diff lines (`  ~ spec.replicas: 1 -> 2`), Secret values masked. */
  diff?: string;
  /** A Flux object: its definition changes (Fluxless keeps Flux objects as definitions). */
  definition?: boolean;
}

/** The preview of one Kustomization. */
export interface KustomizationPreview {
  key: ObjectKey;
  path: string;
  /** The pull request changes the Kustomization's own definition (or adds it). */
  newDefinition?: boolean;
  ok: boolean;
  /** `BuildFailed`, `ValidationFailed`, `InvalidSpec` when not ok. */
  reason?: string;
  /** Not built nor dry-run, and why (a definition of the pull request that reads Secrets, an untrusted head). */
  skipped?: string;
  error?: string;
  changes: ObjectChange[];
  /** Objects the dry-run found unchanged. */
  unchanged: number;
}

/** The trees of one source: head and base artifacts, and the files that differ. */
export interface SourceTrees {
  head: string;
  base: string;
  changed: ReadonlySet<string>;
}

interface Candidate {
  key: ObjectKey;
  def: KubeObject;
  rec?: ObjectRecord;
  newDefinition: boolean;
}

/** Whether any changed file is an input of the Kustomization at `root`. */
async function touches(root: string, spec: KustomizationSpec, changed: ReadonlySet<string>, dest: string): Promise<boolean> {
  await materializeBuildTree(root, spec.path ?? '', spec.render.components ?? [], dest);
  for (const f of await listFiles(dest)) if (changed.has(f)) return true;
  return false;
}

function comparableDefinition(o: KubeObject | undefined): unknown {
  if (!o) return undefined;
  return { apiVersion: o.apiVersion, kind: o.kind, labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {}, spec: o.spec ?? {} };
}

/** What shapes a preview beyond the trees. */
export interface PreviewOptions {
  /** The head is untrusted (a fork): no Kustomization that reads Secrets is built. */
  untrusted?: boolean;
}

/**
 * Why a Kustomization is not built for this preview: a build reads Secrets (postBuild
 * substituteFrom, SOPS keys) with Fluxless's own identity, and what it renders ends up in
 * the check run (diffs, object names, error messages), where no masking can hold (envsubst
 * can slice and re-case a value). So a definition the pull request adds or changes is never
 * built when it reads Secrets, and nothing that reads Secrets is built for an untrusted head.
 */
function skipReason(spec: KustomizationSpec, newDefinition: boolean, opts: PreviewOptions): string | undefined {
  const secrets = Boolean(spec.decryption) || (spec.postBuild?.substituteFrom ?? []).some((s) => s.kind === 'Secret');
  if (!secrets) return undefined;
  if (newDefinition) return 'the pull request adds or changes this definition, and it reads Secrets (postBuild.substituteFrom or spec.decryption): it is previewed once merged';
  if (opts.untrusted) return 'it reads Secrets (postBuild.substituteFrom or spec.decryption), and the pull request comes from a fork';
  return undefined;
}

/**
 * The most Kustomizations one preview builds and dry-runs per source; the others are listed
 * as not previewed. A pull request can add any number of definitions, and each costs a build
 * and a dry-run of every object against the live cluster.
 */
export const MAX_PREVIEWED_KUSTOMIZATIONS = 50;

/** Previews the Kustomizations of `src` that the change touches; see the module comment. */
export async function previewSource(rt: Runtime, src: PreviewSource, trees: SourceTrees, work: string, signal?: AbortSignal, opts: PreviewOptions = {}): Promise<KustomizationPreview[]> {
  const out: KustomizationPreview[] = [];
  const queue: Candidate[] = [];
  const seen = new Set<string>();
  let n = 0;
  const dir = async (label: string) => {
    const d = path.join(work, `${n++}-${label}`);
    await mkdir(d, { recursive: true });
    return d;
  };
  for (const key of await registeredMembers(rt.state, 'SourceUsersIndex', src.key)) {
    if (key.kind !== 'Kustomization') continue;
    const rec = await readRecord(rt.state, key);
    if (!rec?.object || rec.deleted || !referencesSource(rec.object.spec, key.namespace, src.key)) continue;
    let spec: KustomizationSpec;
    try {
      spec = parseKustomization(rec.object);
    } catch {
      continue; // an invalid definition is reported by its own reconcile
    }
    if (spec.suspend || rec.suspended) continue;
    const hit = (await touches(trees.head, spec, trees.changed, await dir('head'))) || (await touches(trees.base, spec, trees.changed, await dir('base')));
    if (hit) {
      queue.push({ key, def: rec.object, rec, newDefinition: false });
      seen.add(fmtRef(key));
    }
  }
  let built = 0;
  while (queue.length) {
    const c = queue.shift()!;
    if (built >= MAX_PREVIEWED_KUSTOMIZATIONS) {
      const skipped = `the pull request touches more than ${MAX_PREVIEWED_KUSTOMIZATIONS} Kustomizations of this source; the first ${MAX_PREVIEWED_KUSTOMIZATIONS} are previewed`;
      out.push({ ...emptyPreview(c), skipped });
      continue;
    }
    built++;
    const p = await previewOne(rt, src, c, trees.head, await dir('build'), signal, opts);
    out.push(p.preview);
    // Kustomization definitions this one renders at the head that are new or changed: previewed too.
    for (const d of p.definitions) {
      if (d.kind !== 'Kustomization') continue;
      const key = { kind: d.kind, namespace: d.metadata.namespace!, name: d.metadata.name };
      if (seen.has(fmtRef(key)) || !referencesSource(d.spec, key.namespace, src.key)) continue;
      const rec = await readRecord(rt.state, key);
      if (rec?.object && isDeepStrictEqual(comparableDefinition(rec.object), comparableDefinition(d))) continue;
      seen.add(fmtRef(key));
      if (rec?.origin?.by === 'bootstrap') continue;
      queue.push({ key, def: d, rec, newDefinition: true });
    }
  }
  return out;
}

/** A candidate's preview before anything is built: no path yet, no changes. */
function emptyPreview(c: Candidate): KustomizationPreview {
  return { key: c.key, path: '', ok: true, changes: [], unchanged: 0, ...(c.newDefinition ? { newDefinition: true } : {}) };
}

async function previewOne(rt: Runtime, src: PreviewSource, c: Candidate, head: string, dest: string, signal?: AbortSignal, opts: PreviewOptions = {}): Promise<{ preview: KustomizationPreview; definitions: KubeObject[] }> {
  const base = emptyPreview(c);
  let spec: KustomizationSpec;
  try {
    spec = parseKustomization(c.def);
  } catch (err) {
    return { preview: { ...base, ok: false, reason: 'InvalidSpec', error: errorMessage(err) }, definitions: [] };
  }
  base.path = spec.path || './';
  const skipped = skipReason(spec, c.newDefinition, opts);
  if (skipped) return { preview: { ...base, skipped }, definitions: [] };
  // The dry-run acts as the reconcile would: on the cluster of spec.kubeConfig, as spec.serviceAccountName (or the default account).
  let target: Target;
  try {
    target = await targetOf(rt, spec, c.rec);
  } catch (err) {
    const t = transientCause(err);
    if (t) throw t;
    return { preview: { ...base, ok: false, reason: 'ValidationFailed', error: errorMessage(err) }, definitions: [] };
  }
  try {
    return await previewOnTarget(rt, c, spec, base, target, head, dest, signal, opts);
  } finally {
    target.release();
  }
}

async function previewOnTarget(
  rt: Runtime,
  c: Candidate,
  spec: KustomizationSpec,
  base: KustomizationPreview,
  target: Target,
  head: string,
  dest: string,
  signal: AbortSignal | undefined,
  opts: PreviewOptions,
): Promise<{ preview: KustomizationPreview; definitions: KubeObject[] }> {
  let objects: KubeObject[];
  try {
    await materializeBuildTree(head, spec.path ?? '', spec.render.components ?? [], dest);
    const settings = buildSettings(rt.settings);
    // A fork's head never makes kustomize fetch: its remote bases could name any host.
    if (opts.untrusted) settings.allowRemoteBases = false;
    objects = await buildKustomization(rt.client, spec, dest, { ...settings, strict: gatesOf(rt.settings).strictPostBuildSubstitutions, signal });
  } catch (err) {
    const t = transientCause(err);
    if (t) throw t;
    return { preview: { ...base, ok: false, reason: 'BuildFailed', error: errorMessage(err) }, definitions: [] };
  }
  // Flux objects become definitions in the namespace syncDefinitions gives them; never the Kustomization itself.
  const flux = objects
    .filter(isFluxObject)
    .map((o) => ({ ...o, metadata: { ...o.metadata, namespace: o.metadata.namespace ?? spec.render.targetNamespace ?? spec.namespace } }))
    .filter((o) => !(o.kind === 'Kustomization' && o.metadata.namespace === spec.namespace && o.metadata.name === spec.name));
  const cluster = withoutFluxComponents(objects.filter((o) => !isFluxObject(o)), rt.settings.applyFluxComponents).objects;
  const changes: ObjectChange[] = [];
  let unchanged = 0;
  try {
    // An impersonated tenant may only write the definitions its RBAC allows (as the reconcile checks).
    await authorizeDefinitions(target, spec, flux);
    const entries = await engineFor(rt, spec, signal, target).applyAll(cluster, { diffOnly: true, ignore: spec.ignore });
    for (const e of entries) {
      if (e.action === 'created' || e.action === 'configured') changes.push({ subject: e.subject, action: e.action, ...(e.action === 'configured' && e.changes?.length ? { diff: renderDiff(e.changes) } : {}) });
      else unchanged++;
    }
  } catch (err) {
    if (err instanceof ValidationFailedError) return { preview: { ...base, ok: false, reason: 'ValidationFailed', error: err.message }, definitions: flux };
    const t = transientCause(err);
    if (t) throw t;
    return { preview: { ...base, ok: false, reason: 'ValidationFailed', error: errorMessage(err) }, definitions: flux };
  }
  // Flux objects: against the stored definitions (bootstrap objects are merged with the configuration: not compared).
  for (const d of flux) {
    const key = { kind: d.kind, namespace: d.metadata.namespace!, name: d.metadata.name };
    const stored = await readRecord(rt.state, key);
    const cur = stored?.deleted ? undefined : stored?.object;
    if (stored?.origin?.by === 'bootstrap') continue;
    if (!cur) changes.push({ subject: fmtObject(d), action: 'created', definition: true });
    else if (!isDeepStrictEqual(comparableDefinition(cur), comparableDefinition(d))) {
      const diff = renderDiff(fieldDiff(stripped(cur), stripped(d)));
      changes.push({ subject: fmtObject(d), action: 'configured', definition: true, ...(diff ? { diff } : {}) });
    } else unchanged++;
  }
  // What the head no longer renders: pruned (cluster objects when spec.prune; definitions always go).
  const now = new Set([...cluster, ...flux].map((o) => inventoryId(refOf(o))));
  for (const inv of c.rec?.status.inventory?.entries ?? []) {
    if (now.has(inv.id)) continue;
    const ref = parseInventoryId(inv.id);
    const definition = isFluxGroup(ref.group);
    if (!definition && !spec.prune) continue;
    changes.push({ subject: fmtRef(ref), action: 'deleted', ...(definition ? { definition: true } : {}) });
  }
  return { preview: { ...base, changes, unchanged }, definitions: flux };
}

/** A definition as compared: no status, no server fields. */
function stripped(o: KubeObject): KubeObject {
  const { status: _s, ...rest } = o;
  return rest as KubeObject;
}
