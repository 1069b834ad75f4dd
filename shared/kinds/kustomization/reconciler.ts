/**
 * The Kustomization reconciler (`kustomize.toolkit.fluxcd.io/v1`), laid out like
 * kustomize-controller's reconcile(): spec -> suspend -> source -> dependencies -> target
 * (remote cluster, impersonation) -> build (SOPS decryption) -> apply (validation first) ->
 * definitions (fleet recursion) -> inventory + prune -> health -> status, then wake the
 * dependents and the definitions it changed. Apply, prune and health run on the target;
 * the status stays in the store, and records the target cluster (`status.targetCluster`)
 * when it is a remote one. A remote cluster that does not answer fails only its own
 * Kustomizations (Ready=False naming it, retried at the retry interval).
 */
import type { ChangeEntry } from '../../apply/engine.js';
import { stableJson } from '../../apply/hash.js';
import { parseInventoryId, type ObjectKey } from '../../kube/object.js';
import { ANNOTATION_REVISION } from '../../oci/media-types.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { kustomizationDescriptor } from './descriptor.js';
import { ReconcileFailure, transientCause } from '../../reconcile/failure.js';
import { liveMembers } from '../../reconcile/reverse-index.js';
import { writeStatus } from '../../reconcile/status.js';
import { getCondition, isReady, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { applyObjects, countActions, engineFor, inventoryOf, stampsOf } from './apply.js';
import { buildFromArtifact } from './build.js';
import { withoutFluxComponents } from './components.js';
import { assertKnownKinds, isFluxObject, syncDefinitions } from './definitions.js';
import { checkDependencies } from './dependencies.js';
import { finalizeKustomization } from './finalize.js';
import { checkHealth, healthChecksOf } from './health.js';
import { reconcileChangedDefinitions } from './health-definitions.js';
import { prune } from './prune.js';
import { sourceArtifact } from './source.js';
import { recordWatchedConfigs } from './watch.js';
import { FEATURE_GATE_DISABLED, INVALID_CEL, parseKustomization, type KustomizationSpec } from './spec.js';
import { targetOf } from './target.js';
import { authorizeDefinitions } from './authorize.js';
import { unreachableCluster, type Target } from '../../kube/targets.js';

/** How long the health checks may run before the inventory is written ahead of the status. */
export const INVENTORY_EARLY_WRITE_MS = 2_000;

/** kustomize-controller's prefix for errors that need a spec change (TerminalErrorMessage). */
export const TERMINAL_ERROR_MESSAGE = 'Reconciliation failed terminally due to configuration error';

/** Reconciles one Kustomization from its record. */
export async function reconcileKustomization(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, log: logger, signal } = req;
  const started = Date.now();
  const phases: Record<string, number> = {};
  let mark = started;
  const phase = (name: string) => {
    const t = Date.now();
    phases[name] = t - mark;
    mark = t;
  };

  // Spec: an invalid definition cannot succeed until it changes (Stalled).
  let spec: KustomizationSpec;
  try {
    spec = parseKustomization(rec.object!);
  } catch (err) {
    // A bad CEL expression is Flux's terminal InvalidCELExpression; any other bad field is InvalidSpec.
    const cel = err instanceof FluxlessError && err.code === INVALID_CEL;
    const gate = err instanceof FluxlessError && err.code === FEATURE_GATE_DISABLED;
    const reason = cel ? INVALID_CEL : gate ? FEATURE_GATE_DISABLED : 'InvalidSpec';
    const message = cel ? `${TERMINAL_ERROR_MESSAGE}: ${errorMessage(err)}` : errorMessage(err);
    await writeStatus(svc.state, key, { ready: false, reason, message, stalled: true, handledRequest: rec.requestedAt, event: { severity: 'error', reason, message } }, svc.now());
    return { ready: false, reason, message, wake: [] };
  }
  if (spec.suspend || rec.suspended) {
    logger.info('suspended: skipping');
    return { ready: isReady(rec), reason: 'Suspended', message: 'Kustomization is suspended', wake: [] };
  }

  const requestedAt = rec.requestedAt;
  let revision: string | undefined;
  // Flux's history digest: the checksum of what the build produced (set once it succeeded).
  let digest = '';
  let originRevision: string | undefined;
  let changes: ChangeEntry[] = [];
  const wake: Wake[] = [];
  let release: (() => Promise<void>) | undefined;
  let target: Target | undefined;
  /** What this reconcile applied (set once the apply and prune are done), for the status write. */
  let recorded: Recorded | undefined;
  let ahead: { settle(): Promise<void> } | undefined;
  try {
    const artifact = await sourceArtifact(svc, spec, key);
    revision = artifact.revision;
    originRevision = artifact.metadata?.[ANNOTATION_REVISION] || undefined;
    await checkDependencies(svc, spec, key, revision, rec);
    target = await targetOf(svc, spec, rec);
    phase('source');

    const built = await buildFromArtifact(svc, spec, artifact, signal);
    release = built.release;
    digest = built.digest;
    if (spec.postBuild?.substituteFrom.length) await recordWatchedConfigs(svc, spec.namespace, spec.name, built.configs);
    phase('render');

    const engine = engineFor(svc, spec, signal, target);
    // Flux objects become definitions in the store, except for a remote cluster: there they
    // are objects like any other, as Flux applies them to the cluster of spec.kubeConfig.
    const fluxInCluster = target.remote;
    const fluxObjects = fluxInCluster ? [] : built.objects.filter(isFluxObject);
    // A Flux kind we do not know (a typo such as Kustomisation) fails the revision before
    // anything of it is applied, as Flux's apply would ("no matches for kind").
    assertKnownKinds(svc, fluxObjects);
    await authorizeDefinitions(target, spec, fluxObjects);
    const cluster = withoutFluxComponents(fluxInCluster ? built.objects : built.objects.filter((o) => !isFluxObject(o)), svc.settings.applyFluxComponents);
    if (cluster.skipped.length) logger.info("Flux's own components are not applied (Fluxless replaces Flux's controllers)", { skipped: cluster.skipped.length });
    changes = await applyObjects(engine, spec, cluster.objects, rec);
    const defs = await syncDefinitions(svc, spec, fluxObjects);
    wake.push(...defs.changed);
    changes = [...changes, ...defs.entries];

    // Inventory, then prune what the previous revision had and this one does not.
    const inventory = inventoryOf(changes);
    const ids = new Set(inventory.map((e) => e.id));
    const stale = (rec.status.inventory?.entries ?? []).filter((e) => !ids.has(e.id));
    const pruned = await prune(svc, engine, spec, stale, { cluster: spec.prune, fluxInCluster });
    wake.push(...pruned.removedDefinitions);
    changes.push(...pruned.deleted);
    inventory.push(...pruned.kept);
    inventory.sort((a, b) => a.id.localeCompare(b.id));
    // The inventory and stamps are written with the status at the end (one write less per
    // reconcile), or first, if the health checks take longer than INVENTORY_EARLY_WRITE_MS,
    // so that a process lost during a long wait still knows what it applied.
    const applied = stampsOf(changes);
    recorded = { applied, inventory };
    ahead = inventoryWriteAhead(svc, key, revision, recorded, logger);
    if (pruned.failures.length) throw new ReconcileFailure('PruneFailed', pruned.failures.join('\n'), { retryMs: spec.retryIntervalMs });
    // The other definitions are synced; a corrupt record is named with what to do, and retried.
    if (defs.corrupt.length) throw new ReconcileFailure('StateCorrupt', defs.corrupt.join('\n'), { retryMs: spec.retryIntervalMs });
    phase('apply');

    const checks = healthChecksOf(spec, changes);
    // Definitions this revision changed and a check waits for are reconciled here first.
    const inline = await reconcileChangedDefinitions(svc, key, checks, defs.changed, { fluxInCluster, log: logger, signal });
    if (defs.changed.length) wake.splice(wake.indexOf(defs.changed[0]!), defs.changed.length, ...inline.wake);
    await checkHealth(svc, engine, spec, checks, signal, fluxInCluster);
    phase('health');

    const changed = changes.filter((c) => c.action === 'created' || c.action === 'configured' || c.action === 'deleted');
    const message = `Applied revision: ${revision}`;
    await ahead?.settle();
    await writeStatus(
      svc.state,
      key,
      {
        ready: true,
        reason: 'ReconciliationSucceeded',
        message,
        handledRequest: requestedAt,
        // Flux copies the source's origin revision (OCI `org.opencontainers.image.revision`); absent, it is cleared.
        fields: { lastAppliedRevision: revision, lastAttemptedRevision: revision, lastAppliedOriginRevision: originRevision, inventory: { entries: inventory }, ...clusterField(rec, target) },
        applied,
        conditions: checks.length ? [{ type: 'Healthy', status: 'True', reason: 'Succeeded', message: 'Health check passed' }] : undefined,
        removeConditions: checks.length ? undefined : ['Healthy'],
        event: changed.length
          ? { severity: 'info', reason: 'ReconciliationSucceeded', message: changed.map((c) => `${c.subject} ${c.action}`).join('\n'), revision }
          : undefined,
        history: { digest, durationMs: Date.now() - started, status: 'ReconciliationSucceeded', metadata: historyMetadata(revision, originRevision, changes) },
        nextRunMs: jitter(spec.intervalMs),
      },
      svc.now(),
    );
    phase('status');
    wake.push(...(await dependentsToWake(svc, key, spec, revision)));
    logger.info('reconciled', { revision, ...countActions(changes), durationMs: Date.now() - started, phases });
    return { ready: true, reason: 'ReconciliationSucceeded', message, revision, wake };
  } catch (err) {
    // A remote cluster that does not answer is this object's failure, not the worker's: its
    // status names the cluster and it retries at its retry interval (never dead-lettered).
    const down = target?.remote ? unreachableCluster(err) : undefined;
    const f = down
      ? new ReconcileFailure('ReconciliationFailed', down.message, { retryMs: spec.retryIntervalMs, cause: err })
      : err instanceof ReconcileFailure
        ? err
        : new ReconcileFailure('ReconciliationFailed', errorMessage(err), { retryMs: spec.retryIntervalMs, cause: err });
    await ahead?.settle();
    const fields = { ...(revision ? { lastAttemptedRevision: revision } : {}), ...(recorded ? { inventory: { entries: recorded.inventory } } : {}), ...clusterField(rec, target) };
    await writeStatus(
      svc.state,
      key,
      {
        ready: false,
        reason: f.reason,
        message: f.message,
        stalled: f.stalled,
        handledRequest: requestedAt,
        fields: Object.keys(fields).length ? fields : undefined,
        conditions: f.reason === 'HealthCheckFailed' ? [{ type: 'Healthy', status: 'False', reason: 'HealthCheckFailed', message: f.message }] : undefined,
        event: { severity: 'error', reason: f.reason, message: f.message, revision },
        // As Flux: failures before the build (source, dependencies, build) add no history entry.
        history: revision && digest ? { digest, durationMs: Date.now() - started, status: f.reason, metadata: historyMetadata(revision, originRevision, changes) } : undefined,
        // Stalled (AccessDenied): nothing is scheduled; a new definition reconciles it.
        nextRunMs: f.stalled ? undefined : (f.retryMs ?? spec.retryIntervalMs),
        applied: recorded?.applied,
      },
      svc.now(),
    );
    logger.warn('reconcile failed', { reason: f.reason, error: f.message, durationMs: Date.now() - started, ...(target?.remote ? { cluster: target.cluster.name } : {}) });
    return { ready: false, reason: f.reason, message: f.message, revision, wake, transientError: down ? undefined : transientCause(err) };
  } finally {
    await ahead?.settle();
    target?.release();
    await release?.();
  }
}

