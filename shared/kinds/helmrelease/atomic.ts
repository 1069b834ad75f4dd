/**
 * helm-controller's AtomicRelease (internal/reconcile/atomic_release.go): determine the
 * release state, pick the next action for it (install, upgrade, test, rollback or
 * uninstall remediation, unlock, drift correction), run it, and repeat until nothing is
 * left to do, an action type would run twice, or a remediation ran. Retries and
 * remediation follow the active strategy; exhausted retries stall the object.
 */
import { observationDigest } from '../../helm/observation.js';
import { errorMessage } from '../../util/errors.js';
import { formatGoDuration } from '../../util/duration.js';
import { runRelease } from './action-release.js';
import { MissingRollbackTargetError, runRollbackRemediation, runUninstallRemediation } from './action-remediate.js';
import { runTest } from './action-test.js';
import { runUnlock } from './action-unlock.js';
import { FORCE_ANNOTATION, actionTimeoutMs, activeRemediation, activeRetry, handleAnnotationRequest, remediationOf, type ReleaseContext } from './context.js';
import { correctDrift, summarizeDrift } from './drift.js';
import { fullReleaseName, latest, previous, truncate, truncateIgnoringPrevious, versionedChartName } from './history.js';
import { determineReleaseState, type ReleaseState } from './state.js';
import { summarize } from './summarize.js';

/** Action types (ReconcilerType): each runs at most once per reconcile. */
type ActionType = 'release' | 'test' | 'remediate' | 'unlock' | 'drift';

interface NextAction {
  name: string;
  type: ActionType;
  timeoutMs: number;
  run(ctx: ReleaseContext): Promise<void>;
}

/** How the atomic release ended. */
export type AtomicOutcome =
  | { kind: 'done' }
  /** RetryOnFailure: run again after the retry interval. */
  | { kind: 'retryAfter'; ms: number }
  /** Run again now (a remediation ran, or an action must follow). */
  | { kind: 'requeue' }
  /** Retries exhausted or no rollback target: Stalled until the spec changes. */
  | { kind: 'stalled'; error: Error }
  /** An action failed without writing a release, or the state could not be read: retried. */
  | { kind: 'error'; error: unknown };

/** Retries exhausted (ErrExceededMaxRetries). */
export class ExceededMaxRetriesError extends Error {}

const install = (ctx: ReleaseContext): NextAction => ({ name: 'install', type: 'release', timeoutMs: actionTimeoutMs(ctx, 'install'), run: (c) => runRelease(c, 'install') });
const upgrade = (ctx: ReleaseContext): NextAction => ({ name: 'upgrade', type: 'release', timeoutMs: actionTimeoutMs(ctx, 'upgrade'), run: (c) => runRelease(c, 'upgrade') });

