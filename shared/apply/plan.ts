/**
 * Planning (fluxcd/pkg ssa's dry-run half of Apply): per object, GET + server-side dry-run
 * apply, and the drift decision: created, configured, unchanged or skipped. Nothing is
 * written here; a failure is recorded on the object (masked) for the validation report.
 */
import { KubeApiError, isNotFound } from '../kube/client.js';
import { NoKindMatchError } from '../kube/mapper.js';
import { refOf, type KubeObject, type ObjectRef } from '../kube/object.js';
import { FORCE_ANNOTATION, shouldForce, shouldSkip } from './annotations.js';
import { hasDrifted } from './diff.js';
import { isAbort, isImmutableError, isTransient, reasonOf } from './errors.js';
import { IGNORE_ROOT, driftedIgnoredPaths, resolvePayload, withoutPaths, type IgnoreRules } from './ignore.js';
import { mapLimit } from './limit.js';
import { takeoverPatch } from './takeover.js';
import type { BatchMasker, EngineContext, Planned } from './types.js';

/** May this planning error wait for a later stage (its CRD or Namespace is in the batch)? */
export type Deferrable = (p: Planned, err: unknown) => boolean;

/**
 * Server-side apply of `p.obj` (forced: we own what we apply), as a dry-run or for real;
 * the real write sends `p.payload` when `spec.ignore` resolved some paths.
 */
export function serverSideApply(ctx: EngineContext, p: Planned, dryRun: boolean): Promise<KubeObject> {
  return ctx.request<KubeObject>('PATCH', p.path!, {
    query: { fieldManager: ctx.manager, force: true, dryRun: dryRun ? 'All' : undefined },
    body: dryRun ? p.obj : (p.payload ?? p.obj),
    contentType: 'application/apply-patch+yaml',
  });
}

/**
 * Flux's hasDriftedWithIgnore: the ignored paths (matched on the dry-run object) are taken
 * out of both copies before they are compared; the root pointer ignores the whole object.
 */
function driftedWithIgnore(p: Planned, ignore: IgnoreRules | undefined): boolean {
  if (!ignore || !p.existing?.metadata.resourceVersion) return hasDrifted(p.existing, p.dryRun!);
  const paths = ignore.pathsFor(p.dryRun!);
  p.ignored = paths.length ? paths : undefined;
  if (!paths.length) return hasDrifted(p.existing, p.dryRun!);
  if (paths.includes(IGNORE_ROOT)) return false;
  return hasDrifted(withoutPaths(p.existing, paths), withoutPaths(p.dryRun!, paths));
}

/**
 * Maps the object to its REST path and checks its namespace (set on namespaced kinds,
 * dropped from cluster-scoped ones, as the API would ignore it). False when it recorded
 * an error. Throws what the mapper throws (NoKindMatchError, discovery failures).
 */
export async function resolve(ctx: EngineContext, p: Planned, mask: BatchMasker): Promise<boolean> {
  if (p.path) return true;
  const { mapping, path } = await ctx.mapper.objectPath(p.obj);
  if (!mapping.namespaced && p.obj.metadata.namespace) {
    // kustomize may set a namespace on cluster-scoped objects; the API ignores it.
    p.obj = { ...p.obj, metadata: { ...p.obj.metadata, namespace: undefined } };
    delete p.obj.metadata.namespace;
  } else if (mapping.namespaced && !p.obj.metadata.namespace) {
    p.error = mask('namespace not specified: set metadata.namespace or the Kustomization spec.targetNamespace', p);
    return false;
  }
  p.mapping = mapping;
  p.path = path;
  return true;
}

