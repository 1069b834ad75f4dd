/**
 * The HelmRepository reconciler (`source.toolkit.fluxcd.io/v1`), as source-controller:
 *
 * - type `default`: GET `<url>/index.yaml` with the credentials of `secretRef` /
 *   `certSecretRef`; the revision is the sha256 of the downloaded bytes, so an unchanged
 *   index is not parsed or stored again; a new one is stored as the validated index in
 *   JSON (its own digest), the last 2 kept; then the HelmCharts that use it are woken
 *   (users index, no scan).
 * - type `oci`: a data holder only: its status is cleared (no artifact, no Ready
 *   condition); HelmCharts read its URL and credentials and pull from the registry.
 */
import { ArtifactDigestMismatch } from '../../artifacts/digest.js';
import { fetchRepositoryIndex, humanSize, loadRepositoryAccess, type SecretLookup } from '../../helm/repository.js';
import { RepositoryError, SpecError } from '../../helm/errors.js';
import { parseHelmRepository, type HelmRepository } from '../../helm/repository-spec.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { helmRepositoryDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { sourceUsers } from '../../reconcile/source-users.js';
import { writeStatus } from '../../reconcile/status.js';
import { isReady, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { sourceFailure, sourceSuccess } from './status.js';

/** Artifacts kept per HelmRepository. */
const KEEP_ARTIFACTS = 2;
const DEFAULT_INTERVAL_MS = 60_000;

/** Reads a Secret for a HelmRepository: undefined when it does not exist, other errors thrown. */
export function secretLookup(svc: Pick<ReconcileServices, 'secrets'>): SecretLookup {
  return async (ns, name) => {
    try {
      return await svc.secrets.get(ns, name);
    } catch (err) {
      if (err instanceof FluxlessError && err.code === 'NotFound') return undefined;
      throw err;
    }
  };
}

/** True when the stored artifact can be read and matches its digest. */
async function intact(svc: ReconcileServices, a: ArtifactInfo): Promise<boolean> {
  try {
    await svc.artifacts.get(a.key, a.digest);
    return true;
  } catch (err) {
    if (err instanceof ArtifactDigestMismatch || (err instanceof FluxlessError && err.code === 'NotFound')) return false;
    throw err;
  }
}

/** A `type: oci` HelmRepository: Flux clears its status; nothing is fetched. */
async function reconcileOciType(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const gen = Number(req.record.object?.metadata.generation ?? 1);
  const at = svc.now().toISOString();
  await svc.state.update<ObjectRecord>(req.key, (cur) =>
    cur
      ? {
          ...cur,
          status: {
            observedGeneration: gen,
            lastReconciledAt: at,
            ...(req.record.requestedAt ? { lastHandledReconcileAt: req.record.requestedAt } : {}),
          },
        }
      : undefined,
  );
  return { ready: true, reason: 'Succeeded', message: 'HelmRepository of type oci: a data holder for the HelmCharts that pull from it', wake: [] };
}

/** Reconciles one HelmRepository. */
export async function reconcileHelmRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, signal } = req;
  const handledRequest = rec.requestedAt;
  let repo: HelmRepository;
  try {
    repo = parseHelmRepository(rec.object, { defaultNamespace: key.namespace });
  } catch (err) {
    const reason = err instanceof SpecError ? err.reason : 'InvalidSpec';
    const message = errorMessage(err);
    await writeStatus(svc.state, key, sourceFailure(reason, message, { stalled: true, condition: reason === 'URLInvalid' ? 'FetchFailed' : undefined, handledRequest, nextRunMs: jitter(DEFAULT_INTERVAL_MS) }), svc.now());
    req.log.warn('invalid HelmRepository', { reason, error: message });
    return { ready: false, reason, message, wake: [] };
  }
  const spec = repo.spec;
  if (spec.suspend || rec.suspended) return { ready: isReady(rec), reason: 'Suspended', message: 'HelmRepository is suspended', wake: [] };
  if (spec.type === 'oci') return reconcileOciType(svc, req);
  const nextRunMs = jitter(spec.intervalMs);

  let dropped = false;
  try {
    const access = await loadRepositoryAccess(repo, secretLookup(svc));
    let cur = rec.status.artifact;
    if (cur && !(await intact(svc, cur))) {
      req.log.warn('stored index artifact is missing or corrupt: fetching it again', { revision: cur.revision });
      dropped = true;
      cur = undefined;
    }
    const res = await fetchRepositoryIndex(access, { lastRevision: cur?.revision, signal });
    const readyMessage = `stored artifact: revision '${res.revision}'`;
    const eventMessage = `stored fetched index of size ${humanSize(res.unchanged ? (cur?.size ?? res.size) : res.artifact.length)} from '${spec.normalizedUrl}'`;
    if (res.unchanged && cur) {
      await writeStatus(svc.state, key, sourceSuccess(rec, { reason: 'Succeeded', message: readyMessage, artifact: cur, event: { reason: 'NewArtifact', message: eventMessage }, handledRequest, nextRunMs }), svc.now());
      return { ready: true, reason: 'Succeeded', message: readyMessage, revision: res.revision, wake: [] };
    }
    if (res.unchanged) throw new Error('the index was reported unchanged without a stored artifact');
    let stored;
    try {
      stored = await svc.artifacts.put(key, res.revision, res.artifact);
    } catch (err) {
      throw new RepositoryError('Failed', `unable to save artifact to storage: ${errorMessage(err)}`, { cause: err });
    }
    await svc.artifacts.gc(key, KEEP_ARTIFACTS, { protect: [stored.key] }).catch((err: unknown) => req.log.warn('artifact gc failed', { error: errorMessage(err) }));
    const artifact: ArtifactInfo = {
      revision: res.revision,
      digest: stored.digest,
      key: stored.key,
      size: stored.size,
      ...(stored.url ? { url: stored.url } : {}),
      lastUpdateTime: stored.lastUpdateTime,
    };
    if (res.dropped.length) req.log.info('index entries dropped by validation', { dropped: res.dropped.length });
    await writeStatus(
      svc.state,
      key,
      sourceSuccess(rec, { reason: 'Succeeded', message: readyMessage, artifact, stored: { url: stored.url }, event: { reason: 'NewArtifact', message: eventMessage }, handledRequest, nextRunMs }),
      svc.now(),
    );
    req.log.info('new index artifact', { revision: res.revision, size: stored.size });
    return { ready: true, reason: 'Succeeded', message: readyMessage, revision: res.revision, wake: await sourceUsers(svc, key, res.revision) };
  } catch (err) {
    const reason = err instanceof RepositoryError ? err.reason : 'Failed';
    const message = errorMessage(err);
    const storage = /unable to save artifact to storage/.test(message);
    const update = sourceFailure(reason, message, { stalled: false, condition: storage ? 'StorageOperationFailed' : 'FetchFailed', handledRequest, nextRunMs });
    if (dropped) {
      update.fields = { ...update.fields, artifact: undefined };
      update.removeConditions = [...(update.removeConditions ?? []), 'ArtifactInStorage'];
    }
    await writeStatus(svc.state, key, update, svc.now());
    req.log.warn('source failed', { reason, error: message });
    return { ready: false, reason, message, wake: [], transientError: transientCause(err) };
  }
}

/** A HelmRepository removed from Git: its artifacts, record and users index go. */
export async function finalizeHelmRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const n = await svc.artifacts.deleteAll(req.key);
  await svc.state.delete(req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  return { ready: false, reason: 'Finalized', message: `HelmRepository deleted, ${n} artifact(s) removed`, wake: [] };
}

/** The HelmRepository kind. */
export const helmRepositoryKind: KindReconciler = {
  ...helmRepositoryDescriptor,
  reconcile: reconcileHelmRepository,
  finalize: finalizeHelmRepository,
  summary: (rec) => ({ revision: rec.status.artifact?.revision ?? '' }),
  validate: (obj) => void parseHelmRepository(obj, { defaultNamespace: obj.metadata.namespace ?? 'default' }),
};
