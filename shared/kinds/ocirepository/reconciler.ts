/**
 * The OCIRepository reconciler (`source.toolkit.fluxcd.io/v1`), as source-controller:
 * resolve the ref against the registry (one HEAD for an unchanged tag) with the last
 * revision, ignore rules and layer selector from the status, so nothing is pulled when
 * they are unchanged and the stored artifact is intact; otherwise pull the manifest and
 * the selected layer (digest-verified), store the artifact (keeping the last 2), record
 * it in the status with the manifest annotations, and wake the objects that use this
 * source (through the users index, no scan).
 */
import { ArtifactDigestMismatch } from '../../artifacts/digest.js';
import {
  OciError,
  OciSpecError,
  RegistryUnreachableError,
  fetchOciRepository,
  parseOciRepository,
  type OciFetchResult,
  type OciLayerSelector,
  type OciRepository,
} from '../../oci/index.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { ociRepositoryDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { sourceUsers } from '../../reconcile/source-users.js';
import { recordEvent, writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { isReady, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { ociAuthFor } from './credentials.js';
import { failureCondition, failureStatus, successStatus } from './status.js';
import { unverifiedCondition, verifyHook, withVerification } from './verification.js';

/** Used when the spec is too broken to say its interval. */
const DEFAULT_INTERVAL_MS = 60_000;
/** Artifacts kept per OCIRepository (Flux keeps the current one and the previous one). */
const KEEP_ARTIFACTS = 2;

/** Why the stored artifact cannot be used (missing, or corrupt); undefined when it is intact. Other store errors are thrown. */
async function artifactProblem(svc: ReconcileServices, a: ArtifactInfo): Promise<{ corrupt: boolean; message: string } | undefined> {
  try {
    await svc.artifacts.get(a.key, a.digest);
    return undefined;
  } catch (err) {
    if (err instanceof ArtifactDigestMismatch) return { corrupt: true, message: errorMessage(err) };
    if (err instanceof FluxlessError && err.code === 'NotFound') return { corrupt: false, message: errorMessage(err) };
    throw err; // the store itself failed: say so, do not rebuild on a guess
  }
}

/** The error's Flux reason, whether retrying can help, and its failure condition. */
function classify(err: unknown): { reason: string; stalled: boolean; condition?: 'FetchFailed' | 'StorageOperationFailed' } {
  if (err instanceof OciError) return { reason: err.reason, stalled: err.stalled, condition: failureCondition(err.reason) };
  return { reason: 'Failed', stalled: false };
}

/**
 * An error that says nothing about the object (the API server or a store unreachable): the
 * message is retried. A registry that cannot be reached is the object's business (Flux
 * reports it and retries on the interval), so it is not transient here.
 */
function transientOf(err: unknown): Error | undefined {
  const t = transientCause(err);
  return t instanceof RegistryUnreachableError ? undefined : t;
}

/** Stores a fetched artifact (keeping the last 2); returns what `status.artifact` records. */
async function storeArtifact(svc: ReconcileServices, req: ReconcileRequest, res: Extract<OciFetchResult, { changed: true }>): Promise<ArtifactInfo> {
  let stored;
  try {
    stored = await svc.artifacts.put(req.key, res.revision, res.tarGz);
  } catch (err) {
    const what = res.operation === 'copy' ? 'copy' : 'archive';
    throw new OciError('ArchiveOperationFailed', `unable to ${what} artifact to storage: ${errorMessage(err)}`, { cause: err });
  }
  await svc.artifacts
    .gc(req.key, KEEP_ARTIFACTS, { protect: [stored.key] })
    .catch((err: unknown) => req.log.warn('artifact gc failed', { error: errorMessage(err) }));
  return {
    revision: res.revision,
    digest: stored.digest,
    key: stored.key,
    size: stored.size,
    ...(stored.url ? { url: stored.url } : {}),
    lastUpdateTime: stored.lastUpdateTime,
    metadata: res.metadata,
  };
}

/** Flux's SourceVerified message for a revision verified now. */
function verifiedMessage(revision: string | undefined): string | undefined {
  return revision === undefined ? undefined : `verified signature of revision ${revision}`;
}

/** Reconciles one OCIRepository. */
export async function reconcileOciRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, signal } = req;
  const handledRequest = rec.requestedAt;

  // Spec: a definition Flux would refuse (or Fluxless does not support) is Stalled until it changes.
  let repo: OciRepository;
  try {
    repo = parseOciRepository(rec.object, { defaultNamespace: key.namespace });
  } catch (err) {
    const reason = err instanceof OciSpecError ? err.reason : 'InvalidSpec';
    const message = errorMessage(err);
    const update = failureStatus(reason, message, {
      stalled: true,
      condition: reason === 'URLInvalid' ? 'FetchFailed' : undefined,
      handledRequest,
      nextRunMs: jitter(DEFAULT_INTERVAL_MS),
    });
    await writeStatus(svc.state, key, update, svc.now());
    req.log.warn('invalid OCIRepository', { reason, error: message });
    return { ready: false, reason, message, wake: [] };
  }
  const spec = repo.spec;
  const nextRunMs = jitter(spec.intervalMs);
  if (spec.suspend || rec.suspended) {
    return { ready: isReady(rec), reason: 'Suspended', message: 'OCIRepository is suspended', wake: [] };
  }

  // Set when the stored artifact turned out missing or corrupt: a failed rebuild clears it from the status.
  let dropped = false;
  try {
    const auth = await ociAuthFor(svc.secrets, key, spec);
    const cur = rec.status.artifact;
    const last = cur
      ? {
          lastRevision: cur.revision,
          lastIgnore: rec.status.observedIgnore as string | undefined,
          lastLayerSelector: rec.status.observedLayerSelector as OciLayerSelector | undefined,
        }
      : {};
    const verify = spec.verify ? verifyHook(svc.secrets, key, rec, spec.verify) : undefined;
    let res = await fetchOciRepository(spec, auth, { ...last, signal, ...(verify ? { verify } : {}) });
    if (!res.changed && cur) {
      const problem = await artifactProblem(svc, cur);
      if (problem) {
        dropped = true;
        req.log.warn('stored artifact is missing or corrupt: rebuilding it', { revision: cur.revision, error: problem.message });
        if (problem.corrupt) {
          await svc.artifacts.delete(cur.key).catch(() => false);
          await recordEvent(svc.state, key, { severity: 'error', reason: 'ArtifactVerificationFailed', message: `failed to verify integrity of artifact: ${problem.message}` }, svc.now());
        }
        const verified = res.verified;
        res = await fetchOciRepository(spec, auth, { signal, ...(verify ? { verify } : {}) });
        res.verified ??= verified;
      }
    }
    if (!res.changed) {
      await writeStatus(svc.state, key, withVerification(successStatus(rec, spec.url, cur!, { handledRequest, nextRunMs }), spec.verify !== undefined, verifiedMessage(res.verified)), svc.now());
      return { ready: true, reason: 'Succeeded', message: `stored artifact for digest '${res.revision}'`, revision: res.revision, wake: [] };
    }

    const artifact = await storeArtifact(svc, req, res);
    const update = withVerification(
      successStatus(rec, spec.url, artifact, {
        stored: { observedIgnore: res.observedIgnore, observedLayerSelector: res.observedLayerSelector },
        handledRequest,
        nextRunMs,
      }),
      spec.verify !== undefined,
      verifiedMessage(res.verified),
    );
    await writeStatus(svc.state, key, update, svc.now());
    req.log.info('new artifact', { revision: res.revision, pulled: res.pulled, operation: res.operation, files: res.fileCount, size: res.size, requests: res.requests });
    return { ready: true, reason: 'Succeeded', message: update.message, revision: res.revision, wake: await sourceUsers(svc, key, res.revision) };
  } catch (err) {
    const { reason, stalled, condition } = classify(err);
    const message = errorMessage(err);
    const verification = reason === 'VerificationError';
    // Flux: a failed signature check is SourceVerified=False (not FetchFailed), retried on the interval.
    const update: StatusUpdate = failureStatus(reason, message, { stalled, condition: verification ? undefined : condition, handledRequest, nextRunMs });
    if (verification) update.conditions = [...(update.conditions ?? []), unverifiedCondition(message)];
    if (dropped) {
      update.fields = { ...update.fields, artifact: undefined };
      update.removeConditions = [...(update.removeConditions ?? []), 'ArtifactInStorage'];
    }
    await writeStatus(svc.state, key, update, svc.now());
    req.log.warn('source failed', { reason, error: message });
    return { ready: false, reason, message, wake: [], transientError: transientOf(err) };
  }
}

/** An OCIRepository removed from Git: delete its artifacts, its record and its users index. */
export async function finalizeOciRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const n = await svc.artifacts.deleteAll(req.key);
  await svc.state.delete(req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  return { ready: false, reason: 'Finalized', message: `OCIRepository deleted, ${n} artifact(s) removed`, wake: [] };
}

/** The revision `get` shows: the stored artifact's. */
function summary(rec: ObjectRecord): { revision: string } {
  return { revision: rec.status.artifact?.revision ?? '' };
}

/** The OCIRepository kind. */
export const ociRepositoryKind: KindReconciler = {
  ...ociRepositoryDescriptor,
  reconcile: reconcileOciRepository,
  finalize: finalizeOciRepository,
  summary,
  validate: (obj) => void parseOciRepository(obj, { defaultNamespace: obj.metadata.namespace ?? 'default' }),
};