/** GET + dry-run one object and decide what to do with it. Never throws (errors land on `p`). */
async function planOne(
  ctx: EngineContext,
  p: Planned,
  deferrable: Deferrable,
  mask: BatchMasker,
  likelyNew?: (ref: ObjectRef) => boolean,
  ignore?: IgnoreRules,
): Promise<void> {
  try {
    if (!(await resolve(ctx, p, mask))) return;
    const path = p.path!;
    if (!p.existingKnown && likelyNew?.(refOf(p.obj))) {
      // Not applied before: dry-run straight away; a GET would only say "not found".
      if (shouldSkip(p.obj, undefined)) {
        p.action = 'skipped';
        return;
      }
      const dry = await serverSideApply(ctx, p, true).catch((err: unknown) => {
        if (isAbort(err) || isTransient(err)) throw err;
        return undefined;
      });
      if (dry && !dry.metadata.resourceVersion) {
        p.existing = undefined;
        p.dryRun = dry;
        p.action = 'created';
        return;
      }
      // It exists after all, or the dry-run failed: the usual path decides, live object in hand.
    }
    if (!p.existingKnown) {
      try {
        p.existing = await ctx.request<KubeObject>('GET', path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        p.existing = undefined;
      }
    }
    if (shouldSkip(p.obj, p.existing)) {
      p.action = 'skipped';
      return;
    }
    try {
      p.dryRun = await serverSideApply(ctx, p, true);
    } catch (err) {
      if (p.existing && isImmutableError(err) && shouldForce(ctx.opts.force, p.obj, p.existing)) {
        p.recreate = true;
        p.action = 'created';
        return;
      }
      if (isImmutableError(err) && p.existing && err instanceof KubeApiError && /immutable/i.test(err.message)) {
        p.error = `${mask(reasonOf(err), p)}; set spec.force: true or annotate the object with ${FORCE_ANNOTATION}: Enabled to recreate it`;
        return;
      }
      throw err;
    }
    p.cleanup = takeoverPatch(ctx.manager, p.obj, p.existing);
    if (
      !p.cleanup &&
      p.existing &&
      p.dryRun.metadata.resourceVersion !== p.existing.metadata.resourceVersion &&
      driftedWithIgnore(p, ignore)
    ) {
      // The object changed between our GET (or LIST) and the dry-run (a controller wrote
      // to it): compare against the version the dry-run was based on.
      p.existing = await ctx.request<KubeObject>('GET', path);
      p.dryRun = await serverSideApply(ctx, p, true);
    }
    if (driftedWithIgnore(p, ignore) || p.cleanup) {
      p.action = p.dryRun.metadata.resourceVersion ? 'configured' : 'created';
      if (p.ignored && p.existing && p.action === 'configured') {
        p.payload = resolvePayload(p.obj, driftedIgnoredPaths(p.existing, p.dryRun, p.ignored, ctx.manager));
      }
    } else {
      p.action = 'unchanged';
      if (p.existing) ctx.observed.set(refOf(p.obj), p.existing);
    }
  } catch (err) {
    if (isAbort(err) || isTransient(err)) {
      p.fatal = err;
      return;
    }
    if (deferrable(p, err)) {
      p.deferred = true;
      return;
    }
    p.error = mask(err instanceof NoKindMatchError ? err.message : reasonOf(err), p);
  }
}

/**
 * Plans the objects, `concurrency` at a time. The first fatal error (the API server not
 * answering, cancellation) stops it: no further object is started, so a dead API server
 * costs one request timeout, not one per object.
 */
export async function planAll(
  ctx: EngineContext,
  items: Planned[],
  deferrable: Deferrable,
  mask: BatchMasker,
  likelyNew?: (ref: ObjectRef) => boolean,
  ignore?: IgnoreRules,
): Promise<void> {
  await mapLimit(items, ctx.concurrency, async (p) => {
    await planOne(ctx, p, deferrable, mask, likelyNew, ignore);
    if (p.fatal !== undefined) throw p.fatal;
  }).catch((err: unknown) => {
    if (!items.some((p) => p.fatal === err)) throw err;
  });
}

/** The validation failures of planned objects. */
export function failures(items: Planned[]): Array<{ subject: string; reason: string }> {
  return items.filter((p) => p.error).map((p) => ({ subject: p.subject, reason: p.error! }));
}
