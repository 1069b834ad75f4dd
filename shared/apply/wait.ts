/** Waits between apply stages: CRDs Established, Namespaces usable, recreated objects gone. */
import { isNotFound } from '../kube/client.js';
import type { KubeObject } from '../kube/object.js';
import { ApplyFailedError, KubeApiUnavailableError, isAbort, isTransient, reasonOf } from './errors.js';
import { mapLimit } from './limit.js';
import type { EngineContext, Planned } from './types.js';

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Waits until a deleted object (recreate on immutable change) is gone. */
export async function waitGone(ctx: EngineContext, p: Planned): Promise<void> {
  const deadline = Date.now() + (ctx.opts.waitTimeoutMs ?? 60_000);
  for (;;) {
    try {
      await ctx.request('GET', p.path!);
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    if (Date.now() > deadline) throw new ApplyFailedError(`${p.subject} immutable field detected, timed out waiting for it to be deleted`);
    await sleep(ctx.opts.waitIntervalMs ?? 200);
  }
}

/** True when a stage-1/2 object can be used by the next stage. */
function isReady(p: Planned, live: KubeObject): boolean {
  if (p.obj.kind === 'CustomResourceDefinition') {
    const conds = (live.status as { conditions?: Array<{ type: string; status: string }> } | undefined)?.conditions ?? [];
    return conds.some((c) => c.type === 'Established' && c.status === 'True');
  }
  if (p.obj.kind === 'Namespace') return (live.status as { phase?: string } | undefined)?.phase !== 'Terminating';
  return true;
}

/**
 * Waits until the objects of a stage are ready (CRDs Established, Namespaces not
 * Terminating). Read errors are retried until the deadline; if the last one was the API
 * server not answering, that is the error (transient), else a timeout naming the objects.
 */
export async function waitReady(ctx: EngineContext, items: Planned[]): Promise<void> {
  const deadline = Date.now() + (ctx.opts.waitTimeoutMs ?? 60_000);
  const pending = items.filter((p) => p.action !== 'skipped' && p.path);
  let lastError: unknown;
  while (pending.length) {
    lastError = undefined;
    const states = await mapLimit(pending, ctx.concurrency, async (p) => {
      const live = await ctx.request<KubeObject>('GET', p.path!).catch((err: unknown) => {
        if (isAbort(err)) throw err;
        lastError = err;
        return undefined;
      });
      return live ? isReady(p, live) : false;
    });
    for (let i = pending.length - 1; i >= 0; i--) if (states[i]) pending.splice(i, 1);
    if (!pending.length) break;
    if (Date.now() > deadline) {
      const subjects = pending.map((p) => p.subject).join(', ');
      if (lastError !== undefined && isTransient(lastError)) {
        throw new KubeApiUnavailableError(`the Kubernetes API did not answer while waiting for [${subjects}] to become ready: ${reasonOf(lastError)}`, lastError);
      }
      throw new ApplyFailedError(`timeout waiting for: [${subjects}] to become ready`);
    }
    await sleep(ctx.opts.waitIntervalMs ?? 200);
  }
}
