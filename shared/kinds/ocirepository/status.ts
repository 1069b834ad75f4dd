/**
 * The status source-controller writes for an OCIRepository, as StatusUpdates for the one
 * status writer: Ready summarised from `ArtifactInStorage` (success) or from the failure
 * condition (`FetchFailed`, `StorageOperationFailed`), Stalled for definitions that cannot
 * succeed, `status.artifact` with the manifest annotations as metadata,
 * `observedIgnore` / `observedLayerSelector`, and the `NewArtifact` event (or `Succeeded`
 * when a failure is recovered without a new artifact).
 */
import { artifactStoredMessage, newArtifactMessage, type OciLayerSelector } from '../../oci/index.js';
import type { StatusUpdate } from '../../reconcile/status.js';
import { sourceFailure } from '../helmrepository/status.js';
import { getCondition, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';

/** Conditions that say the last reconcile failed (Flux's ociRepositoryFailConditions). */
export const FAIL_CONDITIONS = ['FetchFailed', 'StorageOperationFailed'] as const;
/** Conditions a successful reconcile removes. */
const CLEARED_ON_SUCCESS = [...FAIL_CONDITIONS, 'ArtifactOutdated'];
/** Flux's event metadata keys for a source's artifact. */
const META_REVISION = 'source.toolkit.fluxcd.io/revision';
const META_DIGEST = 'source.toolkit.fluxcd.io/digest';

/** Reasons reported under `StorageOperationFailed` rather than `FetchFailed`. */
const STORAGE_REASONS = new Set(['ArchiveOperationFailed', 'StatOperationFailed', 'DirCreationFailed', 'InvalidPath']);

/** True when the record's last reconcile ended with a fetch or storage failure. */
export function lastFailed(rec: ObjectRecord): boolean {
  return FAIL_CONDITIONS.some((t) => getCondition(rec, t)?.status === 'True');
}

/** What a successful reconcile writes; `stored` is set when a new artifact was stored. */
export function successStatus(
  rec: ObjectRecord,
  url: string,
  artifact: ArtifactInfo,
  opts: { stored?: { observedIgnore?: string; observedLayerSelector?: OciLayerSelector }; handledRequest?: string; nextRunMs: number },
): StatusUpdate {
  const message = artifactStoredMessage(artifact.revision);
  const eventMessage = newArtifactMessage(artifact.revision, url, artifact.metadata);
  const metadata = { [META_REVISION]: artifact.revision, [META_DIGEST]: artifact.digest };
  // Flux: NewArtifact when the digest changed, Succeeded when a failure is recovered.
  const newDigest = rec.status.artifact?.digest !== artifact.digest;
  const event = opts.stored && newDigest
    ? { severity: 'info' as const, reason: 'NewArtifact', message: eventMessage, revision: artifact.revision, metadata }
    : lastFailed(rec)
      ? { severity: 'info' as const, reason: 'Succeeded', message: eventMessage, revision: artifact.revision, metadata }
      : undefined;
  return {
    ready: true,
    reason: 'Succeeded',
    message,
    handledRequest: opts.handledRequest,
    conditions: [{ type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message }],
    removeConditions: CLEARED_ON_SUCCESS,
    ...(opts.stored
      ? { fields: { artifact, observedIgnore: opts.stored.observedIgnore, observedLayerSelector: opts.stored.observedLayerSelector } }
      : {}),
    ...(event ? { event } : {}),
    nextRunMs: opts.nextRunMs,
  };
}

/** The failure condition Flux sets for a reason: `StorageOperationFailed` for storage reasons, else `FetchFailed`. */
export function failureCondition(reason: string): 'FetchFailed' | 'StorageOperationFailed' {
  return STORAGE_REASONS.has(reason) ? 'StorageOperationFailed' : 'FetchFailed';
}

/**
 * What a failed reconcile writes: Ready=False with the reason, the failure condition
 * (`condition`; none for a definition Flux's API server would have refused), Stalled when
 * retrying cannot help until the definition changes.
 */
export function failureStatus(
  reason: string,
  message: string,
  opts: { stalled: boolean; condition?: 'FetchFailed' | 'StorageOperationFailed'; handledRequest?: string; nextRunMs: number },
): StatusUpdate {
  return sourceFailure(reason, message, opts, FAIL_CONDITIONS);
}
