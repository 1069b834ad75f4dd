/**
 * helm-controller's DetermineReleaseState (internal/reconcile/state.go): the state of the
 * release in Helm's storage compared with the HelmRelease (its history, chart, values,
 * post-renderers, tests and, when enabled, the cluster): Absent, Locked, Unmanaged,
 * Failed, OutOfSync, Untested, Drifted or InSync. One LIST of the release's Secrets (or the
 * read an install or upgrade just made, `settledSet`); only the newest revision is decoded.
 */
import { observationDigest } from '../../helm/observation.js';
import { listReleases, type ReleaseSet } from '../../helm/storage.js';
import { activeRemediation, type ReleaseContext } from './context.js';
import { detectDrift, hasChanges, type DriftEntry } from './drift.js';
import { hasBeenTested, hasTestInPhase, latest } from './history.js';
import { specCommonMetadataDigest, specPostRenderersDigest } from './summarize.js';

/** The release states. */
export type ReleaseStatus = 'Absent' | 'Locked' | 'Unmanaged' | 'Failed' | 'OutOfSync' | 'Untested' | 'Drifted' | 'InSync';

/** A determined state, the reason for it, and the storage read to determine it. */
export interface ReleaseState {
  status: ReleaseStatus;
  reason?: string;
  /** The drift, for Drifted. */
  diff?: DriftEntry[];
  set: ReleaseSet;
}

/** The state could not be determined (Flux: Ready=False StateError). */
export class ReleaseStateError extends Error {}

/** Determines the release state (see the module comment). */
export async function determineReleaseState(ctx: ReleaseContext): Promise<ReleaseState> {
  const { hr, w } = ctx;
  const set = ctx.settledSet ?? (await listReleases(ctx.target.client, hr.storageNamespace, hr.releaseName, ctx.signal));
  ctx.settledSet = undefined;
  const rls = set.latest();
  if (!rls) return { status: 'Absent', reason: 'no release in storage for object', set };
  if (rls.status.startsWith('pending-')) return { status: 'Locked', reason: `release with status '${rls.status}'`, set };
  if (w.history.length === 0) {
    if (rls.status === 'uninstalled') return { status: 'Absent', reason: 'found uninstalled release in storage', set };
    return { status: 'Unmanaged', reason: 'found existing release in storage', set };
  }
  const cur = latest(w.history)!;
  if (cur.apiVersion === 'v2') {
    if (!/^sha256:[0-9a-f]{64}$/.test(cur.digest)) return { status: 'Unmanaged', reason: 'release digest verification error', set };
    if (observationDigest(rls, { ociDigest: cur.ociDigest }) !== cur.digest) return { status: 'Unmanaged', reason: 'release not observed to be made for object', set };
  }
  switch (rls.status) {
    case 'failed':
      return { status: 'Failed', set };
    case 'uninstalled':
      return { status: 'Absent', reason: 'found uninstalled release in storage', set };
    case 'deployed': {
      if (rls.chart.name !== ctx.chart.name || rls.chart.version !== ctx.chart.version) return { status: 'OutOfSync', reason: 'release chart changed', set };
      if (cur.configDigest !== ctx.valuesDigest) return { status: 'OutOfSync', reason: 'release config values changed', set };
      if (ctx.initialObservedGeneration !== w.generation) {
        if (specPostRenderersDigest({ spec: hr.spec, rawSpec: ctx.rawSpec }) !== (w.f.observedPostRenderersDigest ?? '')) {
          return { status: 'OutOfSync', reason: 'postrenderers digest has changed', set };
        }
        if (specCommonMetadataDigest({ spec: hr.spec, rawSpec: ctx.rawSpec }) !== (w.f.observedCommonMetadataDigest ?? '')) {
          return { status: 'OutOfSync', reason: 'common metadata digest has changed', set };
        }
      }
      const test = hr.spec.test;
      if (test.enable) {
        if (!hasBeenTested(cur)) return { status: 'Untested', set };
        const remediation = activeRemediation(ctx);
        if (remediation && !remediation.mustIgnoreTestFailures(test.ignoreFailures) && hasTestInPhase(cur, 'Failed')) {
          return { status: 'Failed', reason: 'release has test in failed phase', set };
        }
      }
      if (hr.spec.driftDetection.mode !== 'disabled') {
        let diff: DriftEntry[];
        try {
          diff = await detectDrift(ctx, rls);
        } catch (err) {
          throw new ReleaseStateError(`unable to determine cluster state: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        if (hasChanges(diff)) return { status: 'Drifted', diff, set };
      }
      return { status: 'InSync', set };
    }
    default:
      throw new ReleaseStateError(`unable to determine state for release with status '${rls.status}'`);
  }
}
