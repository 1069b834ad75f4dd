/**
 * What an action wrote to Helm's storage, and how helm-controller records it: the
 * revisions written during the action (new ones, and existing ones whose status changed)
 * become `status.history` snapshots (observedReleases.recordOnObject), and the newest
 * one's manifest (plus the chart's CRDs) becomes `status.inventory`. The CLI writes the
 * storage, so "observed" means read back (listReleasesAfterWrite: from the API server's
 * watch cache, at least as new as the action's last write) and compared with the LIST made
 * before the action.
 */
import { snapshotOf, type Snapshot } from '../../helm/observation.js';
import { listReleasesAfterWrite, type ReleaseSet, type StoredRelease } from '../../helm/storage.js';
import type { ReleaseContext } from './context.js';
import { targets } from './history.js';
import { defaultNamespaces, inventoryOf, manifestObjects } from './manifest.js';

/**
 * The storage after an action (on the release's target). Helm's last write of an action is
 * to the revision it created (one past the newest before it) or to that newest one.
 */
export function readAfter(ctx: ReleaseContext): Promise<ReleaseSet> {
  const newest = ctx.lastSet?.latestVersion ?? 0;
  return listReleasesAfterWrite(ctx.target.client, ctx.hr.storageNamespace, ctx.hr.releaseName, [newest + 1, newest], ctx.signal);
}

/** Revisions in `after` that are new, or whose status differs from `before`, newest first. */
export function writtenSince(before: ReleaseSet | undefined, after: ReleaseSet): StoredRelease[] {
  const prev = new Map((before?.headers ?? []).map((h) => [h.version, h.status]));
  const out: StoredRelease[] = [];
  for (const h of after.headers) {
    if (prev.get(h.version) === h.status) continue;
    const r = after.get(h.version);
    if (r) out.push(r);
  }
  return out.sort((a, b) => b.version - a.version);
}

/** observedReleases.recordOnObject: the newest written revision is prepended, an older one updated in place. */
export function recordOnHistory(ctx: ReleaseContext, written: StoredRelease[], mutate: { action?: Snapshot['action']; ociDigest?: string }): void {
  if (!written.length) return;
  const [newest, ...older] = written;
  ctx.w.history = [snapshotOf(newest, { action: mutate.action, ociDigest: mutate.ociDigest }), ...ctx.w.history.filter((s) => !targets(s, newest.name, newest.namespace, newest.version))];
  for (const rel of older) {
    const i = ctx.w.history.findIndex((s) => targets(s, rel.name, rel.namespace, rel.version));
    if (i < 0) continue;
    const snap = ctx.w.history[i];
    const next = snapshotOf(rel, { ociDigest: snap.ociDigest });
    if (snap.testHooks) next.testHooks = snap.testHooks;
    ctx.w.history[i] = next;
    return;
  }
}

/** observeInventory: `status.inventory` from a release's manifest and the chart's CRDs. */
export async function recordInventory(ctx: ReleaseContext, rel: StoredRelease | undefined): Promise<void> {
  if (!rel) return;
  try {
    const objects = await defaultNamespaces(manifestObjects(rel.manifest), rel.namespace, ctx.target.mapper);
    const { crds } = await ctx.chart.crds();
    ctx.w.f.inventory = { entries: inventoryOf(objects, crds) };
  } catch (err) {
    ctx.w.event({ severity: 'error', reason: 'InventoryBuildFailed', message: `failed to build inventory for ${ctx.hr.metadata.namespace}/${ctx.hr.metadata.name}: ${err instanceof Error ? err.message : String(err)}` });
  }
}
