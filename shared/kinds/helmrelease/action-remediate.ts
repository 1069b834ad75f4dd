/**
 * Remediation (helm-controller internal/reconcile/rollback_remediation.go and
 * uninstall_remediation.go): `helm rollback` to the previous successful release (then
 * the poller wait), or `helm uninstall` of the failed one; history updated from storage;
 * Remediated True or False with Flux's messages and events.
 */
import { snapshotOf, type Snapshot } from '../../helm/observation.js';
import type { StoredRelease } from '../../helm/storage.js';
import { actionTimeoutMs, type ReleaseContext } from './context.js';
import { cleanMessage, waitModeOf } from './action-release.js';
import { NoLatestError } from './action-test.js';
import { eventMeta } from './drift.js';
import { waitForRelease } from './health.js';
import { fullReleaseName, latest, previous, targets, versionedChartName } from './history.js';
import { readAfter, recordInventory, writtenSince } from './observe.js';
import { summarize } from './summarize.js';

/** The rollback target is gone (ErrMissingRollbackTarget). */
export class MissingRollbackTargetError extends Error {
  constructor(what: string) {
    super(`missing target release for rollback: ${what}`);
  }
}

/** Rolls back to the previous successful release (see the module comment). */
export async function runRollbackRemediation(ctx: ReleaseContext): Promise<void> {
  const { w, hr } = ctx;
  try {
    const cur = latest(w.history);
    const prev = previous(w.history, hr.spec.upgrade.remediation.ignoreTestFailures ?? hr.spec.test.ignoreFailures);
    if (!prev) throw new MissingRollbackTargetError('required to rollback');
    if (cur && (prev.name !== cur.name || prev.namespace !== cur.namespace)) {
      throw new Error(`release mismatch: previous release name or namespace ${fullReleaseName(prev)} does not match current ${fullReleaseName(cur)}`);
    }
    const before = ctx.lastSet;
    const rb = hr.spec.rollback;
    let err: unknown;
    try {
      const runner = await ctx.runner();
      const wait = waitModeOf(ctx, rb.disableWait);
      const target = before?.get(prev.version);
      const ssa = rb.serverSideApply === 'enabled' ? 'true' : rb.serverSideApply === 'disabled' ? 'false' : target?.applyMethod === 'ssa' ? 'true' : 'false';
      const timeoutMs = actionTimeoutMs(ctx, 'rollback');
      const started = Date.now();
      await runner.rollback({
        releaseName: prev.name,
        namespace: prev.namespace,
        revision: prev.version,
        timeoutMs,
        ...(wait.helm ? { wait: wait.helm } : {}),
        waitForJobs: !rb.disableWaitForJobs,
        disableHooks: rb.disableHooks,
        cleanupOnFail: rb.cleanupOnFail,
        maxHistory: hr.spec.maxHistory,
        serverSide: ssa,
        force: rb.force,
        redact: ctx.redact,
        signal: ctx.signal,
      });
      if (wait.poll) {
        const rel = (await readAfter(ctx)).latest();
        if (rel) await waitForRelease(ctx, rel, { timeoutMs: Math.max(1000, timeoutMs - (Date.now() - started)), waitForJobs: !rb.disableWaitForJobs });
      }
    } catch (e) {
      err = e;
    }
    const after = await readAfter(ctx);
    const written = writtenSince(before, after);
    observeRollback(ctx, written);
    await recordInventory(ctx, written[0]);
    if (err !== undefined) {
      failure(ctx, prev, err);
      const newCur = latest(w.history);
      if (!newCur || (cur && newCur.digest === cur.digest)) throw err;
      return;
    }
    const msg = `Helm rollback to previous release ${fullReleaseName(prev)} with chart ${versionedChartName(prev)} succeeded`;
    w.mark('Remediated', 'True', 'RollbackSucceeded', msg);
    w.event({ severity: 'info', reason: 'RollbackSucceeded', message: msg, revision: prev.chartVersion, metadata: eventMeta(prev.chartVersion, ctx.valuesDigest, prev.appVersion, prev.ociDigest) });
  } finally {
    summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
  }
}

/** observeRollback: written revisions update their snapshot (action rollback), new ones are prepended. */
function observeRollback(ctx: ReleaseContext, written: StoredRelease[]): void {
  for (const rel of [...written].reverse()) {
    const i = ctx.w.history.findIndex((s) => targets(s, rel.name, rel.namespace, rel.version));
    if (i >= 0) {
      const snap = ctx.w.history[i];
      const next = snapshotOf(rel, { action: 'rollback', ociDigest: snap.ociDigest });
      if (snap.testHooks) next.testHooks = snap.testHooks;
      ctx.w.history[i] = next;
    } else {
      // Helm writes the new revision twice (pending, then deployed): the second write finds it in the history.
      ctx.w.history = [snapshotOf(rel, { action: 'rollback' }), ...ctx.w.history];
    }
  }
}