/** actionForState: the next action for a state (undefined: nothing to do); throws when stalled. */
async function actionForState(ctx: ReleaseContext, state: ReleaseState): Promise<NextAction | undefined> {
  const { w, hr } = ctx;
  const forceRequested = handleAnnotationRequest(ctx, FORCE_ANNOTATION, 'lastHandledForceAt');
  switch (state.status) {
    case 'InSync': {
      if (activeRetry(ctx)) w.history = truncateIgnoringPrevious(w.history);
      else {
        const r = activeRemediation(ctx);
        const ignore = r ? r.mustIgnoreTestFailures(hr.spec.test.ignoreFailures) : hr.spec.test.ignoreFailures;
        w.history = truncate(w.history, ignore);
      }
      if (forceRequested) return upgrade(ctx);
      if (w.isTrue('Remediated')) {
        const cur = latest(w.history);
        w.replace('Remediated', 'Released', 'UpgradeSucceeded', `Helm upgrade succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`, 'True');
      }
      if (!w.isReady() || !w.isTrue('Released')) {
        const reason = w.get('Released')?.reason;
        const to = reason === 'InstallFailed' ? ['InstallSucceeded', 'install'] : reason === 'UpgradeFailed' ? ['UpgradeSucceeded', 'upgrade'] : undefined;
        if (to) {
          const cur = latest(w.history);
          w.mark('Released', 'True', to[0], `Helm ${to[1]} succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`);
          summarize(w, { spec: hr.spec, rawSpec: ctx.rawSpec });
        }
      }
      if (hr.spec.driftDetection.mode !== 'disabled') w.mark('Drifted', 'False', 'NoDriftDetected', 'No drift detected against the cluster state');
      return undefined;
    }
    case 'Locked':
      ctx.log.info(`release locked: ${state.reason}`);
      return { name: 'unlock', type: 'unlock', timeoutMs: hr.spec.timeoutMs, run: runUnlock };
    case 'Absent':
      if (remediationOf(ctx, 'install').retriesExhausted()) {
        if (forceRequested) return install(ctx);
        throw new ExceededMaxRetriesError('exceeded maximum retries: cannot install release');
      }
      return install(ctx);
    case 'Unmanaged':
      ctx.log.info(`release not managed by object: ${state.reason}`);
      w.history = [];
      return upgrade(ctx);
    case 'OutOfSync':
      if (remediationOf(ctx, 'upgrade').retriesExhausted()) {
        if (forceRequested) return upgrade(ctx);
        throw new ExceededMaxRetriesError('exceeded maximum retries: cannot upgrade release');
      }
      return upgrade(ctx);
    case 'Drifted': {
      const diff = state.diff ?? [];
      const msg = `Cluster state of release ${fullReleaseName(latest(w.history))} has drifted from the desired state:\n${summarizeDrift(diff)}`;
      const cur = latest(w.history);
      w.event({ severity: 'error', reason: 'DriftDetected', message: msg, revision: cur?.chartVersion });
      w.mark('Drifted', 'True', 'DriftDetected', msg);
      if (hr.spec.driftDetection.mode === 'enabled') return { name: 'correct cluster drift', type: 'drift', timeoutMs: hr.spec.timeoutMs, run: (c) => correctDrift(c, diff) };
      return undefined;
    }
    case 'Untested':
      if (w.isTrue('Remediated')) {
        const cur = latest(w.history);
        w.replace('Remediated', 'Released', 'UpgradeSucceeded', `Helm upgrade succeeded for release ${fullReleaseName(cur)} with chart ${versionedChartName(cur)}`, 'True');
      }
      return { name: 'test', type: 'test', timeoutMs: actionTimeoutMs(ctx, 'test'), run: runTest };
    case 'Failed': {
      if (activeRetry(ctx)) {
        w.history = truncateIgnoringPrevious(w.history);
        return upgrade(ctx);
      }
      const r = activeRemediation(ctx);
      if (!r) return upgrade(ctx);
      if (r.failureCount() <= 0) return upgrade(ctx);
      if (forceRequested) return upgrade(ctx);
      if (r.retriesExhausted() && !r.mustRemediateLastFailure()) throw new ExceededMaxRetriesError('exceeded maximum retries: cannot remediate failed release');
      const ignore = r.mustIgnoreTestFailures(hr.spec.test.ignoreFailures);
      w.history = truncate(w.history, ignore);
      if (r.getStrategy() === 'rollback') {
        const prev = previous(w.history, ignore);
        if (!prev) throw new MissingRollbackTargetError('cannot remediate failed release');
        // VerifySnapshot: a target gone from storage or changed there is not rolled back to: upgrade instead.
        const stored = state.set.get(prev.version);
        if (!stored || (prev.apiVersion === 'v2' && observationDigest(stored, { ociDigest: prev.ociDigest }) !== prev.digest)) {
          ctx.log.info('unable to verify previous release in storage to roll back to: release digest verification error');
          return upgrade(ctx);
        }
        return { name: 'rollback', type: 'remediate', timeoutMs: actionTimeoutMs(ctx, 'rollback'), run: runRollbackRemediation };
      }
      return { name: 'uninstall', type: 'remediate', timeoutMs: actionTimeoutMs(ctx, 'uninstall'), run: runUninstallRemediation };
    }
  }
}

