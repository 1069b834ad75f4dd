/**
 * Who uses a source: the objects whose spec names it (Kustomization `sourceRef`, HelmRelease
 * `chartRef` / `chart.spec.sourceRef`, HelmChart `sourceRef`), found through the users index
 * (reverse-index.ts) without reading every record, to wake them when the source has a new
 * artifact. Users register themselves when they read the source (kinds/kustomization/source.ts).
 */
import type { ObjectKey } from '../kube/object.js';
import type { ReconcileServices, Wake } from './contract.js';
import { liveMembers, registerMember } from './reverse-index.js';

/** Registers `user` as reading `source` (call before reading the source's status). */
export async function registerSourceUser(svc: Pick<ReconcileServices, 'state'>, source: ObjectKey, user: ObjectKey): Promise<void> {
  await registerMember(svc.state, 'SourceUsersIndex', source, user);
}

/** Objects whose spec names `source` through `sourceRef` (Kustomization) or `chartRef`/`chart.spec.sourceRef` (HelmRelease). */
export async function sourceUsers(svc: Pick<ReconcileServices, 'state'>, source: ObjectKey, revision: string): Promise<Wake[]> {
  const live = await liveMembers(svc.state, 'SourceUsersIndex', source, (rec, m) => referencesSource(rec.object?.spec, m.namespace, source));
  return live.map(({ key }) => ({ key, reason: 'source', dedupKey: revision, revision }));
}

/** True when a spec's source reference (sourceRef, chartRef, chart.spec.sourceRef) names `source`. */
export function referencesSource(spec: unknown, ownNamespace: string, source: ObjectKey): boolean {
  const s = (spec ?? {}) as {
    sourceRef?: { kind?: string; name?: string; namespace?: string };
    chartRef?: { kind?: string; name?: string; namespace?: string };
    chart?: { spec?: { sourceRef?: { kind?: string; name?: string; namespace?: string } } };
    /** ArtifactGenerator `spec.sources`. */
    sources?: Array<{ kind?: string; name?: string; namespace?: string }>;
  };
  return [s.sourceRef, s.chartRef, s.chart?.spec?.sourceRef, ...(Array.isArray(s.sources) ? s.sources : [])].some(
    (r) => r?.kind === source.kind && r.name === source.name && (r.namespace ?? ownNamespace) === source.namespace,
  );
}

