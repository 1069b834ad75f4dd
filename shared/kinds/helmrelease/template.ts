/**
 * The HelmChart a HelmRelease generates from `spec.chart` (helm-controller
 * internal/reconcile/helmchart_template.go): `<namespace>-<name>` in the chart's source
 * namespace, a definition in the state store with origin HelmRelease, created or updated
 * (its generation bumped) when the template changes, and removed when the release
 * switches to `spec.chartRef`, moves it, or is deleted. Its reconciler is the HelmChart
 * kind's, woken when the definition changes.
 */
import { helmChartFromRelease, type HelmChart } from '../../helm/chart-spec.js';
import type { HelmRelease } from '../../helm/release-spec.js';
import type { KubeObject, ObjectKey } from '../../kube/object.js';
import type { ReconcileServices, Wake } from '../../reconcile/contract.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import { recordKey, type ObjectRecord } from '../../state/records.js';

/** The definition of a generated HelmChart, as the HelmChart kind reads it. */
export function chartDefinition(c: HelmChart): KubeObject {
  const spec: Record<string, unknown> = {
    chart: c.spec.chart,
    version: c.spec.version,
    sourceRef: { kind: c.spec.sourceRef.kind, name: c.spec.sourceRef.name },
    interval: c.spec.interval,
    reconcileStrategy: c.spec.reconcileStrategy,
  };
  if (c.spec.valuesFiles.length) spec.valuesFiles = c.spec.valuesFiles;
  if (c.spec.ignoreMissingValuesFiles) spec.ignoreMissingValuesFiles = true;
  if (c.spec.verify) spec.verify = { provider: c.spec.verify.provider, ...(c.spec.verify.secretRef ? { secretRef: c.spec.verify.secretRef } : {}) };
  return {
    apiVersion: c.apiVersion,
    kind: 'HelmChart',
    metadata: {
      name: c.metadata.name,
      namespace: c.metadata.namespace,
      ...(c.metadata.labels ? { labels: c.metadata.labels } : {}),
      ...(c.metadata.annotations ? { annotations: c.metadata.annotations } : {}),
    },
    spec,
  };
}

function ownedBy(cur: ObjectRecord | undefined, hr: { namespace: string; name: string }): boolean {
  return cur?.origin?.by === 'HelmRelease' && cur.origin.namespace === hr.namespace && cur.origin.name === hr.name;
}

/** Marks a generated HelmChart deleted (its reconciler finalizes it); the wake for it, if it was ours. */
export async function removeGeneratedChart(svc: ReconcileServices, ref: string | undefined, hr: { namespace: string; name: string }): Promise<Wake[]> {
  if (!ref) return [];
  const [ns, name] = ref.split('/');
  if (!ns || !name) return [];
  const key = recordKey('HelmChart', ns, name);
  const res = await svc.state.update<ObjectRecord>(key, (cur) => (cur && ownedBy(cur, hr) && !cur.deleted ? { ...cur, deleted: true } : undefined));
  return res?.value.deleted ? [{ key, reason: 'dependency', dedupKey: 'finalize' }] : [];
}

/**
 * Creates or updates the HelmChart of `spec.chart` (or removes the old one for
 * `spec.chartRef`). Returns the wakes and the `status.helmChart` value.
 */
export async function syncChartTemplate(svc: ReconcileServices, hr: HelmRelease, current: string | undefined): Promise<{ wake: Wake[]; helmChart?: string }> {
  const owner = { namespace: hr.metadata.namespace, name: hr.metadata.name };
  const c = helmChartFromRelease(hr);
  if (!c) return { wake: await removeGeneratedChart(svc, current, owner) };
  const ref = `${c.metadata.namespace}/${c.metadata.name}`;
  const wake: Wake[] = current && current !== ref ? await removeGeneratedChart(svc, current, owner) : [];
  const key: ObjectKey = recordKey('HelmChart', c.metadata.namespace, c.metadata.name);
  const desired = chartDefinition(c);
  let conflict: string | undefined;
  let generation = 0;
  await svc.state.update<ObjectRecord>(key, (cur) => {
    if (cur?.object && !cur.deleted && !ownedBy(cur, owner)) {
      conflict = cur.origin?.by === 'Kustomization' ? `Kustomization ${cur.origin.namespace}/${cur.origin.name}` : (cur.origin?.by ?? 'another object');
      return undefined;
    }
    const prev = cur?.object;
    const same =
      prev &&
      !cur?.deleted &&
      JSON.stringify(prev.spec) === JSON.stringify(desired.spec) &&
      JSON.stringify(prev.metadata.labels ?? {}) === JSON.stringify(desired.metadata.labels ?? {}) &&
      JSON.stringify(prev.metadata.annotations ?? {}) === JSON.stringify(desired.metadata.annotations ?? {});
    if (same) return undefined;
    generation = Number(prev?.metadata.generation ?? 0) + 1;
    return {
      ...(cur ?? { status: {} }),
      object: { ...desired, metadata: { ...desired.metadata, generation } },
      deleted: false,
      origin: { by: 'HelmRelease', namespace: owner.namespace, name: owner.name },
    };
  });
  if (conflict) {
    throw new ReconcileFailure('HelmChartTemplateError', `failed to create HelmChart '${ref}' for the spec.chart template: a HelmChart of that name is defined by ${conflict}`, {
      stalled: true,
    });
  }
  if (generation) wake.push({ key, reason: 'dependency', dedupKey: `gen-${generation}` });
  return { wake, helmChart: ref };
}
