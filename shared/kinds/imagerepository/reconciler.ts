/**
 * The ImageRepository reconciler (`image.toolkit.fluxcd.io/v1`), as image-reflector-
 * controller: decide whether to scan (never scanned, a reconcile request such as a registry
 * webhook, a new image name or exclusion list, no stored tags, or the interval elapsed);
 * scan the tags over the registry API; keep them in the state store (images/tags.ts);
 * write `canonicalImageName`, `lastScanResult` and `observedExclusionList`; and when the tag
 * checksum changed, wake the ImagePolicies that use this repository (they registered
 * themselves in the users index; no scan of records). The repository is also filed in the
 * image-source index, so ECR events find it by repository.
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { imageRepositoryDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex, liveMembers } from '../../reconcile/reverse-index.js';
import { writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { RegistryUnreachableError } from '../../oci/errors.js';
import { getCondition, isReady, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { ImageAuthError, imageRegistryClient } from '../../images/registry-auth.js';
import { indexedRepository, registerImageSource, unregisterImageSource } from '../../images/repository-index.js';
import { deleteTags } from '../../images/tags.js';
import { parseRepository } from '../../oci/reference.js';
import type { ObjectKey } from '../../kube/object.js';
import { ScanError, scanRepository, shouldScan, type ScanResult, type ScanState } from './scan.js';
import { ImageRepositorySpecError, parseImageRepository, type ImageRepositorySpec } from './spec.js';

const DEFAULT_RETRY_MS = 60_000;

/** True when an ImagePolicy spec's `imageRepositoryRef` names `repo`. */
export function policyUsesRepository(spec: unknown, policyNamespace: string, repo: ObjectKey): boolean {
  const ref = (spec as { imageRepositoryRef?: { name?: string; namespace?: string } } | undefined)?.imageRepositoryRef;
  return ref?.name === repo.name && (ref.namespace || policyNamespace) === repo.namespace;
}

/** The ImagePolicies that registered as users of the repository and still name it. */
async function policiesOf(svc: ReconcileServices, key: ObjectKey, revision: string): Promise<Wake[]> {
  const live = await liveMembers(svc.state, 'SourceUsersIndex', key, (rec, m) => rec.object?.kind === 'ImagePolicy' && policyUsesRepository(rec.object.spec, m.namespace, key));
  return live.map(({ key: k }) => ({ key: k, reason: 'dependency', dedupKey: `imagerepository-${revision}`, revision }));
}

/** Flux's notify(): an event when Ready changed or its message did; warnings for failures. */
function eventFor(rec: ObjectRecord, ready: boolean, reason: string, message: string): StatusUpdate['event'] {
  const before = getCondition(rec, 'Ready');
  if (!ready) return { severity: 'error', reason, message };
  if (before?.status !== 'True' || before.message !== message) return { severity: 'info', reason, message };
  return undefined;
}

function readyMessage(r: ScanResult): string {
  return `successful scan: found ${r.tagCount} tags with checksum ${r.revision}`;
}

async function keepIndexed(svc: ReconcileServices, key: ObjectKey, spec: ImageRepositorySpec, previous: string | undefined): Promise<void> {
  const now = indexedRepository(spec.repository);
  if (previous && previous !== spec.canonicalImageName) {
    try {
      await unregisterImageSource(svc.state, indexedRepository(parseRepository(previous)), key);
    } catch {
      /* an old name that does not parse was never indexed */
    }
  }
  await registerImageSource(svc.state, now, key);
}