function stalledExhausted(ctx: ReleaseContext): void {
  const r = activeRemediation(ctx);
  ctx.w.markStalled('RetriesExceeded', `Failed to ${ctx.w.f.lastAttemptedReleaseAction ?? 'release'} after ${r?.failureCount() ?? 0} attempt(s)`);
}

/**
 * Runs the atomic release (see the module comment). `progress` persists the status before
 * a release action (Ready=Unknown, Reconciling with the action), so observers see it.
 */
export async function runAtomicRelease(ctx: ReleaseContext, progress: () => Promise<void>): Promise<AtomicOutcome> {
  const { w } = ctx;
  const previousTypes = new Set<ActionType>();
  for (;;) {
    if (ctx.signal?.aborted) return { kind: 'error', error: new Error('atomic release canceled') };
    let state: ReleaseState;
    try {
      state = await determineReleaseState(ctx);
    } catch (err) {
      w.mark('Ready', 'False', 'StateError', `Could not determine release state: ${errorMessage(err)}`);
      return { kind: 'error', error: err };
    }
    ctx.lastSet = state.set;
    let next: NextAction | undefined;
    try {
      next = await actionForState(ctx, state);
    } catch (err) {
      if (err instanceof ExceededMaxRetriesError) {
        stalledExhausted(ctx);
        return { kind: 'stalled', error: err };
      }
      if (err instanceof MissingRollbackTargetError) {
        w.markStalled('MissingRollbackTarget', `Failed to perform remediation: ${err.message}`);
        return { kind: 'stalled', error: err };
      }
      return { kind: 'error', error: err };
    }
    if (!next) {
      w.delete('Reconciling');
      summarize(w, { spec: ctx.hr.spec, rawSpec: ctx.rawSpec });
      return { kind: 'done' };
    }
    if (previousTypes.has(next.type)) {
      const retry = activeRetry(ctx);
      if (retry) {
        w.markReconciling('ProgressingWithRetry', `retrying after ${formatGoDuration(retry.retryIntervalMs)}`);
        return { kind: 'retryAfter', ms: retry.retryIntervalMs };
      }
      const r = activeRemediation(ctx);
      if (!r || !r.retriesExhausted()) {
        w.markReconciling('ProgressingWithRetry', w.get('Ready')?.message ?? '');
        return { kind: 'requeue' };
      }
      w.delete('Reconciling');
      return { kind: 'done' };
    }
    const msg = `Running '${next.name}' action with timeout of ${formatGoDuration(next.timeoutMs)}`;
    w.markReconciling('Progressing', msg);
    if (next.type === 'release') {
      w.mark('Ready', 'Unknown', 'Progressing', msg);
      await progress();
    }
    ctx.log.info(`running '${next.name}' action with timeout of ${formatGoDuration(next.timeoutMs)}`);
    ctx.settledSet = undefined;
    try {
      await next.run(ctx);
    } catch (err) {
      ctx.settledSet = undefined;
      const retry = activeRetry(ctx);
      if (retry) {
        ctx.log.warn(`failed to run '${next.name}' action`, { error: errorMessage(err) });
        w.markReconciling('ProgressingWithRetry', `retrying after ${formatGoDuration(retry.retryIntervalMs)}`);
        return { kind: 'retryAfter', ms: retry.retryIntervalMs };
      }
      if (w.isReady()) w.mark('Ready', 'False', 'ReconcileError', errorMessage(err));
      return { kind: 'error', error: err };
    }
    if (next.type === 'remediate') {
      const retry = activeRetry(ctx);
      if (retry) {
        w.markReconciling('ProgressingWithRetry', `retrying after ${formatGoDuration(retry.retryIntervalMs)}`);
        return { kind: 'retryAfter', ms: retry.retryIntervalMs };
      }
      const r = activeRemediation(ctx);
      if (!r || !r.retriesExhausted() || r.isUninstallAfterUpgrade()) {
        w.markReconciling('ProgressingWithRetry', w.get('Ready')?.message ?? '');
        return { kind: 'requeue' };
      }
      stalledExhausted(ctx);
      return { kind: 'stalled', error: new ExceededMaxRetriesError('exceeded maximum retries') };
    }
    previousTypes.add(next.type);
  }
}
