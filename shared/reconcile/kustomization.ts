/**
 * The Kustomization reconciler: Flux's kustomize-controller reconcile loop, run once per
 * call (a queue message, a webhook, a schedule tick, a CLI command). It never knows which
 * runtime it is in: everything it needs is injected.
 *
 *   suspend -> source artifact -> dependsOn -> fetch + verify + extract -> render
 *   (generate, kustomize build, postBuild substitution, owner labels) -> split Flux objects
 *   (definitions) from cluster objects -> apply (validation first) -> inventory -> prune ->
 *   health -> status, history, events.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ArtifactCache, OpenedArtifact } from '../artifacts/cache.js';
import { ApplyEngine, ValidationFailedError, type ChangeEntry } from '../apply/engine.js';
import type { KubeClient } from '../kube/client.js';
import type { RestMapper } from '../kube/mapper.js';
import { isNotFound } from '../kube/client.js';
import { fmtRef, inventoryId, parseInventoryId, splitApiVersion, type KubeObject, type ObjectRef } from '../kube/object.js';
import { waitForHealth, type ObjectRef as HealthRef } from '../health/index.js';
import { addOwnerLabels, applyCommonMetadata, renderKustomization, OWNER_NAME_LABEL, OWNER_NAMESPACE_LABEL } from '../render/build.js';
import { materializeBuildTree } from '../render/materialize.js';
import { mergeVariables, substituteVariables, type KubeObjectLike } from '../render/substitute.js';
import type { StateStore } from '../state/index.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { formatGoDuration } from '../health/index.js';
import { dropDependentsIndex, registerDependent } from './dependents.js';
import { parseKustomization, type KustomizationSpec } from './kustomization-spec.js';
import {
  MAX_EVENTS,
  MAX_HISTORY,
  getCondition,
  isReady,
  readRecord,
  recordKey,
  setCondition,
  removeCondition,
  type FluxEvent,
  type InventoryEntry,
  type ObjectRecord,
  type ObjectStatus,
} from './records.js';

/** Flux API groups whose objects become Fluxless definitions instead of cluster objects. */
export function isFluxObject(obj: { apiVersion: string }): boolean {
  return splitApiVersion(obj.apiVersion).group.endsWith('.toolkit.fluxcd.io');
}

export interface ReconcileDeps {
  state: StateStore;
  client: KubeClient;
  /** Source artifacts, fetched, verified and extracted once, shared read-only. */
  artifacts: Pick<ArtifactCache, 'open' | 'workDir'>;
  fieldManager?: string;
  now?: () => Date;
  /** Health polling interval (Flux: 5s). */
  healthIntervalMs?: number;
  /** Apply engine concurrency. */
  concurrency?: number;
  /** Discovery shared across reconciles (default: one per reconcile). */
  mapper?: RestMapper;
  signal?: AbortSignal;
}

export interface ReconcileOutcome {
  ready: boolean;
  reason: string;
  message: string;
  revision?: string;
  /** When to run again (ms from now), per interval / retryInterval. */
  requeueAfterMs?: number;
  /** Definitions created or changed by this run: reconcile them next. */
  changedDefinitions: Array<{ kind: string; namespace: string; name: string }>;
  /** Definitions removed by this run: finalize them next. */
  removedDefinitions: Array<{ kind: string; namespace: string; name: string }>;
  changes: ChangeEntry[];
  /**
   * Set when the failure says nothing about the Kustomization (the API server or a store
   * could not be reached): the status is written, and the caller should retry the message.
   */
  transientError?: Error;
}

const TRANSIENT_CODES = new Set(['Unreachable', 'Timeout', 'Conflict', 'EnvironmentFailed']);

const DEPENDENCY_RETRY_MS = 30_000;

function jitter(ms: number): number {
  // Flux: interval +/- 5%
  return Math.round(ms * (0.95 + Math.random() * 0.1));
}

