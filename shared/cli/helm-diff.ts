/**
 * `fluxless diff helmrelease NAME` (beyond Flux, as users ask in helm-controller#643): the
 * chart of the release's current source artifact rendered with its current values and
 * Flux's post-render chain (`helm template`, no cluster write), then compared with the
 * live cluster by server-side dry-run as the helm field manager (Helm's ownership metadata
 * added, namespaces defaulted); objects of the deployed release that the render no longer
 * has are listed as deleted; the chart's CRDs are compared unless its policy is Skip.
 * Secret data is masked and values taken from Secrets are never shown. Exit codes as
 * `diff kustomization`: 0 no differences, 1 differences, errors thrown (exit 2).
 */
import { ApplyEngine } from '../apply/engine.js';
import { renderDiff } from '../apply/diff.js';
import { parseHelmRelease, type HelmRelease } from '../helm/release-spec.js';
import { releaseTargetOf } from '../kinds/helmrelease/target.js';
import type { Target } from '../kube/targets.js';
import { listReleases } from '../helm/storage.js';
import { chartSourceKey, loadChart, sourceNotReady } from '../kinds/helmrelease/chart.js';
import { helmGatesOf } from '../kinds/helmrelease/context.js';
import { crdPolicyOf } from '../kinds/helmrelease/crds.js';
import { postRenderOf } from '../kinds/helmrelease/action-release.js';
import { HELM_FIELD_MANAGER } from '../kinds/helmrelease/drift.js';
import { defaultNamespaces, manifestObjects, withHelmMetadata } from '../kinds/helmrelease/manifest.js';
import { chartFilesDir, offlineHelmRunner } from '../kinds/helmrelease/runner.js';
import { redactText, resolveValues } from '../kinds/helmrelease/values.js';
import { fmtObject, type KubeObject } from '../kube/object.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord } from '../state/records.js';
import { FluxlessError, NotFoundError } from '../util/errors.js';

/** Options of the diff. */
export interface HelmDiffOptions {
  /** Print the rendered objects' full field changes (default true). */
  changes?: boolean;
}

/** Diffs a HelmRelease's render against the cluster (see the module comment). */
export async function helmDiffCmd(rt: Runtime, ns: string, name: string, opts: HelmDiffOptions = {}): Promise<{ code: number; text: string }> {
  const rec = await readRecord(rt.state, { kind: 'HelmRelease', namespace: ns, name });
  if (!rec?.object) throw new NotFoundError(`HelmRelease ${ns}/${name} not found`, { hint: "list HelmReleases with 'fluxless get helmreleases -A'" });
  const hr = parseHelmRelease(rec.object, { defaultNamespace: ns });
  const gates = helmGatesOf(rt.settings);
  const sourceKey = chartSourceKey(hr);
  const src = await readRecord(rt.state, sourceKey);
  if (!src?.object) throw new FluxlessError('ArtifactFailed', `the chart source ${sourceKey.kind} ${sourceKey.namespace}/${sourceKey.name} of HelmRelease ${ns}/${name} does not exist`, { hint: 'reconcile the HelmRelease first: it creates its HelmChart' });
  const notReady = sourceNotReady(sourceKey, src);
  if (notReady) throw new FluxlessError('SourceNotReady', notReady, { hint: `reconcile the source: 'fluxless reconcile helmrelease ${name} -n ${ns} --with-source'` });
  const chart = await loadChart(rt, { key: sourceKey, artifact: src.status.artifact! }, { gates, dir: chartFilesDir() });
  const { values, redact } = await resolveValues(rt.client, hr);
  const runner = await offlineHelmRunner(rt);
  // The release's own cluster and account (spec.kubeConfig, serviceAccountName), as the worker uses.
  const target = await releaseTargetOf(rt, hr);
  try {
    return await diffOnTarget(target, hr, chart, values, redact, runner, opts);
  } finally {
    target.release();
  }
}

async function diffOnTarget(
  target: Target,
  hr: HelmRelease,
  chart: Awaited<ReturnType<typeof loadChart>>,
  values: Record<string, unknown>,
  redact: string[],
  runner: Awaited<ReturnType<typeof offlineHelmRunner>>,
  opts: HelmDiffOptions,
): Promise<{ code: number; text: string }> {
  const stored = await listReleases(target.client, hr.storageNamespace, hr.releaseName);
  const manifest = await runner.template({
    releaseName: hr.releaseName,
    namespace: hr.releaseNamespace,
    chartPath: chart.path,
    values,
    isUpgrade: stored.latestVersion > 0,
    skipCrds: true,
    postRender: postRenderOf({ hr }),
    redact,
  });
  let objects = manifestObjects(manifest).map((o) => withHelmMetadata(o, hr.releaseName, hr.releaseNamespace));
  objects = await defaultNamespaces(objects, hr.releaseNamespace, target.mapper);
  const policy = crdPolicyOf({ hr }, stored.latestVersion > 0 ? 'upgrade' : 'install');
  if (policy !== 'Skip') objects.push(...(await chart.crds()).crds);
  const engine = new ApplyEngine(target.client, { fieldManager: HELM_FIELD_MANAGER }, target.mapper);
  const entries = await engine.applyAll(objects, { diffOnly: true, withChanges: opts.changes ?? true });
  const lines: string[] = [];
  for (const e of entries) {
    if (e.action === 'created') lines.push(`► ${e.subject} created`);
    else if (e.action === 'configured') lines.push(`► ${e.subject} drifted`, renderDiff(e.changes ?? [], objects.filter((o) => o.kind === 'Secret')));
  }
  const rendered = new Set(objects.map((o) => fmtObject(o)));
  const current = stored.all().filter((r) => r.status === 'deployed').at(-1);
  if (current) {
    const live: KubeObject[] = await defaultNamespaces(manifestObjects(current.manifest), current.namespace, target.mapper);
    for (const o of live) if (!rendered.has(fmtObject(o))) lines.push(`► ${fmtObject(o)} deleted`);
  }
  return { code: lines.length ? 1 : 0, text: redactText(lines.join('\n'), redact) };
}
