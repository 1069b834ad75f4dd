/**
 * applyAll (fluxcd/pkg ssa ApplyAllStaged): plan every object (validation before any
 * write), then write what drifted stage by stage (cluster definitions, then `*Class`
 * kinds, each waited for, then the rest), kinds in Flux's order.
 *
 * Objects that cannot be dry-run yet (their CRD or Namespace is created by the same batch)
 * are validated right after the stage that creates what they need. Every error text that
 * leaves here has the batch's Secret values masked.
 */
import { isNotFound } from '../kube/client.js';
import { NoKindMatchError } from '../kube/mapper.js';
import { fmtObject, refOf, splitApiVersion, type KubeObject } from '../kube/object.js';
import { log } from '../util/log.js';
import { fieldDiff } from './diff.js';
import { ApplyFailedError, KubeApiUnavailableError, ValidationFailedError, isAbort, isTransient, reasonOf } from './errors.js';
import { appliedHash } from './hash.js';
import { withoutPaths } from './ignore.js';
import { mapLimit } from './limit.js';
import { isSecretObject, maskEchoedValues, maskError, secretMasker, type Masker } from './mask.js';
import { normalizeForApply } from './normalize.js';
import { planFromStamps } from './noop.js';
import { generationStamp } from './stamp-generation.js';
import { failures, planAll, serverSideApply, type Deferrable } from './plan.js';
import { compareObjects, kindRank, stageOf } from './sort.js';
import type { ApplyAllOptions, BatchMasker, ChangeEntry, EngineContext, Planned } from './types.js';
import { waitGone, waitReady } from './wait.js';

/** Errors this module made from masked text: the last boundary does not mask them again (subjects stay readable). */
const masked = new WeakSet<object>();
function clean<E extends object>(e: E): E {
  masked.add(e);
  return e;
}

/** Counts what a batch wrote, for the message of an interrupted apply. */
interface Progress {
  written: number;
}

/**
 * The batch's masker: values of every Secret in the batch (desired) and, for an error about
 * one object, of its live copy; for errors about a Secret also the shapes in which the API
 * server echoes values. Built on first use (only errors need it).
 */
function batchMasker(items: Planned[]): BatchMasker {
  let desired: Masker | undefined;
  return (text, p) => {
    desired ??= secretMasker(items.map((i) => i.obj));
    let out = desired(text);
    if (p?.existing && isSecretObject(p.existing)) out = secretMasker([p.existing])(out);
    if (p && (isSecretObject(p.obj) || isSecretObject(p.existing))) out = maskEchoedValues(out);
    return out;
  };
}

/** A write the API server did not answer (internal: writeOrdered reports it once its rank settled). */
class WriteInterrupted extends Error {
  constructor(
    readonly p: Planned,
    readonly err: unknown,
  ) {
    super(reasonOf(err));
  }
}

async function write(ctx: EngineContext, p: Planned, mask: BatchMasker, progress: Progress): Promise<void> {
  if (p.action === 'unchanged' || p.action === 'skipped') return;
  try {
    if (p.recreate && p.existing) {
      await ctx.request('DELETE', p.path!, { body: { propagationPolicy: 'Background' } }).catch((err: unknown) => {
        if (!isNotFound(err)) throw err;
      });
      await waitGone(ctx, p);
    }
    if (p.cleanup && p.existing) {
      await ctx.request('PATCH', p.path!, {
        body: p.cleanup,
        contentType: 'application/json-patch+json',
        query: { fieldManager: ctx.manager },
      });
    }
    const live = await serverSideApply(ctx, p, false);
    p.writtenVersion = live.metadata.resourceVersion;
    p.written = live;
    ctx.observed.set(refOf(p.obj), live);
    progress.written++;
  } catch (err) {
    if (isAbort(err)) throw err;
    maskError(err, (s) => mask(s, p));
    if (isTransient(err)) throw new WriteInterrupted(p, err);
    throw clean(new ApplyFailedError(`${p.subject} apply failed: ${reasonOf(err)}`, err));
  }
}

/**
 * Writes planned objects in sort order: same rank concurrently, ranks one after another.
 * After a failure no further write starts; the error is thrown once the writes in flight
 * have settled, so the message can say how far the batch got.
 */
async function writeOrdered(ctx: EngineContext, items: Planned[], mask: BatchMasker, progress: Progress): Promise<void> {
  const byRank = new Map<number, Planned[]>();
  for (const p of items) {
    const r = kindRank(p.obj.kind);
    if (!byRank.has(r)) byRank.set(r, []);
    byRank.get(r)!.push(p);
  }
  for (const r of [...byRank.keys()].sort((a, b) => a - b)) {
    try {
      await mapLimit(byRank.get(r)!, ctx.concurrency, (p) => write(ctx, p, mask, progress));
    } catch (err) {
      if (!(err instanceof WriteInterrupted)) throw err;
      throw clean(new KubeApiUnavailableError(
        `${err.p.subject} apply interrupted, the Kubernetes API did not answer: ${err.message}; ` +
          `${progress.written} object(s) of this batch were applied before, objects after ${err.p.obj.kind} in the apply order were not written; ` +
          'the next reconcile applies the rest',
        err.err,
      ));
    }
  }
}

