/**
 * Drift detection and correction (helm-controller internal/action/diff.go and
 * internal/reconcile/correct_cluster_drift.go), on Fluxless's apply engine: every object
 * of the stored manifest (Helm's ownership metadata added, namespaces defaulted) is
 * server-side dry-run applied with force as the field manager helm used (`helm`), minus
 * the `driftDetection.ignore` paths, and compared with the live object; objects labelled
 * or annotated `helm.toolkit.fluxcd.io/driftDetection: disabled` are excluded. Correction
 * (mode `enabled`) applies the drifted objects again with the same manager (no helm
 * command, no new revision); `warn` only reports.
 */
import { ApplyEngine, type ChangeEntry } from '../../apply/engine.js';
import { IgnoreRules } from '../../apply/ignore.js';
import type { StoredRelease } from '../../helm/storage.js';
import { inMetadata, type KubeObject } from '../../kube/object.js';
import { errorMessage } from '../../util/errors.js';
import type { ReleaseContext } from './context.js';
import { fullReleaseName, latest } from './history.js';
import { defaultNamespaces, manifestObjects, withHelmMetadata } from './manifest.js';

/** The field manager the helm CLI applies with. */
export const HELM_FIELD_MANAGER = 'helm';
/** The label/annotation that excludes an object from drift detection. */
export const DRIFT_DETECTION_KEY = 'helm.toolkit.fluxcd.io/driftDetection';

/** One object's drift: missing from the cluster (`removed`), changed, or excluded. */
export interface DriftEntry {
  type: 'removed' | 'changed' | 'excluded';
  object: KubeObject;
  /** `Kind/namespace/name`. */
  subject: string;
  additions: number;
  changes: number;
  removals: number;
}

/** True when some object is missing or changed. */
export function hasChanges(set: readonly DriftEntry[]): boolean {
  return set.some((d) => d.type === 'removed' || d.type === 'changed');
}

/** helm-controller's SummarizeDiffSet: one line per object. */
export function summarizeDrift(set: readonly DriftEntry[]): string {
  return set
    .map((d) => (d.type === 'removed' ? `${d.subject} removed` : d.type === 'excluded' ? `${d.subject} excluded` : `${d.subject} changed (${d.additions} additions, ${d.changes} changes, ${d.removals} removals)`))
    .join('\n');
}

/** helm-controller's SummarizeDiffSetBrief. */
export function summarizeDriftBrief(set: readonly DriftEntry[]): string {
  const n = (t: DriftEntry['type']) => set.filter((d) => d.type === t).length;
  return `removed: ${n('removed')}, changed: ${n('changed')}, excluded: ${n('excluded')}`;
}

/** The engine drift detection and correction use (the helm field manager, forced). */
function engineOf(ctx: Pick<ReleaseContext, 'target' | 'signal'>): ApplyEngine {
  return new ApplyEngine(ctx.target.client, { fieldManager: HELM_FIELD_MANAGER, signal: ctx.signal }, ctx.target.mapper);
}

/** The manifest objects of a release as they should be live. */
export async function desiredObjects(ctx: Pick<ReleaseContext, 'target'>, rel: StoredRelease): Promise<KubeObject[]> {
  const objects = manifestObjects(rel.manifest).map((o) => withHelmMetadata(o, rel.name, rel.namespace));
  return defaultNamespaces(objects, rel.namespace, ctx.target.mapper);
}

function entryOf(e: ChangeEntry, object: KubeObject): DriftEntry {
  const changes = e.changes ?? [];
  return {
    type: e.action === 'created' ? 'removed' : 'changed',
    object,
    subject: e.subject,
    additions: changes.filter((c) => c.op === 'add').length,
    changes: changes.filter((c) => c.op === 'change').length,
    removals: changes.filter((c) => c.op === 'remove').length,
  };
}

/** Diffs the stored release's objects against the cluster (see the module comment). */
export async function detectDrift(ctx: Pick<ReleaseContext, 'target' | 'signal' | 'hr'>, rel: StoredRelease): Promise<DriftEntry[]> {
  const all = await desiredObjects(ctx, rel);
  const excluded = all.filter((o) => inMetadata(o, DRIFT_DETECTION_KEY, 'disabled'));
  const objects = all.filter((o) => !excluded.includes(o));
  const ignore = IgnoreRules.compile(ctx.hr.spec.driftDetection.ignore, 'spec.driftDetection.ignore');
  const entries = objects.length ? await engineOf(ctx).applyAll(objects, { diffOnly: true, withChanges: true, ignore }) : [];
  const bySubject = new Map(objects.map((o) => [`${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`, o]));
  const out: DriftEntry[] = [];
  for (const e of entries) {
    if (e.action !== 'created' && e.action !== 'configured') continue;
    out.push(entryOf(e, bySubject.get(e.subject) ?? objects[0]));
  }
  for (const o of excluded) out.push({ type: 'excluded', object: o, subject: `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`, additions: 0, changes: 0, removals: 0 });
  return out;
}

/**
 * Corrects drift (mode `enabled`): applies the missing and changed objects again. Emits
 * Flux's DriftCorrected or DriftCorrectionFailed event; never fails the reconcile.
 */
export async function correctDrift(ctx: ReleaseContext, set: readonly DriftEntry[]): Promise<void> {
  const targets = set.filter((d) => d.type !== 'excluded');
  if (ctx.hr.spec.driftDetection.mode !== 'enabled' || targets.length === 0) return;
  ctx.w.mark('Ready', 'Unknown', 'Progressing', 'correcting cluster drift');
  const cur = latest(ctx.w.history);
  const meta = driftEventMeta(ctx);
  const ignore = IgnoreRules.compile(ctx.hr.spec.driftDetection.ignore, 'spec.driftDetection.ignore');
  try {
    const applied = await engineOf(ctx).applyAll(
      targets.map((d) => d.object),
      { ignore },
    );
    const done = applied.filter((e) => e.action === 'created' || e.action === 'configured');
    if (done.length) {
      ctx.w.event({
        severity: 'info',
        reason: 'DriftCorrected',
        message: `Cluster state of release ${fullReleaseName(cur)} has been corrected:\n${done.map((e) => `${e.subject} ${e.action}`).join('\n')}`,
        ...meta,
      });
    }
  } catch (err) {
    ctx.w.event({ severity: 'error', reason: 'DriftCorrectionFailed', message: `Failed to correct cluster state of release ${fullReleaseName(cur)}:\n${errorMessage(err)}`, ...meta });
  }
}

function driftEventMeta(ctx: ReleaseContext): { revision?: string; metadata?: Record<string, string> } {
  const cur = latest(ctx.w.history);
  if (!cur) return {};
  return { revision: cur.chartVersion, metadata: eventMeta(cur.chartVersion, cur.configDigest, cur.appVersion, cur.ociDigest) };
}

/** helm-controller's event metadata: revision (chart version), token (config digest), app version, OCI digest. */
export function eventMeta(revision: string, token: string, appVersion?: string, ociDigest?: string): Record<string, string> {
  const m: Record<string, string> = {};
  if (revision) m['helm.toolkit.fluxcd.io/revision'] = revision;
  if (token) m['helm.toolkit.fluxcd.io/token'] = token;
  if (appVersion) m['helm.toolkit.fluxcd.io/app-version'] = appVersion;
  if (ociDigest) m['helm.toolkit.fluxcd.io/oci-digest'] = ociDigest;
  return m;
}