/** What a reconcile applied: the stamps of the applied objects and the new inventory. */
interface Recorded {
  applied: ReturnType<typeof stampsOf>;
  inventory: ReturnType<typeof inventoryOf>;
}

/**
 * Writes the inventory and stamps ahead of the status if the health checks outlast
 * INVENTORY_EARLY_WRITE_MS (a failed write is logged: the status write carries them too).
 * `settle()` cancels it, or waits for it once started, so it never races the status write.
 */
function inventoryWriteAhead(svc: ReconcileServices, key: ObjectKey, revision: string, r: Recorded, logger: ReconcileRequest['log']): { settle(): Promise<void> } {
  let written: Promise<void> | undefined;
  const timer = setTimeout(() => {
    written = svc.state
      .update<ObjectRecord>(key, (cur) => {
        if (!cur) return undefined;
        const same =
          cur.status.lastAttemptedRevision === revision &&
          stableJson(cur.applied ?? {}) === stableJson(r.applied) &&
          stableJson(cur.status.inventory?.entries ?? []) === stableJson(r.inventory);
        return same ? undefined : { ...cur, applied: r.applied, status: { ...cur.status, inventory: { entries: r.inventory }, lastAttemptedRevision: revision } };
      })
      .then(
        () => undefined,
        (err: unknown) => logger.warn('could not record the inventory before the health checks ended; the status write records it', { error: errorMessage(err) }),
      );
  }, INVENTORY_EARLY_WRITE_MS);
  return {
    settle: async () => {
      clearTimeout(timer);
      await written;
    },
  };
}

