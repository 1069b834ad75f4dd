/**
 * Phase "source": the artifact a Kustomization builds from, read from its source's record
 * (GitRepository today; any kind whose status carries an artifact later), and registration
 * as a user of that source so a new revision wakes it without a scan.
 */
import { formatGoDuration } from '../../util/duration.js';
import type { ObjectKey } from '../../kube/object.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { registerSourceUser } from '../../reconcile/source-users.js';
import { readRecord, recordKey, type ArtifactInfo } from '../../state/records.js';
import type { KustomizationSpec } from './spec.js';

/** The key of the Kustomization's source record. */
export function sourceKey(spec: KustomizationSpec): ObjectKey {
  return recordKey(spec.sourceRef.kind, spec.sourceRef.namespace, spec.sourceRef.name);
}

/** The source's current artifact; a ReconcileFailure (ArtifactFailed) when there is none yet. */
export async function sourceArtifact(svc: ReconcileServices, spec: KustomizationSpec, self: ObjectKey): Promise<ArtifactInfo> {
  const key = sourceKey(spec);
  // Registered before the read: a source that stores its first artifact right now wakes us.
  await registerSourceUser(svc, key, self);
  const src = await readRecord(svc.state, key);
  const artifact = src && !src.deleted ? src.status.artifact : undefined;
  if (!src?.object || !artifact) {
    throw new ReconcileFailure('ArtifactFailed', `Source artifact not found, retrying in ${formatGoDuration(spec.retryIntervalMs)}`, {
      retryMs: spec.retryIntervalMs,
    });
  }
  return artifact;
}
