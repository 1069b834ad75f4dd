/**
 * `spec.dependsOn` of a HelmRelease (helm-controller checkDependencies): every dependency
 * is a HelmRelease that must exist, have reconciled its generation and be Ready; a
 * `readyExpr` (CEL over `self` and `dep`) replaces that check unless the
 * AdditiveCELDependencyCheck gate is on. The dependent registers with each dependency
 * first, so a dependency that becomes Ready wakes it (reverse index, no scan); when this
 * release becomes Ready it wakes the ones waiting on it.
 */
import { ReadyExpression } from '../../cel/index.js';
import type { HelmRelease } from '../../helm/release-spec.js';
import type { ObjectKey } from '../../kube/object.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { liveMembers, registerMember } from '../../reconcile/reverse-index.js';
import { getCondition, isReady, readRecord, recordKey, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';
import type { HelmGates } from './context.js';

/** How often a HelmRelease whose dependencies are not ready retries (Flux: 30 s). */
export const DEPENDENCY_RETRY_MS = 30_000;

/** The HelmRelease fields a CEL expression sees as `self` / `dep`: the definition and its status. */
export function celView(rec: ObjectRecord): Record<string, unknown> {
  const obj = rec.object!;
  const { nextRunAt: _n, lastReconciledAt: _l, ...status } = rec.status;
  return { ...obj, metadata: { ...obj.metadata, generation: Number(obj.metadata.generation ?? 1) }, spec: obj.spec ?? {}, status };
}

/** The readyExpr programs of the dependencies (compile errors: Stalled InvalidCELExpression). */
export function compileReadyExprs(hr: HelmRelease): Array<ReadyExpression | undefined> {
  return hr.spec.dependsOn.map((d, i) => (d.readyExpr ? ReadyExpression.compile(d.readyExpr, `spec.dependsOn[${i}].readyExpr`) : undefined));
}

/** Throws DependencyNotReady unless every dependency is ready. */
export async function checkDependencies(svc: ReconcileServices, hr: HelmRelease, self: ObjectKey, selfRecord: ObjectRecord, exprs: Array<ReadyExpression | undefined>, gates: HelmGates): Promise<void> {
  const deps = hr.spec.dependsOn;
  if (!deps.length) return;
  for (const d of deps) await registerMember(svc.state, 'DependentsIndex', recordKey('HelmRelease', d.namespace, d.name), self);
  for (const [i, d] of deps.entries()) {
    const name = `${d.namespace}/${d.name}`;
    const rec = await readRecord(svc.state, recordKey('HelmRelease', d.namespace, d.name));
    if (!rec?.object || rec.deleted) {
      throw new ReconcileFailure('DependencyNotReady', `unable to get '${name}' dependency: helmreleases.helm.toolkit.fluxcd.io "${d.name}" not found`, { retryMs: DEPENDENCY_RETRY_MS });
    }
    const expr = exprs[i];
    if (expr) {
      let ready: boolean;
      try {
        ready = expr.isReady(celView(selfRecord), celView(rec));
      } catch (err) {
        throw new ReconcileFailure('DependencyNotReady', `failed to evaluate dependency ${d.name}: ${errorMessage(err)}`, { retryMs: DEPENDENCY_RETRY_MS, cause: err });
      }
      if (!ready) throw new ReconcileFailure('DependencyNotReady', `dependency '${name}' is not ready according to readyExpr eval`, { retryMs: DEPENDENCY_RETRY_MS });
      if (!gates.additiveCELDependencyCheck) continue;
    }
    const gen = Number(rec.object.metadata.generation ?? 1);
    if (gen !== Number(rec.status.observedGeneration ?? -1) || getCondition(rec, 'Ready')?.status !== 'True') {
      throw new ReconcileFailure('DependencyNotReady', `dependency '${name}' is not ready`, { retryMs: DEPENDENCY_RETRY_MS });
    }
  }
}

/** HelmReleases waiting on `self` (dependsOn) that are not Ready. */
export async function dependentsToWake(svc: ReconcileServices, self: ObjectKey, token: string): Promise<Wake[]> {
  const live = await liveMembers(svc.state, 'DependentsIndex', self, (rec, m) => {
    if (m.kind !== 'HelmRelease') return true;
    const deps = ((rec.object?.spec ?? {}) as { dependsOn?: Array<{ name: string; namespace?: string }> }).dependsOn ?? [];
    return deps.some((d) => d.name === self.name && (d.namespace ?? m.namespace) === self.namespace);
  });
  return live.filter(({ record }) => !isReady(record)).map(({ key }) => ({ key, reason: 'dependency', dedupKey: `dep-${token}` }));
}
