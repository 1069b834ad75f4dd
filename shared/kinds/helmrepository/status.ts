/**
 * The status source-controller writes for a HelmRepository (and, with their own reasons,
 * a HelmChart), as StatusUpdates for the one status writer: Ready summarised from
 * `ArtifactInStorage` on success or from the failure condition (`FetchFailed`,
 * `BuildFailed`, `StorageOperationFailed`), Stalled for definitions that cannot succeed,
 * `status.artifact`, and the `NewArtifact` (or recovery) event with Flux's metadata.
 */
import type { StatusUpdate } from '../../reconcile/status.js';
import { getCondition, type ArtifactInfo, type ObjectRecord } from '../../state/records.js';

/** Conditions that say a source's last reconcile failed. */
export const SOURCE_FAIL_CONDITIONS = ['FetchFailed', 'BuildFailed', 'StorageOperationFailed'] as const;
/** A failure condition type. */
export type SourceFailCondition = (typeof SOURCE_FAIL_CONDITIONS)[number];

const META_REVISION = 'source.toolkit.fluxcd.io/revision';
const META_DIGEST = 'source.toolkit.fluxcd.io/digest';

/** True when the record's last reconcile ended with a failure condition. */
export function lastFailed(rec: ObjectRecord): boolean {
  return SOURCE_FAIL_CONDITIONS.some((t) => getCondition(rec, t)?.status === 'True');
}

/** Options of sourceSuccess. */
export interface SourceSuccess {
  /** Ready / ArtifactInStorage reason: `Succeeded`, `ChartPullSucceeded`, `ChartPackageSucceeded`. */
  reason: string;
  /** Ready / ArtifactInStorage message. */
  message: string;
  artifact: ArtifactInfo;
  /** The event reason and message when the artifact is new (or a failure recovered). */
  event: { reason: string; message: string };
  /** Set when a new artifact was stored (status fields to write with it). */
  stored?: Record<string, unknown>;
  /** Other fields written on every success. */
  fields?: Record<string, unknown>;
  handledRequest?: string;
  nextRunMs: number;
}

/** What a successful reconcile of a source writes. */
export function sourceSuccess(rec: ObjectRecord, o: SourceSuccess): StatusUpdate {
  const metadata = { [META_REVISION]: o.artifact.revision, [META_DIGEST]: o.artifact.digest };
  const newDigest = rec.status.artifact?.digest !== o.artifact.digest;
  const event =
    o.stored && newDigest
      ? { severity: 'info' as const, reason: o.event.reason, message: o.event.message, revision: o.artifact.revision, metadata }
      : lastFailed(rec)
        ? { severity: 'info' as const, reason: o.event.reason === 'NewArtifact' ? 'Succeeded' : o.event.reason, message: o.event.message, revision: o.artifact.revision, metadata }
        : undefined;
  return {
    ready: true,
    reason: o.reason,
    message: o.message,
    handledRequest: o.handledRequest,
    conditions: [{ type: 'ArtifactInStorage', status: 'True', reason: o.reason, message: o.message }],
    removeConditions: [...SOURCE_FAIL_CONDITIONS, 'ArtifactOutdated'],
    fields: { ...(o.fields ?? {}), ...(o.stored ? { artifact: o.artifact, ...o.stored } : {}) },
    ...(event ? { event } : {}),
    nextRunMs: o.nextRunMs,
  };
}

/** What a failed reconcile of a source writes (the condition is omitted for spec errors); the other `failConditions` are removed. */
export function sourceFailure(
  reason: string,
  message: string,
  opts: { stalled: boolean; condition?: SourceFailCondition; handledRequest?: string; nextRunMs: number; fields?: Record<string, unknown> },
  failConditions: readonly SourceFailCondition[] = SOURCE_FAIL_CONDITIONS,
): StatusUpdate {
  const type = opts.condition;
  return {
    ready: false,
    reason,
    message,
    stalled: opts.stalled,
    handledRequest: opts.handledRequest,
    ...(type ? { conditions: [{ type, status: 'True' as const, reason, message }], removeConditions: failConditions.filter((t) => t !== type) } : {}),
    ...(opts.fields ? { fields: opts.fields } : {}),
    event: { severity: 'error', reason, message },
    nextRunMs: opts.nextRunMs,
  };
}