/**
 * `status.targetCluster` for a remote target (name and server, for `fluxless get`); for the
 * management cluster the field is removed if an earlier reconcile set it, else left out.
 */
function clusterField(rec: ObjectRecord, target: Target | undefined): Record<string, unknown> {
  if (!target) return {};
  if (target.remote) return { targetCluster: { name: target.cluster.name, server: target.cluster.server } };
  return rec.status.targetCluster !== undefined ? { targetCluster: undefined } : {};
}

/** History metadata: Flux's `revision` (and `originRevision`), plus Fluxless's per-action counts. */
function historyMetadata(revision: string, originRevision: string | undefined, changes: ChangeEntry[]): Record<string, string> {
  return {
    revision,
    ...(originRevision ? { originRevision } : {}),
    ...Object.fromEntries(Object.entries(countActions(changes)).map(([k, v]) => [k, String(v)])),
  };
}

/**
 * Kustomizations waiting on `self` (dependsOn) that this reconcile may unblock: those not
 * Ready, and those on the same source that have not applied `revision` yet (Flux's
 * dependency revision check only compares revisions of one source). A Ready dependent on
 * another source has nothing to redo, so it is not woken.
 */
async function dependentsToWake(svc: ReconcileServices, self: ObjectKey, spec: KustomizationSpec, revision: string): Promise<Wake[]> {
  const live = await liveMembers(svc.state, 'DependentsIndex', self, (rec, m) => {
    const deps = ((rec.object?.spec ?? {}) as { dependsOn?: Array<{ name: string; namespace?: string }> }).dependsOn ?? [];
    return deps.some((d) => d.name === self.name && (d.namespace ?? m.namespace) === self.namespace);
  });
  const src = spec.sourceRef;
  return live
    .filter(({ record }) => {
      if (!isReady(record)) return true;
      const sr = ((record.object?.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } }).sourceRef;
      const sameSource = sr?.kind === src.kind && sr.name === src.name && (sr.namespace ?? record.object?.metadata.namespace) === src.namespace;
      return sameSource && record.status.lastAppliedRevision !== revision;
    })
    // Keyed by the dependent's last Ready transition too: a dependency Ready again at the same
    // revision (after a failure, on a changed cluster) wakes its dependents again.
    .map(({ key, record }) => ({ key, reason: 'dependency', dedupKey: `dep-${revision}-${getCondition(record, 'Ready')?.lastTransitionTime ?? ''}` }));
}

/** The Kustomization kind. */
export const kustomizationKind: KindReconciler = {
  ...kustomizationDescriptor,
  reconcile: reconcileKustomization,
  finalize: finalizeKustomization,
  summary: (rec) => ({ revision: rec.status.lastAppliedRevision ?? '' }),
  children: (rec) =>
    (rec.status.inventory?.entries ?? []).map((e) => {
      const r = parseInventoryId(e.id);
      return { kind: r.kind, namespace: r.namespace, name: r.name, group: r.group };
    }),
  validate: (obj) => void parseKustomization(obj),
  sourceOf: (rec) => {
    const sr = ((rec.object?.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } }).sourceRef;
    return sr?.kind && sr.name ? { kind: sr.kind, namespace: sr.namespace ?? rec.object!.metadata.namespace ?? 'default', name: sr.name } : undefined;
  },
};
