/**
 * A ReleaseContext for the release a HelmRelease's status names (its latest snapshot and
 * storage namespace), without a chart or values: what uninstalling it after a target
 * change, or when the HelmRelease is deleted, needs.
 */
import type { HelmRelease } from '../../helm/release-spec.js';
import type { Target } from '../../kube/targets.js';
import type { ReconcileRequest, ReconcileServices } from '../../reconcile/contract.js';
import { REQUESTED_AT_ANNOTATION, helmGatesOf, type LoadedChart, type ReleaseContext } from './context.js';
import { latest } from './history.js';
import type { WorkingStatus } from './status-work.js';
import { helmForTarget } from './target.js';

/** A context for actions on the release the status names (target change, deletion) on `target`, without a chart. */
export function contextForStored(svc: ReconcileServices, req: ReconcileRequest, hr: HelmRelease, w: WorkingStatus, target: Target): ReleaseContext {
  const cur = latest(w.history);
  const stored: HelmRelease = cur ? { ...hr, releaseName: cur.name, releaseNamespace: cur.namespace, storageNamespace: w.f.storageNamespace ?? cur.namespace } : hr;
  const none: LoadedChart = { name: cur?.chartName ?? '', version: cur?.chartVersion ?? '', metadata: {}, data: Buffer.alloc(0), path: '', artifactDigest: '', crds: async () => ({ crds: [], ignored: [] }) };
  return {
    svc,
    key: req.key,
    log: req.log,
    signal: req.signal,
    hr: stored,
    rawSpec: (req.record.object?.spec ?? {}) as Record<string, unknown>,
    annotations: req.record.object?.metadata.annotations ?? {},
    requestedAt: req.record.object?.metadata.annotations?.[REQUESTED_AT_ANNOTATION] ?? req.record.requestedAt,
    w,
    chart: none,
    values: {},
    valuesDigest: cur?.configDigest ?? '',
    redact: [],
    initialObservedGeneration: Number(req.record.status.observedGeneration ?? 0),
    gates: helmGatesOf(svc.settings),
    target,
    runner: () => helmForTarget(svc, target),
  };
}
