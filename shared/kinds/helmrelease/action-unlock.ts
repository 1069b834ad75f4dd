/**
 * Unlock and uninstall (helm-controller internal/reconcile/unlock.go and uninstall.go):
 * a release stuck in `pending-*` is marked failed in storage ("Release unlocked from stale
 * '<status>' state"); a release whose target changed, or whose HelmRelease was deleted, is
 * uninstalled with the `spec.uninstall` options.
 */
import { HelmCommandError } from '../../helm/errors.js';
import { markReleaseFailed } from '../../helm/storage.js';
import { snapshotOf } from '../../helm/observation.js';
import type { ReleaseContext } from './context.js';
import { cleanMessage } from './action-release.js';
import { uninstallLatest } from './action-remediate.js';
import { NoLatestError } from './action-test.js';
import { eventMeta } from './drift.js';
import { fullReleaseName, latest, targets, versionedChartName } from './history.js';
import { readAfter } from './observe.js';
import { summarize } from './summarize.js';

/** Marks a pending release failed (see the module comment). */
export async function runUnlock(ctx: ReleaseContext): Promise<void> {
  const { w, hr } = ctx;
  try {
    const rls = (await readAfter(ctx)).latest();
    if (!rls) return;
    const known = w.history.find((s) => targets(s, rls.name, rls.namespace, rls.version));
    const cur = snapshotOf(rls, { ociDigest: known?.ociDigest });
    const status = rls.status;
    if (!status.startsWith('pending-')) return;
    const meta = { revision: cur.chartVersion, metadata: eventMeta(cur.chartVersion, cur.configDigest, cur.appVersion, cur.ociDigest) };
    let updated;
    try {
      updated = await markReleaseFailed(ctx.target.client, rls, `Release unlocked from stale '${status}' state`, ctx.signal);
    } catch (err) {
      const msg = `Unlock of Helm release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)} in ${status} state failed: ${cleanMessage(ctx, err)}`;
      w.increment('failures');
      w.mark('Released', 'False', 'PendingRelease', msg);
      w.event({ severity: 'error', reason: 'PendingRelease', message: msg, ...meta });
      throw err;
    }
    const i = w.history.findIndex((s) => targets(s, updated.name, updated.namespace, updated.version));
    if (i >= 0) {
      const snap = w.history[i];
      w.history[i] = snapshotOf(updated, { action: snap.action, ociDigest: snap.ociDigest });
    }
    const msg = `Unlocked Helm release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)} in ${status} state`;
    w.mark('Released', 'False', 'PendingRelease', msg);
    w.event({ severity: 'info', reason: 'PendingRelease', message: msg, ...meta });
  } finally {
    summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
  }
}

/** Uninstalls the release of the latest snapshot (see the module comment). Throws NoLatestError without one. */
export async function runUninstall(ctx: ReleaseContext): Promise<void> {
  const { w, hr } = ctx;
  try {
    const cur = latest(w.history);
    if (!cur) throw new NoLatestError('to uninstall');
    const snapshotBefore = { ...cur };
    let err = await uninstallLatest(ctx, snapshotBefore, 'uninstall');
    if (err instanceof HelmCommandError && err.kind === 'ReleaseNotFound') {
      w.mark('Released', 'False', 'UninstallSucceeded', `Release ${fullReleaseName(cur)} was not found, assuming it is uninstalled`);
      return;
    }
    if (err !== undefined && hr.spec.uninstall.keepHistory && /is already deleted/.test(String((err as Error).message))) {
      w.mark('Released', 'False', 'UninstallSucceeded', `Release ${fullReleaseName(cur)} was already uninstalled`);
      return;
    }
    const now = latest(w.history);
    if (err === undefined && snapshotBefore.digest === now?.digest && now?.status !== 'uninstalled') err = new Error('uninstall completed with error: release not updated in Helm storage');
    const meta = { revision: now?.chartVersion, metadata: eventMeta(now?.chartVersion ?? '', now?.configDigest ?? '', now?.appVersion, now?.ociDigest) };
    if (err !== undefined) {
      const msg = `Helm uninstall failed for release ${fullReleaseName(now)} with chart ${versionedChartName(now)}: ${cleanMessage(ctx, err)}`;
      w.increment('failures');
      w.mark('Released', 'False', 'UninstallFailed', msg);
      w.event({ severity: 'error', reason: 'UninstallFailed', message: msg, ...meta });
      throw err;
    }
    w.f.inventory = undefined;
    const msg = `Helm uninstall succeeded for release ${fullReleaseName(now)} with chart ${versionedChartName(now)}`;
    w.mark('Released', 'False', 'UninstallSucceeded', msg);
    w.event({ severity: 'info', reason: 'UninstallSucceeded', message: msg, ...meta });
  } finally {
    summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
  }
}