/** Reconciles one ImageRepository. */
export async function reconcileImageRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  const handledRequest = rec.requestedAt;
  const status = rec.status as ScanState & Record<string, unknown>;

  let spec: ImageRepositorySpec;
  try {
    spec = parseImageRepository(rec.object!);
  } catch (err) {
    const reason = err instanceof ImageRepositorySpecError ? err.reason : 'InvalidSpec';
    const message = errorMessage(err);
    await writeStatus(svc.state, key, { ready: false, reason, message, stalled: true, handledRequest, event: eventFor(rec, false, reason, message) }, svc.now());
    return { ready: false, reason, message, wake: [] };
  }
  if (spec.suspend || rec.suspended) return { ready: isReady(rec), reason: 'Suspended', message: 'ImageRepository is suspended', wake: [] };

  const retryMs = Math.min(spec.intervalMs, DEFAULT_RETRY_MS);
  const fail = async (reason: string, err: unknown): Promise<ReconcileResult> => {
    const message = errorMessage(err);
    await writeStatus(svc.state, key, { ready: false, reason, message, handledRequest, nextRunMs: jitter(retryMs), event: eventFor(rec, false, reason, message) }, svc.now());
    req.log.warn('image repository failed', { reason, error: message });
    const t = transientCause(err);
    return { ready: false, reason, message, wake: [], transientError: t instanceof RegistryUnreachableError ? undefined : t };
  };

  try {
    await keepIndexed(svc, key, spec, status.canonicalImageName);
    const now = svc.now();
    const decision = await shouldScan(svc.state, key, spec, status, handledRequest, now);
    if (!decision.scan) {
      const message = readyMessage(status.lastScanResult!);
      await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, handledRequest, nextRunMs: decision.waitMs, event: eventFor(rec, true, 'Succeeded', message) }, svc.now());
      return { ready: true, reason: 'Succeeded', message, revision: status.lastScanResult!.revision, wake: [] };
    }

    let client;
    try {
      client = await imageRegistryClient(svc, { namespace: key.namespace, ...spec }, { signal: req.signal });
    } catch (err) {
      return await fail(err instanceof ImageAuthError ? 'AuthenticationFailed' : 'ReadOperationFailed', err);
    }
    const timeout = AbortSignal.timeout(spec.timeoutMs);
    const signal = req.signal ? AbortSignal.any([req.signal, timeout]) : timeout;
    let scanned;
    try {
      scanned = await scanRepository(svc.state, key, spec, client, { signal, now });
    } catch (err) {
      if (err instanceof ScanError) return await fail('ReadOperationFailed', err);
      if (transientCause(err) && !(transientCause(err) instanceof RegistryUnreachableError)) throw err;
      const message = timeout.aborted ? `context deadline exceeded after ${spec.timeoutMs / 1000}s (spec.timeout)` : errorMessage(err);
      return await fail('ReadOperationFailed', new ScanError(message, { cause: err }));
    }
    const { result } = scanned;
    const message = readyMessage(result);
    await writeStatus(
      svc.state,
      key,
      {
        ready: true,
        reason: 'Succeeded',
        message,
        handledRequest,
        fields: { canonicalImageName: spec.canonicalImageName, lastScanResult: result, observedExclusionList: spec.exclusionList },
        nextRunMs: spec.intervalMs,
        event: eventFor(rec, true, 'Succeeded', message),
      },
      svc.now(),
    );
    req.log.info('image repository scanned', { reason: decision.reason, tags: result.tagCount, revision: result.revision, requests: client.requestCount });
    const changed = status.lastScanResult?.revision !== result.revision || status.canonicalImageName !== spec.canonicalImageName;
    return { ready: true, reason: 'Succeeded', message, revision: result.revision, wake: changed ? await policiesOf(svc, key, result.revision) : [] };
  } catch (err) {
    return await fail('ReadOperationFailed', err);
  }
}

/** An ImageRepository removed from Git: its tags, index entries and record go. */
export async function finalizeImageRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const canonical = (req.record.status as ScanState).canonicalImageName;
  if (canonical) {
    try {
      await unregisterImageSource(svc.state, indexedRepository(parseRepository(canonical)), req.key);
    } catch {
      /* never indexed */
    }
  }
  await deleteTags(svc.state, req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  await svc.state.delete(req.key);
  return { ready: false, reason: 'Finalized', message: 'ImageRepository deleted', wake: [] };
}

/** What `get` shows: the number of tags and the last scan time. */
function summary(rec: ObjectRecord): { revision: string } {
  const r = (rec.status as ScanState).lastScanResult;
  return { revision: r ? `${r.tagCount} tags (${r.scanTime})` : '' };
}

/** The ImageRepository kind. */
export const imageRepositoryKind: KindReconciler = {
  ...imageRepositoryDescriptor,
  reconcile: reconcileImageRepository,
  finalize: finalizeImageRepository,
  summary,
  validate: (obj) => void parseImageRepository(obj),
};
