/**
 * The ExternalArtifact kind (`source.toolkit.fluxcd.io/v1`, Flux 2.7, RFC-0012): a source
 * whose artifact another controller produces. In Fluxless the producer is an
 * ArtifactGenerator: it writes the ExternalArtifact's record (definition, `spec.sourceRef`
 * naming the generator, and `status.artifact`) and wakes the users whose artifact changed,
 * so this kind has no work of its own on reconcile. One defined directly in Git has no
 * producer in Fluxless and says so in its status. Finalizing deletes its stored artifacts,
 * its record and its users index.
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { externalArtifactDescriptor } from './descriptor.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { writeStatus } from '../../reconcile/status.js';
import { getCondition } from '../../state/records.js';

/** The API group. */
export const EA_GROUP = 'source.toolkit.fluxcd.io';
/** The kind. */
export const EA_KIND = 'ExternalArtifact';
/** Who produces the ExternalArtifacts Fluxless can serve. */
export const EA_PRODUCER = 'ArtifactGenerator';

/** Reconciles an ExternalArtifact: reports its producer's artifact, or that it has no producer. */
export async function reconcileExternalArtifact(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  if (rec.origin?.by === EA_PRODUCER) {
    const a = rec.status.artifact;
    const ready = getCondition(rec, 'Ready');
    return a
      ? { ready: true, reason: 'Succeeded', message: ready?.message ?? 'Artifact is ready', revision: a.revision, wake: [] }
      : { ready: false, reason: 'Progressing', message: `waiting for ArtifactGenerator ${rec.origin.namespace}/${rec.origin.name} to build the artifact`, wake: [] };
  }
  const sr = ((rec.object?.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } }).sourceRef;
  const producer = sr?.kind && sr.name ? `${sr.kind}/${sr.namespace ?? key.namespace}/${sr.name}` : 'none';
  const message =
    `ExternalArtifact ${key.namespace}/${key.name} has no producer in Fluxless (spec.sourceRef: ${producer}): ` +
    'only the ExternalArtifacts an ArtifactGenerator generates get an artifact; define an ArtifactGenerator with an output of this name instead';
  await writeStatus(svc.state, key, { ready: false, reason: 'NoProducer', message, stalled: true, handledRequest: rec.requestedAt }, svc.now());
  return { ready: false, reason: 'NoProducer', message, wake: [] };
}

/** An ExternalArtifact removed (by its generator, or from Git): its artifacts, record and users index go. */
export async function finalizeExternalArtifact(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const n = await svc.artifacts.deleteAll(req.key);
  await svc.state.delete(req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  return { ready: false, reason: 'Finalized', message: `ExternalArtifact deleted, ${n} artifact(s) removed`, wake: [] };
}

/** The ExternalArtifact kind. */
export const externalArtifactKind: KindReconciler = {
  ...externalArtifactDescriptor,
  reconcile: reconcileExternalArtifact,
  finalize: finalizeExternalArtifact,
  summary: (rec) => ({ revision: rec.status.artifact?.revision ?? '' }),
  sourceOf: (rec) => {
    const sr = ((rec.object?.spec ?? {}) as { sourceRef?: { kind?: string; name?: string; namespace?: string } }).sourceRef;
    return sr?.kind && sr.name ? { kind: sr.kind, namespace: sr.namespace ?? rec.object!.metadata.namespace ?? 'default', name: sr.name } : undefined;
  },
};
