/**
 * The ArtifactGenerator kind (`source.extensions.fluxcd.io/v1beta1`, source-watcher in
 * Flux 2.7+): composes sources into artifacts, or splits one into many, each served as an
 * ExternalArtifact with its own revision and digest.
 *
 * It runs in the worker when one of its sources has a new artifact (it registers as a user
 * of each source) and on its own schedule (1 h, as source-watcher's requeue, to repair
 * drift). Like source-watcher it rebuilds only on drift: not Ready, generation changed,
 * sources changed (`status.observedSourcesDigest`), outputs added or removed, a stored
 * artifact missing or corrupt, or a generated ExternalArtifact changed or gone. Each output
 * is staged alone and archived deterministically, so an output whose copied files did not
 * change keeps its digest (and its revision `latest@<digest>`): its ExternalArtifact is not
 * rewritten and its users are not woken. Only the users of ExternalArtifacts whose
 * revision changed are woken.
 *
 * Generated ExternalArtifacts are definitions in the state store owned by the generator
 * (`origin: {by: 'ArtifactGenerator'}`), with `spec.sourceRef` naming it and
 * `status.artifact` pointing into the artifact store (`ExternalArtifact/<ns>/<name>/...`).
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { OpenedArtifact } from '../../artifacts/cache.js';
import { buildArtifact } from '../../artifacts/build.js';
import type { KubeObject, ObjectKey } from '../../kube/object.js';
import { ANNOTATION_REVISION } from '../../oci/media-types.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { artifactGeneratorDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { sourceUsers } from '../../reconcile/source-users.js';
import { writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { getCondition, readRecord, type ArtifactInfo, type ObjectRecord, type ObjectStatus } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { EA_GROUP, EA_KIND, EA_PRODUCER } from '../externalartifact/reconciler.js';
import { CopyError, applyCopyOperations } from './copy.js';
import { SourceNotReady, hashObservedSources, observeSources, type ObservedSource } from './observed.js';
import { PathPatternError, artifactRequests, type ArtifactRequest } from './pathpattern.js';
import { AG_API_VERSION, AG_GROUP, parseArtifactGenerator, type ArtifactGeneratorSpec } from './spec.js';

/** source-watcher requeues a generator after an hour (its sources wake it sooner). */
export const REQUEUE_MS = 60 * 60_000;
/** How soon a generator whose sources are not ready tries again. */
export const SOURCE_RETRY_MS = 30_000;
/** How soon a failed build is tried again (a source change wakes it sooner). */
export const FAILURE_RETRY_MS = 60_000;

/** Label naming the generator of an ExternalArtifact (value: the generator's id). */
export const GENERATOR_LABEL = `${AG_GROUP}/generator`;
/** The managed-by label value of generated ExternalArtifacts. */
export const MANAGED_BY = 'fluxless';

/** One generated ExternalArtifact, as `status.inventory[]` lists it. */
export interface GeneratedRef {
  name: string;
  namespace: string;
  digest: string;
  filename: string;
}

