/**
 * The test action (helm-controller internal/reconcile/test.go): `helm test` with the
 * filters, then the test hooks' results from storage into the latest snapshot's
 * `testHooks`; TestSuccess True or False with Flux's messages; a failed test counts toward
 * the active remediation unless its failures are ignored.
 */
import { snapshotOf, testHooksOf } from '../../helm/observation.js';
import { actionTimeoutMs, activeRemediation, type ReleaseContext } from './context.js';
import { eventMeta } from './drift.js';
import { fullReleaseName, hasBeenTested, latest, targets, versionedChartName } from './history.js';
import { cleanMessage } from './action-release.js';
import { readAfter } from './observe.js';
import { summarize } from './summarize.js';

/** The latest snapshot is missing (ErrNoLatest). */
export class NoLatestError extends Error {
  constructor(what: string) {
    super(`no latest release: required ${what}`);
  }
}

/** Runs the tests of the latest release (see the module comment). */
export async function runTest(ctx: ReleaseContext): Promise<void> {
  const { w, hr } = ctx;
  try {
    const cur = latest(w.history);
    if (!cur) throw new NoLatestError('for test');
    let err: unknown;
    try {
      const runner = await ctx.runner();
      await runner.test({ releaseName: hr.releaseName, namespace: hr.releaseNamespace, timeoutMs: actionTimeoutMs(ctx, 'test'), filters: hr.spec.test.filters, redact: ctx.redact, signal: ctx.signal });
    } catch (e) {
      err = e;
    }
    const rls = (await readAfter(ctx)).latest();
    if (rls && targets(cur, rls.name, rls.namespace, rls.version)) {
      const tested = snapshotOf(rls, { action: cur.action, ociDigest: cur.ociDigest });
      tested.testHooks = testHooksOf(rls, hr.spec.test.filters);
      w.history[0] = tested;
    } else if (rls && !err) {
      err = new Error(`release mismatch: tested release ${rls.namespace}/${rls.name}.v${rls.version} != current release ${cur.namespace}/${cur.name}.v${cur.version}`);
    }
    if (err !== undefined) {
      failure(ctx, err);
      if (!hasBeenTested(latest(w.history))) throw err;
      return;
    }
    success(ctx);
  } finally {
    summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
  }
}

function failure(ctx: ReleaseContext, err: unknown): void {
  const cur = latest(ctx.w.history);
  const msg = `Helm test failed for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}: ${cleanMessage(ctx, err)}`;
  ctx.w.increment('failures');
  ctx.w.mark('TestSuccess', 'False', 'TestFailed', msg);
  ctx.w.event({ severity: 'error', reason: 'TestFailed', message: msg, revision: cur?.chartVersion, metadata: eventMeta(cur?.chartVersion ?? '', cur?.configDigest ?? '', cur?.appVersion, cur?.ociDigest) });
  if (hasBeenTested(cur)) {
    const r = activeRemediation(ctx);
    if (r && !r.mustIgnoreTestFailures(ctx.hr.spec.test.ignoreFailures)) r.increment();
  }
}

function success(ctx: ReleaseContext): void {
  const cur = latest(ctx.w.history);
  const n = Object.keys(cur?.testHooks ?? {}).length;
  const hooks = n > 0 ? `${n} test ${n > 1 ? 'hooks' : 'hook'} completed successfully` : 'no test hooks';
  const msg = `Helm test succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}: ${hooks}`;
  ctx.w.mark('TestSuccess', 'True', 'TestSucceeded', msg);
  ctx.w.event({ severity: 'info', reason: 'TestSucceeded', message: msg, revision: cur?.chartVersion, metadata: eventMeta(cur?.chartVersion ?? '', cur?.configDigest ?? '', cur?.appVersion, cur?.ociDigest) });
}
