/**
 * Phase "source": the artifact a Kustomization builds from, read from its source's record
 * (GitRepository today; any kind whose status carries an artifact later), and registration
 * as a user of that source so a new revision wakes it without a scan. Under the
 * `noCrossNamespaceRefs` lockdown a source in another namespace is refused first, as Flux's
 * `getSource` does: AccessDenied, stalled until the spec changes.
 */
import { formatGoDuration } from '../../util/duration.js';
import type { ObjectKey } from '../../kube/object.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { registerSourceUser } from '../../reconcile/source-users.js';
import { ACCESS_DENIED_REASON, crossNamespaceDenial } from '../../kube/tenancy.js';
import { readRecord, recordKey, type ArtifactInfo } from '../../state/records.js';
import type { KustomizationSpec } from './spec.js';

/** The key of the Kustomization's source record. */
export function sourceKey(spec: KustomizationSpec): ObjectKey {
  return recordKey(spec.sourceRef.kind, spec.sourceRef.namespace, spec.sourceRef.name);
}

/** The source's current artifact; a ReconcileFailure (ArtifactFailed) when there is none yet. */
export async function sourceArtifact(svc: ReconcileServices, spec: KustomizationSpec, self: ObjectKey): Promise<ArtifactInfo> {
  const key = sourceKey(spec);
  const denied = crossNamespaceDenial(svc.settings, spec.namespace, spec.sourceRef);
  if (denied) throw new ReconcileFailure(ACCESS_DENIED_REASON, denied, { stalled: true });
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
