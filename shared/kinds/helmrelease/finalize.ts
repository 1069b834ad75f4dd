/**
 * A HelmRelease removed from Git (helm-controller reconcileReleaseDeletion): unless
 * suspended, its release is uninstalled with the `spec.uninstall` options on its target
 * (the remote cluster of `spec.kubeConfig`, as its ServiceAccount), skipped when the status
 * names no storage namespace or has no history; then its generated HelmChart is removed,
 * and its record and dependents index are dropped. As Flux: a kubeconfig Secret that is
 * gone skips the uninstall (logged); one that cannot be used otherwise is UninstallFailed
 * and retried; on the management cluster the impersonated ServiceAccount is looked up
 * first, and a missing one skips the uninstall. A failed uninstall keeps the record and is
 * retried (and, after the queue's tries, dead-lettered with the reason), except when the
 * remote cluster does not answer: then Ready=False names it and it is retried on schedule.
 */
import { parseHelmRelease, type HelmRelease } from '../../helm/release-spec.js';
import { listReleases } from '../../helm/storage.js';
import { KubeConfigRefError } from '../../kube/remote-kubeconfig.js';
import type { Target } from '../../kube/targets.js';
import type { ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { runUninstall } from './action-unlock.js';
import { contextForStored } from './stored-context.js';
import { WorkingStatus } from './status-work.js';
import { accountForUninstall, releaseTargetOf, remoteDown } from './target.js';
import { removeGeneratedChart } from './template.js';

/** How soon a deletion that could not uninstall (remote down, unusable kubeconfig) is tried again. */
const FINALIZE_RETRY_MS = 60_000;

/** Finalizes a HelmRelease whose definition left Git (see the module comment). */
export async function finalizeHelmRelease(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, log } = req;
  const w = new WorkingStatus(rec, Number(rec.object?.metadata.generation ?? 1), () => svc.now());
  let hr: HelmRelease | undefined;
  try {
    hr = parseHelmRelease(rec.object, { defaultNamespace: key.namespace });
  } catch {
    hr = undefined;
  }
  const suspended = Boolean(rec.suspended || (rec.object?.spec as { suspend?: boolean } | undefined)?.suspend);
  let message = `HelmRelease ${key.namespace}/${key.name} deleted`;
  // Fails the deletion for now: Ready=False UninstallFailed, tried again on schedule.
  const blocked = async (msg: string): Promise<ReconcileResult> => {
    w.mark('Ready', 'False', 'UninstallFailed', msg);
    await w.write(svc.state, key, { nextRunMs: FINALIZE_RETRY_MS });
    log.warn('uninstall of the deleted HelmRelease failed; it is retried', { error: msg });
    return { ready: false, reason: 'UninstallFailed', message: msg, wake: [] };
  };
  if (hr && !suspended && w.f.storageNamespace && w.history.length) {
    let target: Target | undefined;
    try {
      target = await releaseTargetOf(svc, hr);
    } catch (err) {
      const t = transientCause(err);
      if (t) return { ready: false, reason: 'UninstallFailed', message: errorMessage(err), wake: [], transientError: t };
      const cause = (err as { cause?: unknown }).cause;
      if (!(cause instanceof KubeConfigRefError && cause.notFound)) return blocked(`failed to build REST client getter to uninstall release: ${errorMessage(err)}`);
      log.error('skipping Helm release uninstallation', { error: errorMessage(err) });
      message += ' (its kubeconfig Secret is gone: the release was not uninstalled)';
    }
    try {
      if (target) {
        const account = await accountForUninstall(svc, target, key.namespace);
        if ('failed' in account) return await blocked(account.failed);
        if ('missing' in account) {
          log.error('skipping Helm release uninstallation', { error: `serviceaccounts "${account.missing}" not found` });
          message += ` (its ServiceAccount '${account.missing}' is gone: the release was not uninstalled)`;
        } else {
          const ctx = contextForStored(svc, req, hr, w, target);
          try {
            ctx.lastSet = await listReleases(target.client, ctx.hr.storageNamespace, ctx.hr.releaseName, req.signal);
            await runUninstall(ctx);
            message += `, release ${ctx.hr.releaseNamespace}/${ctx.hr.releaseName} uninstalled`;
            log.info('uninstalled Helm release for deleted resource', { release: `${ctx.hr.releaseNamespace}/${ctx.hr.releaseName}`, ...(target.remote ? { cluster: target.cluster.name } : {}) });
          } catch (err) {
            const down = remoteDown(target, err);
            if (down) return await blocked(down.message);
            await w.write(svc.state, key, {});
            const error = err instanceof Error ? err : new Error(String(err));
            log.warn('uninstall of the deleted HelmRelease failed; it is retried', { error: errorMessage(err) });
            return { ready: false, reason: 'UninstallFailed', message: errorMessage(err), wake: [], transientError: error instanceof FluxlessError ? error : new FluxlessError('Unreachable', errorMessage(err), { cause: err }) };
          }
        }
      }
    } finally {
      target?.release();
    }
  } else if (suspended) {
    message += ' (suspended: the release was left installed)';
  }
  const wake: Wake[] = await removeGeneratedChart(svc, w.f.helmChart, { namespace: key.namespace, name: key.name });
  await svc.state.delete(key);
  await dropIndex(svc.state, 'DependentsIndex', key);
  return { ready: false, reason: 'Finalized', message, wake };
}
