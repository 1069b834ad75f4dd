/**
 * The cheap no-op check (opt-in with applyAll's `lastApplied`). An object whose desired
 * hash equals the hash we stored at our last apply, and whose live resourceVersion is still
 * the one we stored, cannot have drifted: every write to an object, by any field manager,
 * moves its resourceVersion (for kinds with a generation, a move by status writes alone is
 * recognised too: stamp-generation.ts). So one LIST per kind and namespace (a GET for a lone object)
 * tells which stamped objects are unchanged; the others get the usual dry-run, with the
 * listed object standing in for the GET.
 */
import { RestMapper } from '../kube/mapper.js';
import { refOf, type KubeObject, type ObjectRef } from '../kube/object.js';
import { shouldSkip } from './annotations.js';
import { isAbort } from './errors.js';
import { appliedHash } from './hash.js';
import { mapLimit } from './limit.js';
import { resolve } from './plan.js';
import { onlyStatusMoved } from './stamp-generation.js';
import { takeoverPatch } from './takeover.js';
import type { AppliedStamp, BatchMasker, EngineContext, Planned } from './types.js';

/** Items per LIST page. */
const PAGE = 1000;

interface ListGroup {
  /** The collection path (kind in a namespace). */
  path: string;
  items: Array<{ p: Planned; stamp: AppliedStamp }>;
}

/** Labels every object of the group sets: a selector that keeps the LIST to (about) ours. */
function commonLabels(items: Planned[]): string | undefined {
  let common: Map<string, string> | undefined;
  for (const { obj } of items) {
    const labels = obj.metadata.labels ?? {};
    if (!common) common = new Map(Object.entries(labels));
    else for (const [k, v] of common) if (labels[k] !== v) common.delete(k);
    if (!common.size) return undefined;
  }
  return common?.size ? [...common].map(([k, v]) => `${k}=${v}`).join(',') : undefined;
}

async function listAll(ctx: EngineContext, path: string, labelSelector: string | undefined): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  let cont: string | undefined;
  do {
    const page = await ctx.request<{ items?: KubeObject[]; metadata?: { continue?: string } }>('GET', path, {
      query: { labelSelector, limit: PAGE, continue: cont },
    });
    out.push(...(page.items ?? []));
    cont = page.metadata?.continue || undefined;
  } while (cont);
  return out;
}

/** Reads the live objects of one group: a GET for one object, else a LIST. Undefined when the read failed. */
async function readGroup(ctx: EngineContext, g: ListGroup): Promise<Map<string, KubeObject> | undefined> {
  try {
    if (g.items.length === 1) {
      const { p } = g.items[0]!;
      const live = await ctx.request<KubeObject>('GET', p.path!).catch((err: unknown) => {
        if ((err as { status?: number }).status === 404) return undefined;
        throw err;
      });
      return new Map(live ? [[p.obj.metadata.name, live]] : []);
    }
    const list = await listAll(ctx, g.path, commonLabels(g.items.map((x) => x.p)));
    return new Map(list.map((o) => [o.metadata.name, o]));
  } catch (err) {
    if (isAbort(err)) throw err;
    return undefined; // the usual path reads them one by one (and reports what fails)
  }
}

/**
 * Computes every item's appliedHash, then settles the stamped, unchanged ones from one
 * read per kind and namespace: `unchanged` (or `skipped`, as the usual path would say)
 * when the live resourceVersion is the stamped one. Items whose object moved keep no
 * action but get the listed object as `existing` (their plan skips the GET). Items that
 * cannot be mapped yet, or are missing from the LIST, are left to the usual path.
 */
export async function planFromStamps(ctx: EngineContext, items: Planned[], lastApplied: (ref: ObjectRef) => AppliedStamp | undefined, mask: BatchMasker): Promise<void> {
  const groups = new Map<string, ListGroup>();
  for (const p of items) {
    if (p.error) continue;
    const stamp = lastApplied(refOf(p.obj));
    try {
      if (!(await resolve(ctx, p, mask))) continue;
    } catch (err) {
      if (isAbort(err)) throw err;
      continue; // not mappable yet (CRD in this batch) or discovery failed: the usual path decides
    }
    p.hash = appliedHash(ctx.manager, p.obj);
    if (!stamp || stamp.hash !== p.hash || !stamp.resourceVersion) continue;
    const path = RestMapper.path(p.mapping!, p.obj.metadata.namespace);
    let g = groups.get(path);
    if (!g) groups.set(path, (g = { path, items: [] }));
    g.items.push({ p, stamp });
  }
  await mapLimit([...groups.values()], ctx.concurrency, async (g) => {
    const live = await readGroup(ctx, g);
    if (!live) return;
    for (const { p, stamp } of g.items) {
      const found = live.get(p.obj.metadata.name);
      if (!found) continue;
      // LIST items carry no apiVersion/kind.
      const obj: KubeObject = { ...found, apiVersion: p.obj.apiVersion, kind: p.obj.kind };
      p.existing = obj;
      p.existingKnown = true;
      // Moved since our apply: unchanged still when only its status was written (stamp-generation.ts).
      const moved = obj.metadata.resourceVersion !== stamp.resourceVersion && !onlyStatusMoved(stamp, p.obj, obj);
      if (moved || takeoverPatch(ctx.manager, p.obj, obj)) continue;
      if (shouldSkip(p.obj, obj)) p.action = 'skipped';
      else {
        p.action = 'unchanged';
        ctx.observed.set(refOf(p.obj), obj);
      }
    }
  });
}
