/**
 * Notices when the management cluster behind a data directory (or S3 store) changed: a
 * fresh local control plane, a rebuilt cluster, another kubeconfig. The cluster is named by
 * its `kube-system` namespace's UID. When it changed, every applier (Kustomization,
 * HelmRelease, ...) is marked "not known to be applied" and reconciled at once, instead of
 * showing Ready over an empty cluster until its next drift check.
 */
import { isKnownKind, KIND_DESCRIPTORS } from '../kinds/descriptors.js';
import type { ObjectKey } from '../kube/object.js';
import { applyStatus } from '../reconcile/status.js';
import { listRecords, type ObjectRecord } from '../state/records.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';

const IDENTITY_KEY: ObjectKey = { kind: 'ClusterIdentity', namespace: '', name: 'management' };

interface Identity {
  uid: string;
  server: string;
  seenAt: string;
}

/** What the check found. */
export interface IdentityCheck {
  uid: string;
  /** True when the store was used with another cluster before. */
  changed: boolean;
  /** Objects enqueued because of the change. */
  requeued: number;
}

/** Compares the cluster's identity with the store's; on a change, re-reconciles every applier. */
export async function checkClusterIdentity(rt: Runtime): Promise<IdentityCheck | undefined> {
  let uid: string;
  try {
    const ns = await rt.client.request<{ metadata?: { uid?: string } }>('GET', '/api/v1/namespaces/kube-system');
    uid = ns.metadata?.uid ?? '';
  } catch (err) {
    log.warn('could not read the cluster identity (kube-system namespace); not checking whether the cluster changed', { error: errorMessage(err) });
    return undefined;
  }
  if (!uid) return undefined;
  const prev = (await rt.state.get<Identity>(IDENTITY_KEY))?.value;
  const appliers = KIND_DESCRIPTORS.filter((k) => k.schedule === 'drift');
  let changed = Boolean(prev && prev.uid !== uid);
  if (!prev) {
    // A store from before identities were kept: changed if it has applied anything.
    for (const k of appliers) if ((await rt.state.list({ kind: k.kind })).length) changed = true;
  }
  await rt.state.put<Identity>(IDENTITY_KEY, { uid, server: rt.client.server, seenAt: rt.now().toISOString() });
  if (!changed) return { uid, changed: false, requeued: 0 };
  let requeued = 0;
  // One key per change: back on a cluster seen minutes ago (A -> B -> A), the queue's dedup
  // window must not swallow the second round of reconciles.
  const dedupKey = `cluster-${uid}-${rt.now().getTime()}`;
  const message = `the cluster changed (kube-system uid ${uid}${prev ? `, was ${prev.uid}` : ''}): reconciling again`;
  for (const k of appliers) {
    for (const read of await listRecords(rt.state, { kind: k.kind })) {
      if (!read.record?.object || read.record.deleted) continue;
      await rt.state.update<ObjectRecord>(read.key, (cur) => {
        const next = applyStatus(cur, { ready: 'Unknown', reason: 'Progressing', message, reconciling: 'Progressing' }, rt.now());
        return next ? { ...next, applied: undefined } : undefined;
      });
      if (isKnownKind(read.key.kind)) await enqueue(rt, read.key, 'cluster-changed', { dedupKey });
      requeued++;
    }
  }
  log.warn('the management cluster changed: every applier is reconciled again', { uid, previous: prev?.uid, requeued });
  return { uid, changed: true, requeued };
}
