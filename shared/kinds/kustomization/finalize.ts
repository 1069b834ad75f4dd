/**
 * Phase "finalize": the Kustomization's definition left Git. Per `deletionPolicy`
 * (MirrorPrune: as `spec.prune`; Delete; WaitForTermination: delete and wait until gone;
 * Orphan: keep), prune its whole inventory, remove the definitions it created, then drop
 * its record and indexes.
 */
import type { ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { writeStatus } from '../../reconcile/status.js';
import { formatGoDuration } from '../../util/duration.js';
import { engineFor } from './apply.js';
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
  const engine = engineFor(svc, { force: false }, req.signal);
  const res = await prune(svc, engine, owner, inventory, { cluster: deleteCluster });
  const retryMs = spec?.retryIntervalMs ?? 60_000;
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
