/**
 * Phase "finalize": the Kustomization's definition left Git. Per `deletionPolicy`
 * (MirrorPrune: as `spec.prune`; Delete; WaitForTermination: delete and wait until gone;
 * Orphan: keep), prune its whole inventory, remove the definitions it created, then drop
 * its record and indexes.
 *
 * Pruning runs on the Kustomization's target (remote cluster, impersonation) as in
 * kustomize-controller's finalize(): when a ServiceAccount is impersonated, it is first
 * looked up on the management cluster; if it is gone, nothing is pruned, an error event
 * lists the objects left behind (`unable to prune objects: ...`) and the record is dropped.
 * A kubeConfig reference that cannot be used blocks the deletion (retried) until it can.
 */
import type { ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { recordEvent, writeStatus } from '../../reconcile/status.js';
import { formatGoDuration } from '../../util/duration.js';
import { isNotFound } from '../../kube/client.js';
import { fmtRef, parseInventoryId } from '../../kube/object.js';
import { impersonatedAccount, type Target } from '../../kube/targets.js';
import { ReconcileFailure, transientCause } from '../../reconcile/failure.js';
import { errorMessage } from '../../util/errors.js';
import { engineFor } from './apply.js';
import { isFluxGroup } from './definitions.js';
import { targetOf, targetSpecOf } from './target.js';
import { prune, waitForTermination } from './prune.js';
import { forgetWatchedConfigs } from './watch.js';
import { parseKustomization, type KustomizationSpec } from './spec.js';

function safeParse(req: ReconcileRequest): KustomizationSpec | undefined {
  try {
    return req.record.object ? parseKustomization(req.record.object, '', { cel: false }) : undefined;
  } catch {
    return undefined;
  }
}

/** Finalizes a Kustomization removed from Git. */
export async function finalizeKustomization(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  const spec = safeParse(req);
  const inventory = rec.status.inventory?.entries ?? [];
  const policy = spec?.deletionPolicy ?? 'MirrorPrune';
  const deleteCluster = Boolean(spec && !spec.suspend && (policy === 'Delete' || policy === 'WaitForTermination' || (policy === 'MirrorPrune' && spec.prune)));
  const owner = { namespace: key.namespace, name: key.name };
  const retryMs = spec?.retryIntervalMs ?? 60_000;
  const remote = Boolean(spec?.kubeConfig);
  const clusterEntries = remote ? inventory : inventory.filter((e) => !isFluxGroup(parseInventoryId(e.id).group));
  let pruneCluster = deleteCluster && clusterEntries.length > 0;
  let target: Target | undefined;
  if (pruneCluster && spec) {
    const account = impersonatedAccount(svc, targetSpecOf(spec, rec));
    if (account && !(await accountExists(svc, account))) {
      // Flux: CanImpersonate failed: no prune, an error event with what is left, finalizer removed.
      pruneCluster = false;
      const message = `unable to prune objects: \n${clusterEntries.map((e) => fmtRef(parseInventoryId(e.id))).join('\n')}`;
      req.log.error('skipping pruning, failed to find account to impersonate', { serviceAccount: `${account.namespace}/${account.name}` });
      await recordEvent(svc.state, key, { severity: 'error', reason: 'PruneFailed', message }, svc.now());
    } else {
      try {
        target = await targetOf(svc, spec, rec);
      } catch (err) {
        // The client cannot be built (kubeconfig Secret gone): deletion waits until it can.
        const message = err instanceof ReconcileFailure ? err.message : errorMessage(err);
        await writeStatus(svc.state, key, { ready: false, reason: 'ReconciliationFailed', message, nextRunMs: retryMs, event: { severity: 'error', reason: 'ReconciliationFailed', message } }, svc.now());
        return { ready: false, reason: 'ReconciliationFailed', message, wake: [], transientError: transientCause(err) };
      }
    }
  }
  try {
    return await finalizeOn(svc, req, spec, target, { deleteCluster: pruneCluster, policy, retryMs, owner });
  } finally {
    target?.release();
  }
}

/** GETs the impersonated ServiceAccount on the management cluster (Flux's CanImpersonate). */
async function accountExists(svc: ReconcileServices, sa: { namespace: string; name: string }): Promise<boolean> {
  try {
    await svc.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(sa.namespace)}/serviceaccounts/${encodeURIComponent(sa.name)}`);
    return true;
  } catch (err) {
    if (isNotFound(err) || !transientCause(err)) return false;
    throw err;
  }
}

/** Prunes on the target, waits as the policy says, and drops the record. */
async function finalizeOn(
  svc: ReconcileServices,
  req: ReconcileRequest,
  spec: KustomizationSpec | undefined,
  target: Target | undefined,
  o: { deleteCluster: boolean; policy: string; retryMs: number; owner: { namespace: string; name: string } },
): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  const { deleteCluster, policy, retryMs, owner } = o;
  const inventory = rec.status.inventory?.entries ?? [];
  const engine = engineFor(svc, { force: false }, req.signal, target);
  const res = await prune(svc, engine, owner, inventory, { cluster: deleteCluster, fluxInCluster: target?.remote ?? false });
  if (res.failures.length) {
    const message = res.failures.join('\n');
    await writeStatus(svc.state, key, { ready: false, reason: 'PruneFailed', message, nextRunMs: retryMs, event: { severity: 'error', reason: 'PruneFailed', message } }, svc.now());
    return { ready: false, reason: 'PruneFailed', message, wake: res.removedDefinitions };
  }
  if (policy === 'WaitForTermination' && deleteCluster && spec) {
    // Flux waits up to spec.timeout, then logs the error and lets the Kustomization go.
    const left = await waitForTermination(engine, res.deleted, spec.timeoutMs, req.signal);
    if (left.length) req.log.error('failed to wait for resources termination', { timeout: formatGoDuration(spec.timeoutMs), remaining: left });
  }
  await svc.state.delete(key);
  await dropIndex(svc.state, 'DependentsIndex', key);
  if (spec?.postBuild?.substituteFrom.length) await forgetWatchedConfigs(svc, key.namespace, key.name);
  return {
    ready: false,
    reason: 'Finalized',
    message: `Kustomization ${key.namespace}/${key.name} deleted`,
    wake: res.removedDefinitions,
  };
}
