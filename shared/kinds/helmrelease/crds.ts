/**
 * CRD policies (helm-controller internal/action/crds.go): helm gets `--skip-crds`, and the
 * CustomResourceDefinitions of the chart's `crds/` (and its subcharts') are applied here
 * before an install or upgrade, with the HelmRelease's origin labels, through Fluxless's
 * apply engine (server-side apply, forced), waiting for them to be established:
 * `Skip` applies nothing; `Create` (the default for both actions) creates the missing
 * ones and leaves existing ones alone; `CreateReplace` also updates existing ones (never
 * deletes). Non-CRD objects in `crds/` are ignored with a log line.
 */
import { ApplyEngine } from '../../apply/engine.js';
import type { CrdsPolicy } from '../../helm/release-spec.js';
import type { KubeObject } from '../../kube/object.js';
import { errorMessage } from '../../util/errors.js';
import type { ReleaseContext } from './context.js';

/** The policy of an action: `spec.<action>.crds`, else Create (install: Skip with the deprecated skipCRDs). */
export function crdPolicyOf(ctx: Pick<ReleaseContext, 'hr'>, action: 'install' | 'upgrade'): CrdsPolicy {
  const s = ctx.hr.spec;
  if (action === 'install') return s.install.crds ?? (s.install.skipCRDs ? 'Skip' : 'Create');
  return s.upgrade.crds ?? 'Create';
}

/** Applies the chart's CRDs under `policy`; throws `failed to apply CustomResourceDefinitions: ...`. */
export async function applyCrds(ctx: ReleaseContext, policy: CrdsPolicy): Promise<void> {
  if (policy === 'Skip') return;
  const { crds, ignored } = await ctx.chart.crds();
  if (ignored.length) {
    ctx.log.warn("ignoring non-CRD resources found in the chart's crds/ directory; move them to templates/ in the chart", { nonCRDs: ignored });
  }
  if (!crds.length) return;
  const labelled: KubeObject[] = crds.map((c) => ({
    ...c,
    metadata: {
      ...c.metadata,
      labels: { ...(c.metadata.labels ?? {}), 'helm.toolkit.fluxcd.io/name': ctx.hr.metadata.name, 'helm.toolkit.fluxcd.io/namespace': ctx.hr.metadata.namespace },
    },
  }));
  const engine = new ApplyEngine(ctx.target.client, { fieldManager: ctx.svc.fieldManager, signal: ctx.signal, waitTimeoutMs: 60_000 }, ctx.target.mapper);
  try {
    let todo = labelled;
    if (policy === 'Create') {
      const exists = await Promise.all(labelled.map((c) => engine.get(c)));
      todo = labelled.filter((_, i) => !exists[i]);
    }
    if (todo.length) {
      const entries = await engine.applyAll(todo);
      ctx.log.info(`applied CustomResourceDefinition(s) with policy ${policy}`, { changed: entries.filter((e) => e.action !== 'unchanged').length });
    }
  } catch (err) {
    throw new Error(`failed to apply CustomResourceDefinitions: ${errorMessage(err)}`, { cause: err });
  }
}