/** A stable id for a generator, shaped like a UID (Flux labels with the object's UID; Fluxless records have none). */
export function generatorId(namespace: string, name: string): string {
  const h = createHash('sha256').update(`${AG_GROUP}/ArtifactGenerator/${namespace}/${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The generator's `status.inventory` (Flux's list shape). */
export function inventoryOf(rec: ObjectRecord | undefined): GeneratedRef[] {
  const inv = rec?.status.inventory as unknown;
  return Array.isArray(inv) ? (inv as GeneratedRef[]) : [];
}

function eaKey(namespace: string, name: string): ObjectKey {
  return { kind: EA_KIND, namespace, name };
}

/** A reconcile failure of a generator, with Flux's reason. */
class GeneratorFailure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly opts: { stalled?: boolean; retryMs?: number; cause?: unknown } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
  }
}

/** Why the outputs must be built again, or undefined when they are up to date. */
async function driftReason(svc: ReconcileServices, rec: ObjectRecord, spec: ArtifactGeneratorSpec, self: ObjectKey, sourcesDigest: string): Promise<string | undefined> {
  const ready = getCondition(rec, 'Ready');
  if (!ready || ready.status !== 'True') return 'NotReady';
  if ((ready.observedGeneration ?? 0) !== spec.generation) return 'GenerationChanged';
  if (rec.status.observedSourcesDigest !== sourcesDigest) return 'SourcesChanged';
  const inv = inventoryOf(rec);
  if (!spec.pathPattern && inv.length !== spec.artifacts.length) return 'ArtifactsChanged';
  for (const ref of inv) {
    const ea = await readRecord(svc.state, eaKey(ref.namespace, ref.name));
    const a = ea?.status.artifact;
    if (!ea?.object || ea.deleted || !ownedBy(ea, self) || !a || a.digest !== ref.digest) return 'ExternalArtifactsChanged';
    try {
      await svc.artifacts.get(a.key, a.digest);
    } catch (err) {
      if (transientCause(err)) throw err;
      return 'ArtifactMissing';
    }
  }
  return undefined;
}

function ownedBy(rec: ObjectRecord, gen: ObjectKey): boolean {
  return rec.origin?.by === EA_PRODUCER && rec.origin.namespace === gen.namespace && rec.origin.name === gen.name;
}

/** The ExternalArtifact definition of one output. */
function externalArtifactObject(spec: ArtifactGeneratorSpec, req: ArtifactRequest, generation: number): KubeObject {
  const labels: Record<string, string> = {
    ...(spec.commonMetadata?.labels ?? {}),
    ...req.labels,
    'app.kubernetes.io/managed-by': MANAGED_BY,
    [GENERATOR_LABEL]: generatorId(spec.namespace, spec.name),
  };
  const annotations = spec.commonMetadata?.annotations && Object.keys(spec.commonMetadata.annotations).length ? { ...spec.commonMetadata.annotations } : undefined;
  return {
    apiVersion: `${EA_GROUP}/v1`,
    kind: EA_KIND,
    metadata: { name: req.artifact.name, namespace: spec.namespace, generation, labels, ...(annotations ? { annotations } : {}) },
    spec: { sourceRef: { apiVersion: AG_API_VERSION, kind: 'ArtifactGenerator', name: spec.name, namespace: spec.namespace } },
  };
}

/** The revision and metadata of a built output, per `revision` / `originRevision`. */
function revisionsOf(req: ArtifactRequest, digest: string, observed: ReadonlyMap<string, ObservedSource>): { revision: string; metadata?: Record<string, string> } {
  let revision = `latest@${digest}`;
  const r = req.artifact.revision ? observed.get(req.artifact.revision.slice(1)) : undefined;
  if (r) revision = r.revision;
  const o = req.artifact.originRevision ? observed.get(req.artifact.originRevision.slice(1)) : undefined;
  return { revision, metadata: o ? { [ANNOTATION_REVISION]: o.originRevision ?? o.revision } : undefined };
}

interface Built {
  ref: GeneratedRef;
  changed: boolean;
  revision: string;
}

/** Builds one output, stores it (unless unchanged) and writes its ExternalArtifact. */
async function buildOutput(
  svc: ReconcileServices,
  spec: ArtifactGeneratorSpec,
  self: ObjectKey,
  req: ArtifactRequest,
  roots: ReadonlyMap<string, string>,
  observed: ReadonlyMap<string, ObservedSource>,
  work: string,
  forceStore: boolean,
): Promise<Built> {
  const name = req.artifact.name;
  const key = eaKey(spec.namespace, name);
  const staging = path.join(work, name);
  await mkdir(staging, { recursive: true });
  try {
    await applyCopyOperations(req.artifact.copy, roots, staging);
  } catch (err) {
    throw new GeneratorFailure('BuildFailed', `${name} build failed: ${errorMessage(err)}`, { retryMs: FAILURE_RETRY_MS, cause: err });
  }
  const art = await buildArtifact(staging);
  await rm(staging, { recursive: true, force: true });
  const { revision, metadata } = revisionsOf(req, art.digest, observed);

  const prev = await readRecord(svc.state, key);
  if (prev?.object && !prev.deleted && !ownedBy(prev, self)) {
    const owner = prev.origin?.by === 'bootstrap' ? 'the configuration' : `${prev.origin?.by ?? 'another object'} ${prev.origin?.namespace ?? ''}/${prev.origin?.name ?? ''}`;
    throw new GeneratorFailure('ReconciliationFailed', `${name} reconcile failed: ExternalArtifact ${spec.namespace}/${name} is defined by ${owner}, not by this ArtifactGenerator: rename the output or remove the other definition`, {
      retryMs: FAILURE_RETRY_MS,
    });
  }
  const prevArtifact = prev && !prev.deleted ? prev.status.artifact : undefined;
  const sameContent = prevArtifact?.digest === art.digest && !forceStore;
  let artifact: ArtifactInfo;
  if (sameContent && prevArtifact) {
    artifact = { ...prevArtifact, revision, metadata };
  } else {
    const stored = await svc.artifacts.put(key, revision, art.tarGz);
    await svc.artifacts.gc(key, 2, { protect: [stored.key] }).catch(() => undefined);
    artifact = { revision, digest: stored.digest, key: stored.key, size: stored.size, url: stored.url, lastUpdateTime: stored.lastUpdateTime, metadata };
  }

  // The definition (a new generation when its labels or annotations change), then its status.
  const desired = externalArtifactObject(spec, req, 1);
  let defChanged = false;
  await svc.state.update<ObjectRecord>(key, (cur) => {
    const live = cur && !cur.deleted ? cur.object : undefined;
    const same = live && JSON.stringify(live.metadata.labels ?? {}) === JSON.stringify(desired.metadata.labels) &&
      JSON.stringify(live.metadata.annotations ?? {}) === JSON.stringify(desired.metadata.annotations ?? {}) &&
      JSON.stringify(live.spec) === JSON.stringify(desired.spec);
    if (same && cur && ownedBy(cur, self)) return undefined;
    defChanged = true;
    const generation = Number(live?.metadata.generation ?? 0) + 1;
    return {
      ...(cur && !cur.deleted ? cur : { status: {} }),
      object: { ...desired, metadata: { ...desired.metadata, generation } },
      deleted: false,
      origin: { by: EA_PRODUCER, namespace: spec.namespace, name: spec.name },
    };
  });
  const changed = !prevArtifact || prevArtifact.digest !== artifact.digest || prevArtifact.revision !== artifact.revision;
  const metaChanged = JSON.stringify(prevArtifact?.metadata ?? {}) !== JSON.stringify(artifact.metadata ?? {});
  if (changed || metaChanged || defChanged || !sameContent) {
    await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message: 'Artifact is ready', fields: { artifact } }, svc.now());
  }
  return { ref: { name, namespace: spec.namespace, digest: artifact.digest, filename: path.posix.basename(artifact.key) }, changed, revision: artifact.revision };
}

/** Marks generated ExternalArtifacts deleted (their kind finalizes them); the keys to wake. */
async function removeOutputs(svc: ReconcileServices, self: ObjectKey, refs: readonly GeneratedRef[]): Promise<Wake[]> {
  const out: Wake[] = [];
  for (const r of refs) {
    const key = eaKey(r.namespace, r.name);
    const res = await svc.state.update<ObjectRecord>(key, (cur) => (cur && !cur.deleted && ownedBy(cur, self) ? { ...cur, deleted: true } : undefined));
    if (res?.value.deleted && ownedBy(res.value, self)) out.push({ key, reason: 'dependency', dedupKey: 'finalize' });
  }
  return out;
}

/** The status update of a failed reconcile. */
function failureStatus(f: GeneratorFailure, handledRequest: string | undefined): StatusUpdate {
  return {
    ready: false,
    reason: f.reason,
    message: f.message,
    stalled: f.opts.stalled,
    handledRequest,
    event: { severity: 'error', reason: f.reason, message: f.message },
    nextRunMs: f.opts.stalled ? undefined : (f.opts.retryMs ?? FAILURE_RETRY_MS),
  };
}

/** Reconciles one ArtifactGenerator. */
export async function reconcileArtifactGenerator(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, log: logger } = req;
  const handledRequest = rec.requestedAt;
  let spec: ArtifactGeneratorSpec;
  try {
    spec = parseArtifactGenerator(rec.object!);
  } catch (err) {
    const f = new GeneratorFailure('ValidationFailed', errorMessage(err), { stalled: true });
    await writeStatus(svc.state, key, failureStatus(f, handledRequest), svc.now());
    return { ready: false, reason: f.reason, message: f.message, wake: [] };
  }
  if (spec.disabled || rec.suspended) {
    logger.info('reconciliation is disabled: skipping');
    return { ready: getCondition(rec, 'Ready')?.status === 'True', reason: 'ReconciliationDisabled', message: 'Reconciliation is disabled', wake: [] };
  }

  const opened: OpenedArtifact[] = [];
  let work: string | undefined;
  const wake: Wake[] = [];
  try {
    let observed: Map<string, ObservedSource>;
    try {
      observed = await observeSources(svc, key, spec.sources);
    } catch (err) {
      if (!(err instanceof SourceNotReady)) throw err;
      throw new GeneratorFailure('SourceFetchFailed', `get sources failed: ${err.message}`, { retryMs: SOURCE_RETRY_MS });
    }
    const sourcesDigest = hashObservedSources(observed);
    const drift = await driftReason(svc, rec, spec, key, sourcesDigest);
    if (!drift) {
      const message = `reconciliation succeeded, generated ${inventoryOf(rec).length} artifact(s)`;
      await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, handledRequest, nextRunMs: jitter(REQUEUE_MS) }, svc.now());
      logger.info(`no drift detected, ${inventoryOf(rec).length} artifact(s) up to date`);
      return { ready: true, reason: 'Succeeded', message, wake: [] };
    }
    logger.info('building artifacts', { reason: drift });

    // Fetch (once per process) and extract the sources; the copies read them in place.
    const roots = new Map<string, string>();
    try {
      for (const [alias, s] of observed) {
        const o = await svc.artifactCache.open(s.artifact);
        opened.push(o);
        roots.set(alias, o.root);
      }
    } catch (err) {
      if (transientCause(err)) throw err;
      throw new GeneratorFailure('SourceFetchFailed', `fetch sources failed: ${errorMessage(err)}`, { retryMs: SOURCE_RETRY_MS, cause: err });
    }
    let requests: ArtifactRequest[];
    try {
      requests = await artifactRequests(spec.artifacts, spec.pathPattern, roots);
    } catch (err) {
      throw new GeneratorFailure('BuildFailed', `failed to expand path pattern: ${errorMessage(err)}`, { stalled: err instanceof PathPatternError, retryMs: FAILURE_RETRY_MS, cause: err });
    }

    work = await svc.artifactCache.workDir('ag-');
    const built: Built[] = [];
    for (const r of requests) {
      const b = await buildOutput(svc, spec, key, r, roots, observed, work, drift === 'ArtifactMissing');
      built.push(b);
      if (b.changed) wake.push(...(await sourceUsers(svc, eaKey(b.ref.namespace, b.ref.name), b.revision)));
    }
    const names = new Set(built.map((b) => b.ref.name));
    const orphans = inventoryOf(rec).filter((r) => !names.has(r.name) || r.namespace !== spec.namespace);
    wake.push(...(await removeOutputs(svc, key, orphans)));

    const refs = built.map((b) => b.ref);
    const changed = built.filter((b) => b.changed);
    const message = `reconciliation succeeded, generated ${refs.length} artifact(s)`;
    await writeStatus(
      svc.state,
      key,
      {
        ready: true,
        reason: 'Succeeded',
        message,
        handledRequest,
        fields: { inventory: refs as unknown as ObjectStatus['inventory'], observedSourcesDigest: sourcesDigest },
        event: changed.length
          ? { severity: 'info', reason: 'Succeeded', message: `external artifacts reconciled: ${changed.map((b) => `${b.ref.namespace}/${b.ref.name} (${b.ref.digest})`).join('\n')}` }
          : undefined,
        nextRunMs: jitter(REQUEUE_MS),
      },
      svc.now(),
    );
    logger.info('artifacts generated', { artifacts: refs.length, changed: changed.map((b) => b.ref.name), removed: orphans.map((o) => o.name) });
    return { ready: true, reason: 'Succeeded', message, wake };
  } catch (err) {
    const f =
      err instanceof GeneratorFailure
        ? err
        : new GeneratorFailure(err instanceof CopyError ? 'BuildFailed' : 'ReconciliationFailed', errorMessage(err), { retryMs: FAILURE_RETRY_MS, cause: err });
    await writeStatus(svc.state, key, failureStatus(f, handledRequest), svc.now());
    logger.warn('artifact generation failed', { reason: f.reason, error: f.message });
    return { ready: false, reason: f.reason, message: f.message, wake, transientError: transientCause(err) };
  } finally {
    for (const o of opened) o.release();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/** A generator removed from Git: its ExternalArtifacts go (finalized by their kind), then its record. */
export async function finalizeArtifactGenerator(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const wake = await removeOutputs(svc, req.key, inventoryOf(req.record));
  await svc.state.delete(req.key);
  return { ready: false, reason: 'Finalized', message: `ArtifactGenerator deleted, ${wake.length} ExternalArtifact(s) removed`, wake };
}

/** The ArtifactGenerator kind. */
export const artifactGeneratorKind: KindReconciler = {
  ...artifactGeneratorDescriptor,
  reconcile: reconcileArtifactGenerator,
  finalize: finalizeArtifactGenerator,
  validate: (obj) => void parseArtifactGenerator(obj),
  summary: (rec) => ({ revision: inventoryOf(rec).length ? `${inventoryOf(rec).length} artifact(s)` : '' }),
  children: (rec) => inventoryOf(rec).map((r) => ({ kind: EA_KIND, group: EA_GROUP, namespace: r.namespace, name: r.name })),
};