function failure(ctx: ReleaseContext, prev: Snapshot, err: unknown): void {
  const msg = `Helm rollback to previous release ${fullReleaseName(prev)} with chart ${versionedChartName(prev)} failed: ${cleanMessage(ctx, err)}`;
  ctx.w.increment('failures');
  ctx.w.mark('Remediated', 'False', 'RollbackFailed', msg);
  ctx.w.event({ severity: 'error', reason: 'RollbackFailed', message: msg, revision: prev.chartVersion, metadata: eventMeta(prev.chartVersion, ctx.valuesDigest, prev.appVersion, prev.ociDigest) });
}

/** The release Flux observes when an uninstall deletes the storage: the last revision, uninstalled. */
export function uninstalledRelease(rel: StoredRelease, at: Date): StoredRelease {
  const raw = structuredClone(rel.raw);
  const info = { ...((raw.info as Record<string, unknown> | undefined) ?? {}), status: 'uninstalled', deleted: at.toISOString(), description: 'Uninstallation complete' };
  raw.info = info;
  return { ...rel, raw, status: 'uninstalled', description: 'Uninstallation complete', deleted: at.toISOString() };
}

/**
 * Runs `helm uninstall` and records what it did on the latest snapshot (action
 * `uninstall` or `uninstall-remediation`). Returns the error helm reported, if any.
 */
export async function uninstallLatest(ctx: ReleaseContext, cur: Snapshot, action: 'uninstall' | 'uninstall-remediation'): Promise<unknown> {
  const u = ctx.hr.spec.uninstall;
  const before = ctx.lastSet;
  let err: unknown;
  try {
    const runner = await ctx.runner();
    await runner.uninstall({
      releaseName: cur.name,
      namespace: cur.namespace,
      timeoutMs: actionTimeoutMs(ctx, 'uninstall'),
      keepHistory: u.keepHistory,
      disableHooks: u.disableHooks,
      deletionPropagation: u.deletionPropagation,
      wait: !u.disableWait,
      ignoreNotFound: false,
      redact: ctx.redact,
      signal: ctx.signal,
    });
  } catch (e) {
    err = e;
  }
  const after = await readAfter(ctx);
  let rel = after.get(cur.version);
  if (!rel && err === undefined) {
    // Without keepHistory the storage is gone: record the uninstalled revision helm wrote before deleting it.
    const last = before?.get(cur.version);
    if (last) rel = uninstalledRelease(last, ctx.svc.now());
  }
  if (rel && rel.status !== before?.get(cur.version)?.status) {
    const i = ctx.w.history.findIndex((s) => targets(s, rel!.name, rel!.namespace, rel!.version));
    if (i >= 0) {
      const snap = ctx.w.history[i];
      const next = snapshotOf(rel, { action, ociDigest: snap.ociDigest });
      if (snap.testHooks) next.testHooks = snap.testHooks;
      ctx.w.history[i] = next;
    }
  }
  return err;
}

/** Uninstalls the failed release (see the module comment). */
export async function runUninstallRemediation(ctx: ReleaseContext): Promise<void> {
  const { w } = ctx;
  const cur = latest(w.history);
  if (!cur) throw new NoLatestError('to uninstall');
  const snapshotBefore = { ...cur };
  let err = await uninstallLatest(ctx, snapshotBefore, 'uninstall-remediation');
  const now = latest(w.history);
  if (err === undefined && snapshotBefore.digest === now?.digest) err = new Error('uninstall completed with error: release not updated in Helm storage');
  if (err !== undefined) {
    const msg = `Helm uninstall remediation for release ${fullReleaseName(now)} with chart ${versionedChartName(now)} failed: ${cleanMessage(ctx, err)}`;
    w.increment('failures');
    w.mark('Remediated', 'False', 'UninstallFailed', msg);
    w.event({ severity: 'error', reason: 'UninstallFailed', message: msg, revision: now?.chartVersion, metadata: eventMeta(now?.chartVersion ?? '', now?.configDigest ?? '', now?.appVersion, now?.ociDigest) });
    if (snapshotBefore.digest === now?.digest) throw err;
    return;
  }
  const msg = `Helm uninstall remediation for release ${fullReleaseName(now)} with chart ${versionedChartName(now)} succeeded`;
  w.mark('Remediated', 'True', 'UninstallSucceeded', msg);
  w.event({ severity: 'info', reason: 'UninstallSucceeded', message: msg, revision: now?.chartVersion, metadata: eventMeta(now?.chartVersion ?? '', now?.configDigest ?? '', now?.appVersion, now?.ociDigest) });
}