function entry(ctx: EngineContext, p: Planned, withChanges: boolean, stamps: boolean): ChangeEntry {
  const e: ChangeEntry = {
    subject: fmtObject(p.obj),
    ref: refOf(p.obj),
    version: splitApiVersion(p.obj.apiVersion).version,
    action: p.action ?? 'unchanged',
  };
  if (withChanges && (p.action === 'configured' || p.action === 'created')) {
    const ignored = p.ignored ?? [];
    const live = p.recreate || !p.existing ? undefined : withoutPaths(p.existing, ignored);
    e.changes = fieldDiff(live, ignored.length && p.dryRun ? withoutPaths(p.dryRun, ignored) : (p.dryRun ?? p.obj));
  }
  if (stamps) {
    const settled = p.action === 'unchanged' || p.action === 'skipped';
    const rv = p.writtenVersion ?? (settled ? p.existing?.metadata.resourceVersion : undefined);
    const live = p.writtenVersion ? p.written : settled ? p.existing : undefined;
    if (rv) e.stamp = { resourceVersion: rv, hash: p.hash ?? appliedHash(ctx.manager, p.obj), ...generationStamp(p.obj, live) };
  }
  return e;
}

/** Throws the planning pass's first fatal error: cancellation as is, the API not answering as KubeApiUnavailableError. */
function throwFatal(items: Planned[], mask: BatchMasker, progress: Progress): void {
  const p = items.find((i) => i.fatal !== undefined);
  if (!p) return;
  const err = p.fatal;
  if (isAbort(err)) throw err;
  maskError(err, (s) => mask(s, p));
  const done = progress.written ? `${progress.written} object(s) of earlier stages were applied, the rest were not` : 'nothing was applied';
  throw clean(new KubeApiUnavailableError(`the Kubernetes API did not answer while planning ${p.subject}: ${reasonOf(err)}; ${done}`, err));
}

/**
 * Applies the objects. Returns one entry per object in apply order.
 * Throws ValidationFailedError (nothing written), KubeApiUnavailableError (transient: the
 * API server did not answer; what was written is in its message) or ApplyFailedError.
 */
export async function applyAll(ctx: EngineContext, objects: KubeObject[], opts: ApplyAllOptions = {}): Promise<ChangeEntry[]> {
  const sorted = objects.map(normalizeForApply).sort(compareObjects);
  const items: Planned[] = sorted.map((obj) => ({ obj, subject: fmtObject(obj) }));
  const mask = batchMasker(items);
  const progress: Progress = { written: 0 };
  try {
    const ids = new Set<string>();
    for (const p of items) {
      const id = `${p.obj.apiVersion.split('/')[0]}|${p.obj.kind}|${p.obj.metadata.namespace ?? ''}|${p.obj.metadata.name}`;
      if (ids.has(id)) p.error = 'the object is defined more than once';
      ids.add(id);
    }
    // What this batch itself creates: CRD kinds and Namespaces.
    const batchKinds = new Set<string>();
    const batchNamespaces = new Set<string>();
    for (const o of sorted) {
      if (o.kind === 'CustomResourceDefinition') {
        const spec = o.spec as { group?: string; names?: { kind?: string } } | undefined;
        if (spec?.group && spec.names?.kind) batchKinds.add(`${spec.group}|${spec.names.kind}`);
      }
      if (o.kind === 'Namespace') batchNamespaces.add(o.metadata.name);
    }
    const deferrable: Deferrable = (p, err) => {
      if (err instanceof NoKindMatchError) return batchKinds.has(`${splitApiVersion(p.obj.apiVersion).group}|${p.obj.kind}`);
      if (isNotFound(err) && p.obj.metadata.namespace && batchNamespaces.has(p.obj.metadata.namespace)) return true;
      return false;
    };
    if (opts.lastApplied) await planFromStamps(ctx, items, opts.lastApplied, mask);
    await planAll(ctx, items.filter((p) => !p.error && !p.action), deferrable, mask, opts.likelyNew, opts.ignore);
    throwFatal(items, mask, progress);
    const failed = failures(items);
    if (failed.length) throw clean(new ValidationFailedError(failed));

    const withChanges = opts.withChanges ?? opts.diffOnly ?? false;
    if (opts.diffOnly) {
      // Deferred objects cannot be dry-run without writing their CRD/Namespace: report them as created.
      for (const p of items) if (p.deferred) p.action = 'created';
      return items.map((p) => entry(ctx, p, withChanges, false));
    }

    for (const stage of [1, 2, 3] as const) {
      const inStage = items.filter((p) => stageOf(p.obj.kind) === stage);
      if (!inStage.length) continue;
      const deferred = inStage.filter((p) => p.deferred);
      if (deferred.length) {
        for (const p of deferred) p.deferred = false;
        ctx.mapper.invalidate();
        await planAll(ctx, deferred, () => false, mask, undefined, opts.ignore);
        throwFatal(deferred, mask, progress);
        const f = failures(deferred);
        if (f.length) throw clean(new ValidationFailedError(f));
      }
      const toWrite = inStage.filter((p) => p.action !== 'unchanged' && p.action !== 'skipped');
      await writeOrdered(ctx, toWrite, mask, progress);
      if (stage < 3 && toWrite.length) {
        await waitReady(ctx, inStage);
        if (toWrite.some((p) => p.obj.kind === 'CustomResourceDefinition')) ctx.mapper.invalidate();
      }
    }
    const entries = items.map((p) => entry(ctx, p, withChanges, Boolean(opts.lastApplied)));
    log.debug('applied', { objects: entries.length, changed: entries.filter((e) => e.action !== 'unchanged').length });
    return entries;
  } catch (err) {
    // Whatever leaves the engine: no Secret value of this batch in it (the errors above are
    // masked where they were made; this also covers anything unexpected).
    if (err instanceof Object && masked.has(err)) throw err;
    throw maskError(err, (s) => mask(s));
  }
}
