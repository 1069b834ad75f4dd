/**
 * A HelmRelease removed from Git (helm-controller reconcileDelete): unless suspended, its
 * release is uninstalled with the `spec.uninstall` options (skipped when the status names
 * no storage namespace or has no history), then its generated HelmChart is removed, and
 * its record and dependents index are dropped. A failed uninstall keeps the record and is
 * retried (and, after the queue's tries, dead-lettered with the reason).
 */
import { parseHelmRelease, type HelmRelease } from '../../helm/release-spec.js';
import { listReleases } from '../../helm/storage.js';
import type { ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { runUninstall } from './action-unlock.js';
import { contextForStored } from './stored-context.js';
import { WorkingStatus } from './status-work.js';
import { removeGeneratedChart } from './template.js';

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
  if (hr && !suspended && w.f.storageNamespace && w.history.length) {
    const ctx = contextForStored(svc, req, hr, w);
    try {
      ctx.lastSet = await listReleases(svc.client, ctx.hr.storageNamespace, ctx.hr.releaseName, req.signal);
      await runUninstall(ctx);
      message += `, release ${ctx.hr.releaseNamespace}/${ctx.hr.releaseName} uninstalled`;
      log.info('uninstalled Helm release for deleted resource', { release: `${ctx.hr.releaseNamespace}/${ctx.hr.releaseName}` });
    } catch (err) {
      await w.write(svc.state, key, {});
      const error = err instanceof Error ? err : new Error(String(err));
      log.warn('uninstall of the deleted HelmRelease failed; it is retried', { error: errorMessage(err) });
      return { ready: false, reason: 'UninstallFailed', message: errorMessage(err), wake: [], transientError: error instanceof FluxlessError ? error : new FluxlessError('Unreachable', errorMessage(err), { cause: err }) };
    }
  } else if (suspended) {
    message += ' (suspended: the release was left installed)';
  }
  const wake: Wake[] = await removeGeneratedChart(svc, w.f.helmChart, { namespace: key.namespace, name: key.name });
  await svc.state.delete(key);
  await dropIndex(svc.state, 'DependentsIndex', key);
  return { ready: false, reason: 'Finalized', message, wake };
}
