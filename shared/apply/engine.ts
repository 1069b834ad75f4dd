/**
 * The server-side apply engine, following fluxcd/pkg/ssa: per object GET + server-side
 * dry-run apply, write only what drifted, staged (cluster definitions, then `*Class`
 * kinds, each waited for, then the rest), in Flux's sort order; prune in reverse order.
 *
 * ApplyEngine is the facade; each verb lives in its own module: plan.ts (GET/dry-run and
 * the drift decision), noop.ts (the LIST-based no-op check), apply.ts (staged writes),
 * delete.ts (prune), wait.ts (waits between stages), observe.ts (reads and what was seen
 * live), errors.ts, mask.ts (Secret values out of every error text and diff).
 */
import type { KubeClient } from '../kube/client.js';
import { RestMapper } from '../kube/mapper.js';
import type { KubeObject, ObjectRef } from '../kube/object.js';
import { applyAll } from './apply.js';
import { deleteAll } from './delete.js';
import { ObservedObjects, getObject, getRef } from './observe.js';
import type { ApplyAllOptions, ApplyOptions, ChangeEntry, DeleteOptions, DeleteResult, EngineContext, EngineRequest } from './types.js';

export {
  FLUX_PREFIX,
  FORCE_ANNOTATION,
  LAST_APPLIED,
  PRUNE_ANNOTATION,
  RECONCILE_ANNOTATION,
  SSA_ANNOTATION,
} from './annotations.js';
export { ApplyFailedError, KubeApiUnavailableError, ValidationFailedError, type ValidationFailure } from './errors.js';
export { appliedHash } from './hash.js';
export { IgnoreRules, type IgnoreRule } from './ignore.js';
export { CompiledSelector, LabelSelector, type ObjectSelector } from './selector.js';
export { mapLimit } from './limit.js';
export { maskSecretValues } from './mask.js';
/** Types of ApplyEngine's options and results: actions, change entries, applied stamps and deletes. */
export type { Action, AppliedStamp, ApplyAllOptions, ApplyOptions, ChangeEntry, DeleteOptions, DeleteResult } from './types.js';

/** Applies, diffs and prunes sets of objects on one cluster with one field manager. */
export class ApplyEngine {
  readonly mapper: RestMapper;
  private readonly ctx: EngineContext;

  constructor(
    readonly client: KubeClient,
    opts: ApplyOptions = {},
    mapper?: RestMapper,
  ) {
    this.mapper = mapper ?? new RestMapper(client);
    const signal = opts.signal;
    const timeoutMs = opts.requestTimeoutMs;
    this.ctx = {
      client,
      mapper: this.mapper,
      manager: opts.fieldManager ?? 'fluxless',
      concurrency: opts.concurrency ?? 24,
      opts,
      observed: new ObservedObjects(),
      request: <T>(method: string, path: string, ro: EngineRequest = {}) =>
        client.request<T>(method, path, {
          query: ro.query,
          body: ro.body,
          contentType: ro.contentType,
          signal: ro.noSignal ? undefined : signal,
          timeoutMs,
        }),
    };
  }

  /** The live copy of an object (apiVersion/kind/namespace/name), undefined when it does not exist. */
  get(obj: { apiVersion: string; kind: string; metadata: { name: string; namespace?: string } }): Promise<KubeObject | undefined> {
    return getObject(this.ctx, obj);
  }

  /**
   * The object as this engine last saw it live (the response of its apply, or the read that
   * found it unchanged), if it did: a health check's first look without another request.
   */
  observed(ref: ObjectRef): KubeObject | undefined {
    return this.ctx.observed.get(ref);
  }

  /** The live copy of a reference (at `version`, else the server's preferred version). */
  getRef(ref: ObjectRef, version?: string): Promise<KubeObject | undefined> {
    return getRef(this.ctx, ref, version);
  }

  /**
   * Applies the objects. Returns one entry per object in apply order.
   * Throws ValidationFailedError (nothing written), KubeApiUnavailableError (the API server
   * did not answer: transient) or ApplyFailedError. Secret values are masked in every error.
   */
  applyAll(objects: KubeObject[], opts: ApplyAllOptions = {}): Promise<ChangeEntry[]> {
    return applyAll(this.ctx, objects, opts);
  }

  /**
   * Deletes objects (prune), in reverse apply order. Only objects whose labels match
   * `ownerLabels` and that are not annotated `prune: disabled` are deleted.
   */
  deleteAll(refs: Array<ObjectRef & { version?: string }>, opts: DeleteOptions = {}): Promise<DeleteResult> {
    return deleteAll(this.ctx, refs, opts);
  }
}