class Failure extends Error {
  constructor(
    readonly reason: string,
    message: string,
    readonly retryMs?: number,
    readonly stalled = false,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The first error in the cause chain that says the cluster or a store could not be reached. */
function transientCause(err: unknown): Error | undefined {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof FluxlessError && TRANSIENT_CODES.has(e.code)) return e;
  }
  return undefined;
}

function countActions(changes: ChangeEntry[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of changes) out[c.action] = (out[c.action] ?? 0) + 1;
  return out;
}

export async function reconcileKustomization(
  deps: ReconcileDeps,
  ref: { namespace: string; name: string },
): Promise<ReconcileOutcome> {
  const key = recordKey('Kustomization', ref.namespace, ref.name);
  const now = () => (deps.now ? deps.now() : new Date());
  const started = Date.now();
  // Milliseconds spent in each phase, logged with the outcome (where the time goes).
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string) => {
    const t = Date.now();
    phases[name] = t - mark;
    mark = t;
  };
  const logger = log.child({ kustomization: `${ref.namespace}/${ref.name}` });
  const rec = await readRecord(deps.state, key);
  const outcome: ReconcileOutcome = { ready: false, reason: '', message: '', changedDefinitions: [], removedDefinitions: [], changes: [] };
  if (!rec?.object) {
    outcome.reason = 'NotFound';
    outcome.message = `Kustomization ${ref.namespace}/${ref.name} is not defined`;
    return outcome;
  }
  if (rec.deleted) return finalizeKustomization(deps, ref);

  let spec: KustomizationSpec;
  try {
    spec = parseKustomization(rec.object);
  } catch (err) {
    // A spec error is terminal until the definition changes: Stalled.
    await writeStatus(deps, key, rec, { ready: false, reason: 'InvalidSpec', message: errorMessage(err), stalled: true }, now());
    return { ...outcome, reason: 'InvalidSpec', message: errorMessage(err) };
  }
  if (spec.suspend || rec.suspended) {
    logger.info('suspended: skipping');
    return { ...outcome, ready: isReady(rec), reason: 'Suspended', message: 'Kustomization is suspended' };
  }

  // Mark Reconciling while we work (Flux: Reconciling=True, Ready=Unknown "Reconciliation in progress").
  const requestedAt = rec.requestedAt;
  let revision: string | undefined;
  let opened: OpenedArtifact | undefined;
  let work: string | undefined;
  try {
    // 1. Source
    const srcKey = recordKey(spec.sourceRef.kind, spec.sourceRef.namespace, spec.sourceRef.name);
    const src = await readRecord(deps.state, srcKey);
    const artifact = src?.status.artifact;
    if (!src?.object || !artifact) {
      throw new Failure(
        'ArtifactFailed',
        `Source artifact not found, retrying in ${formatGoDuration(spec.retryIntervalMs)}`,
        spec.retryIntervalMs,
      );
    }
    revision = artifact.revision;

    // 2. dependsOn (registered first, so a dependency that becomes Ready wakes us up)
    for (const dep of spec.dependsOn) await registerDependent(deps.state, dep, ref);
    for (const dep of spec.dependsOn) {
      const d = await readRecord(deps.state, recordKey('Kustomization', dep.namespace, dep.name));
      const depName = `${dep.namespace}/${dep.name}`;
      if (!d?.object || d.deleted) throw new Failure('DependencyNotReady', `dependency '${depName}' not found`, DEPENDENCY_RETRY_MS);
      const ready = getCondition(d, 'Ready');
      const gen = Number(d.object.metadata.generation ?? 1);
      if (ready?.status !== 'True' || (d.status.observedGeneration ?? -1) !== gen) {
        throw new Failure('DependencyNotReady', `dependency '${depName}' is not ready`, DEPENDENCY_RETRY_MS);
      }
      const depSpec = (d.object.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } };
      const sameSource =
        depSpec.sourceRef?.kind === spec.sourceRef.kind &&
        depSpec.sourceRef?.name === spec.sourceRef.name &&
        (depSpec.sourceRef?.namespace ?? dep.namespace) === spec.sourceRef.namespace;
      if (sameSource && d.status.lastAppliedRevision !== revision) {
        throw new Failure('DependencyNotReady', `dependency '${depName}' revision is not up to date`, DEPENDENCY_RETRY_MS);
      }
    }

    phase('source');
    // 3. Fetch, verify, extract (once per artifact), then link what this build reads
    try {
      opened = await deps.artifacts.open(artifact);
    } catch (err) {
      throw new Failure('ArtifactFailed', `failed to fetch artifact ${artifact.revision}: ${errorMessage(err)}`, spec.retryIntervalMs, false, err);
    }
    work = await deps.artifacts.workDir('ks-');
    const root = path.join(work, 'src');
    await materializeBuildTree(opened.root, spec.path ?? '', spec.render.components ?? [], root);
    phase('fetch');
    // 4-7. Render
    let objects: KubeObject[];
    try {
      objects = await buildKustomization(deps.client, spec, root, deps.signal);
    } catch (err) {
      throw new Failure('BuildFailed', errorMessage(err), spec.retryIntervalMs);
    }

    phase('render');
    // Fleet recursion: Flux API objects become definitions, the rest go to the cluster.
    const fluxObjects = objects.filter(isFluxObject);
    const clusterObjects = objects.filter((o) => !isFluxObject(o));

    // 8. Apply (validation first: nothing is written when any object fails dry-run)
    const engine = new ApplyEngine(
      deps.client,
      {
        fieldManager: deps.fieldManager ?? 'fluxless',
        force: spec.force,
        concurrency: deps.concurrency,
        signal: deps.signal,
      },
      deps.mapper,
    );
    let changes: ChangeEntry[];
    try {
      const applied = new Set((rec.status.inventory?.entries ?? []).map((e) => e.id));
      changes = await engine.applyAll(clusterObjects, { likelyNew: (r) => !applied.has(inventoryId(r)) });
    } catch (err) {
      const msg = err instanceof ValidationFailedError ? err.message : errorMessage(err);
      throw new Failure('ReconciliationFailed', msg, spec.retryIntervalMs, false, err);
    }
    const defs = await syncDefinitions(deps, spec, fluxObjects, rec);
    outcome.changedDefinitions = defs.changed;
    changes = [...changes, ...defs.entries];
    outcome.changes = changes;

    // 9. Inventory (all objects, unchanged and skipped included)
    const newInventory: InventoryEntry[] = changes
      .filter((c) => c.action !== 'deleted')
      .map((c) => ({ id: inventoryId(c.ref), v: c.version }))
      .sort((a, b) => a.id.localeCompare(b.id));
    const oldInventory = rec.status.inventory?.entries ?? [];
    const newIds = new Set(newInventory.map((e) => e.id));
    const stale = oldInventory.filter((e) => !newIds.has(e.id));

    // 10. Prune
    let pruneFailures: string[] = [];
    if (spec.prune && stale.length) {
      const staleFlux = stale.filter((e) => parseInventoryId(e.id).group.endsWith('.toolkit.fluxcd.io'));
      const staleCluster = stale.filter((e) => !parseInventoryId(e.id).group.endsWith('.toolkit.fluxcd.io'));
      const { entries, failed } = await engine.deleteAll(
        staleCluster.map((e) => ({ ...parseInventoryId(e.id), version: e.v })),
        { ownerLabels: { [OWNER_NAME_LABEL]: spec.name, [OWNER_NAMESPACE_LABEL]: spec.namespace } },
      );
      outcome.removedDefinitions = await removeDefinitions(deps, spec, staleFlux.map((e) => parseInventoryId(e.id)));
      changes.push(...entries.filter((e) => e.action === 'deleted'));
      for (const r of outcome.removedDefinitions) {
        changes.push({ subject: fmtRef(r), ref: { group: 'kustomize.toolkit.fluxcd.io', ...r }, version: 'v1', action: 'deleted' });
      }
      // A delete that did not happen stays in the inventory for the next run.
      for (const f of failed) newInventory.push({ id: inventoryId(f.ref), v: f.version ?? '' });
      pruneFailures = failed.map((f) => f.reason);
    } else if (!spec.prune) {
      // Without prune, stale definitions still go: they are Fluxless's own state.
      const staleFlux = stale.filter((e) => parseInventoryId(e.id).group.endsWith('.toolkit.fluxcd.io'));
      outcome.removedDefinitions = await removeDefinitions(deps, spec, staleFlux.map((e) => parseInventoryId(e.id)));
    }
    newInventory.sort((a, b) => a.id.localeCompare(b.id));
    await saveInventory(deps, key, newInventory, revision);
    if (pruneFailures.length) throw new Failure('PruneFailed', pruneFailures.join('\n'), spec.retryIntervalMs);

    phase('apply');
    // 11. Health
    const checks: HealthRef[] = spec.wait
      ? changes
          .filter((c) => c.action !== 'deleted' && c.action !== 'skipped' && !c.ref.group.endsWith('.toolkit.fluxcd.io'))
          .map((c) => ({ group: c.ref.group, kind: c.ref.kind, namespace: c.ref.namespace || undefined, name: c.ref.name, apiVersion: c.ref.group ? `${c.ref.group}/${c.version}` : c.version }))
      : spec.healthChecks.map((h) => ({
          apiVersion: h.apiVersion,
          group: splitApiVersion(h.apiVersion).group,
          kind: h.kind,
          namespace: h.namespace ?? spec.namespace,
          name: h.name,
        }));
    if (checks.length) {
      const intervalMs = deps.healthIntervalMs ?? 5000;
      const result = await waitForHealth(checks, {
        timeoutMs: spec.timeoutMs,
        // Poll soon after the apply, then back off to Flux's interval.
        intervalMs,
        initialIntervalMs: Math.min(250, intervalMs),
        // The first look is the apply's own response; objects seen Current stay Current.
        initial: (r) => engine.observed({ group: r.group, kind: r.kind, namespace: r.namespace ?? '', name: r.name }),
        recheckCurrent: false,
        signal: deps.signal,
        get: async (r) => {
          try {
            const obj = await engine.getRef(
              { group: r.group, kind: r.kind, namespace: r.namespace ?? '', name: r.name },
              r.apiVersion ? splitApiVersion(r.apiVersion).version : undefined,
            );
            return (obj ?? null) as never;
          } catch (err) {
            if (isNotFound(err)) return null;
            throw err;
          }
        },
      });
      if (!result.ok) {
        throw new Failure('HealthCheckFailed', `health check failed after ${formatGoDuration(result.elapsedMs)}: ${result.message}`, spec.retryIntervalMs);
      }
    }

    phase('health');
    // 12. Success
    const changed = changes.filter((c) => c.action === 'created' || c.action === 'configured' || c.action === 'deleted');
    const message = `Applied revision: ${revision}`;
    const event: FluxEvent | undefined = changed.length
      ? {
          timestamp: now().toISOString(),
          severity: 'info',
          reason: 'ReconciliationSucceeded',
          message: changed.map((c) => `${c.subject} ${c.action}`).join('\n'),
          revision,
        }
      : undefined;
    await writeStatus(
      deps,
      key,
      rec,
      {
        ready: true,
        reason: 'ReconciliationSucceeded',
        message,
        revision,
        applied: true,
        requestedAt,
        event,
        history: { digest: artifact.digest, durationMs: Date.now() - started, counters: countActions(changes), revision },
        nextRunMs: jitter(spec.intervalMs),
        healthy: checks.length ? true : undefined,
      },
      now(),
    );
    phase('status');
    logger.info('reconciled', { revision, ...countActions(changes), durationMs: Date.now() - started, phases });
    return { ...outcome, ready: true, reason: 'ReconciliationSucceeded', message, revision, requeueAfterMs: jitter(spec.intervalMs) };
  } catch (err) {
    const f =
      err instanceof Failure
        ? err
        : new Failure('ReconciliationFailed', errorMessage(err), spec.retryIntervalMs);
    const fresh = (await readRecord(deps.state, key)) ?? rec;
    await writeStatus(
      deps,
      key,
      fresh,
      {
        ready: false,
        reason: f.reason,
        message: f.message,
        revision,
        requestedAt,
        event: { timestamp: now().toISOString(), severity: 'error', reason: f.reason, message: f.message, revision },
        nextRunMs: f.retryMs,
        healthy: f.reason === 'HealthCheckFailed' ? false : undefined,
        history: revision ? { digest: (await readRecord(deps.state, recordKey(spec.sourceRef.kind, spec.sourceRef.namespace, spec.sourceRef.name)))?.status.artifact?.digest ?? '', durationMs: Date.now() - started, counters: countActions(outcome.changes), revision, failed: true } : undefined,
      },
      now(),
    );
    logger.warn('reconcile failed', { reason: f.reason, error: f.message, durationMs: Date.now() - started });
    const transientError = transientCause(err);
    return { ...outcome, ready: false, reason: f.reason, message: f.message, revision, requeueAfterMs: f.retryMs, transientError };
  } finally {
    opened?.release();
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/**
 * Renders a Kustomization from an extracted artifact (or any local directory): build,
 * substitute, owner labels, then commonMetadata (never substituted), in Flux's order.
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

async function substitutionVars(client: KubeClient, spec: KustomizationSpec): Promise<Record<string, string>> {
  const sources: Array<{ data: Record<string, string> }> = [];
  for (const s of spec.postBuild?.substituteFrom ?? []) {
    const p = `/api/v1/namespaces/${encodeURIComponent(spec.namespace)}/${s.kind === 'Secret' ? 'secrets' : 'configmaps'}/${encodeURIComponent(s.name)}`;
    try {
      const obj = await client.request<{ data?: Record<string, string> }>('GET', p);
      const data = obj.data ?? {};
      sources.push({
        data:
          s.kind === 'Secret'
            ? Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]))
            : data,
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

/** Stores Flux objects from the build as definitions owned by this Kustomization. */
async function syncDefinitions(
  deps: ReconcileDeps,
  spec: KustomizationSpec,
  objects: KubeObject[],
  _rec: ObjectRecord,
): Promise<{ changed: Array<{ kind: string; namespace: string; name: string }>; entries: ChangeEntry[] }> {
  const changed: Array<{ kind: string; namespace: string; name: string }> = [];
  const entries: ChangeEntry[] = [];
  for (const obj of objects) {
    const ns = obj.metadata.namespace ?? spec.render.targetNamespace ?? spec.namespace;
    const k = recordKey(obj.kind, ns, obj.metadata.name);
    const desired: KubeObject = structuredClone({ ...obj, metadata: { ...obj.metadata, namespace: ns } });
    let action: ChangeEntry['action'] = 'unchanged';
    await deps.state.update<ObjectRecord>(k, (cur) => {
      const prev = cur?.object;
      const sameSpec = prev && JSON.stringify(prev.spec) === JSON.stringify(desired.spec);
      const sameMeta = prev && JSON.stringify(prev.metadata.labels ?? {}) === JSON.stringify(desired.metadata.labels ?? {}) && JSON.stringify(prev.metadata.annotations ?? {}) === JSON.stringify(desired.metadata.annotations ?? {});
      if (cur && !cur.deleted && sameSpec && sameMeta) {
        action = 'unchanged';
        return undefined;
      }
      const prevGen = Number(prev?.metadata.generation ?? 0);
      desired.metadata.generation = sameSpec && !cur?.deleted ? prevGen || 1 : prevGen + 1;
      action = cur?.object && !cur.deleted ? 'configured' : 'created';
      return {
        ...(cur ?? { status: {} }),
        object: desired,
        deleted: false,
        origin: { by: 'Kustomization', namespace: spec.namespace, name: spec.name },
      };
    });
    if (action !== 'unchanged') changed.push(k);
    entries.push({
      subject: fmtRef({ kind: obj.kind, namespace: ns, name: obj.metadata.name }),
      ref: { group: splitApiVersion(obj.apiVersion).group, kind: obj.kind, namespace: ns, name: obj.metadata.name },
      version: splitApiVersion(obj.apiVersion).version,
      action,
    });
  }
  return { changed, entries };
}

/** Marks definitions this Kustomization no longer produces as deleted (to be finalized). */
async function removeDefinitions(
  deps: ReconcileDeps,
  spec: KustomizationSpec,
  refs: ObjectRef[],
): Promise<Array<{ kind: string; namespace: string; name: string }>> {
  const removed: Array<{ kind: string; namespace: string; name: string }> = [];
  for (const r of refs) {
    const k = recordKey(r.kind, r.namespace, r.name);
    const res = await deps.state.update<ObjectRecord>(k, (cur) => {
      if (!cur || cur.origin?.by !== 'Kustomization' || cur.origin.name !== spec.name || cur.origin.namespace !== spec.namespace) return undefined;
      return { ...cur, deleted: true };
    });
    if (res?.value.deleted) removed.push(k);
  }
  return removed;
}

/**
 * A Kustomization whose definition was removed: prune what it applied (when prune is on and
 * deletionPolicy allows), remove the definitions it created, then drop its record.
 */
export async function finalizeKustomization(deps: ReconcileDeps, ref: { namespace: string; name: string }): Promise<ReconcileOutcome> {
  const key = recordKey('Kustomization', ref.namespace, ref.name);
  const rec = await readRecord(deps.state, key);
  const outcome: ReconcileOutcome = { ready: false, reason: 'Finalized', message: '', changedDefinitions: [], removedDefinitions: [], changes: [] };
  if (!rec) return outcome;
  const spec = rec.object ? safeParse(rec.object) : undefined;
  const inventory = rec.status.inventory?.entries ?? [];
  const policy = spec?.deletionPolicy ?? 'MirrorPrune';
  const shouldDelete = policy === 'Delete' || policy === 'WaitForTermination' || (policy === 'MirrorPrune' && spec?.prune);
  const engine = new ApplyEngine(deps.client, { fieldManager: deps.fieldManager ?? 'fluxless' });
  const clusterRefs = inventory.map((e) => ({ ...parseInventoryId(e.id), version: e.v })).filter((r) => !r.group.endsWith('.toolkit.fluxcd.io'));
  const fluxRefs = inventory.map((e) => parseInventoryId(e.id)).filter((r) => r.group.endsWith('.toolkit.fluxcd.io'));
  if (shouldDelete && clusterRefs.length && spec && !spec.suspend) {
    const { entries, failed } = await engine.deleteAll(clusterRefs, {
      ownerLabels: { [OWNER_NAME_LABEL]: ref.name, [OWNER_NAMESPACE_LABEL]: ref.namespace },
    });
    outcome.changes = entries;
    if (failed.length) {
      outcome.reason = 'PruneFailed';
      outcome.message = failed.map((f) => f.reason).join('\n');
      outcome.requeueAfterMs = spec.retryIntervalMs;
      return outcome;
    }
  }
  if (spec) outcome.removedDefinitions = await removeDefinitions(deps, spec, fluxRefs);
  await deps.state.delete(key);
  await dropDependentsIndex(deps.state, ref);
  outcome.message = `Kustomization ${ref.namespace}/${ref.name} deleted`;
  return outcome;
}

function safeParse(obj: KubeObject): KustomizationSpec | undefined {
  try {
    return parseKustomization(obj);
  } catch {
    return undefined;
  }
}

async function saveInventory(deps: ReconcileDeps, key: ReturnType<typeof recordKey>, entries: InventoryEntry[], revision: string | undefined): Promise<void> {
  await deps.state.update<ObjectRecord>(key, (cur) => {
    if (!cur) return undefined;
    return { ...cur, status: { ...cur.status, inventory: { entries }, lastAttemptedRevision: revision } };
  });
}

interface StatusUpdate {
  ready: boolean;
  reason: string;
  message: string;
  stalled?: boolean;
  revision?: string;
  applied?: boolean;
  requestedAt?: string;
  event?: FluxEvent;
  nextRunMs?: number;
  healthy?: boolean;
  history?: { digest: string; durationMs: number; counters: Record<string, number>; revision: string; failed?: boolean };
}


async function writeStatus(deps: ReconcileDeps, key: ReturnType<typeof recordKey>, _rec: ObjectRecord, u: StatusUpdate, at: Date): Promise<void> {
  const now = at.toISOString();
  await deps.state.update<ObjectRecord>(key, (cur) => {
    if (!cur) return undefined;
    const gen = Number(cur.object?.metadata.generation ?? 1);
    let conds = setCondition(cur.status.conditions, { type: 'Ready', status: u.ready ? 'True' : 'False', reason: u.reason, message: u.message, observedGeneration: gen }, now);
    conds = removeCondition(conds, 'Reconciling');
    conds = u.stalled
      ? setCondition(conds, { type: 'Stalled', status: 'True', reason: u.reason, message: u.message, observedGeneration: gen }, now)
      : removeCondition(conds, 'Stalled');
    if (u.healthy !== undefined) {
      conds = setCondition(
        conds,
        { type: 'Healthy', status: u.healthy ? 'True' : 'False', reason: u.healthy ? 'Succeeded' : 'HealthCheckFailed', message: u.healthy ? 'Health check passed' : u.message, observedGeneration: gen },
        now,
      );
    }
    const status: ObjectStatus = {
      ...cur.status,
      conditions: conds,
      observedGeneration: gen,
      lastReconciledAt: now,
      nextRunAt: u.nextRunMs !== undefined ? new Date(at.getTime() + u.nextRunMs).toISOString() : cur.status.nextRunAt,
    };
    if (u.revision) status.lastAttemptedRevision = u.revision;
    if (u.applied && u.revision) status.lastAppliedRevision = u.revision;
    if (u.requestedAt) status.lastHandledReconcileAt = u.requestedAt;
    if (u.history) {
      const hist = [...(status.history ?? [])];
      const statusText = u.history.failed ? u.reason : 'ReconciliationSucceeded';
      const i = hist.findIndex((h) => h.digest === u.history!.digest && h.lastReconciledStatus === statusText);
      const durationText = formatGoDuration(u.history.durationMs);
      if (i >= 0) {
        const h = hist.splice(i, 1)[0];
        hist.unshift({ ...h, lastReconciled: now, lastReconciledDuration: durationText, totalReconciliations: h.totalReconciliations + 1 });
      } else {
        hist.unshift({
          digest: u.history.digest,
          firstReconciled: now,
          lastReconciled: now,
          lastReconciledDuration: durationText,
          lastReconciledStatus: statusText,
          totalReconciliations: 1,
          metadata: { revision: u.history.revision, ...Object.fromEntries(Object.entries(u.history.counters).map(([k, v]) => [k, String(v)])) },
        });
      }
      status.history = hist.slice(0, MAX_HISTORY);
    }
    const events = u.event ? [...(cur.events ?? []), u.event].slice(-MAX_EVENTS) : cur.events;
    return { ...cur, status, events };
  });
}
