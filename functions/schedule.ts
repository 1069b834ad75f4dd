/**
 * The schedule function (EventBridge, every minute): writes the bootstrap objects when the
 * configuration changed (two reads when it did not), then enqueues what is due: sources to
 * poll, Kustomizations to check for drift, definitions to finalize.
 */
import { lambdaRuntime, type LambdaContextLike } from '../shared/runtime/lambda.js';
import { bootstrap } from '../shared/runtime/bootstrap.js';
import { enqueue } from '../shared/runtime/enqueue.js';
import { scheduleTick } from '../shared/runtime/schedule.js';
import { log } from '../shared/util/log.js';

/** An EventBridge scheduled event (the fields we read). */
export interface ScheduledEvent {
  'detail-type'?: string;
  source?: string;
  time?: string;
  id?: string;
  resources?: string[];
}

export interface ScheduleSummary {
  /** Bootstrap objects whose definition was written by this run. */
  bootstrapped: Array<{ kind: string; namespace: string; name: string }>;
  /** Reconciles enqueued, with the reason. */
  enqueued: Array<{ kind: string; namespace: string; name: string; reason: string }>;
  /** The event's time, when given. */
  time?: string;
}

export async function handler(event: ScheduledEvent = {}, context?: LambdaContextLike): Promise<ScheduleSummary> {
  // The scheduler never talks to the cluster: it needs no kubeconfig.
  const { rt, cfg } = await lambdaRuntime({ cluster: false });
  const bootstrapped = await bootstrap(rt, cfg);
  const tick = await scheduleTick(rt, { noCluster: true });
  const enqueued = [...tick.enqueued];
  // A changed (not new) bootstrap object is not due by the tick's rules: reconcile it now.
  for (const key of bootstrapped) {
    if (enqueued.some((e) => e.kind === key.kind && e.namespace === key.namespace && e.name === key.name)) continue;
    await enqueue(rt, key, 'bootstrap', { dedupKey: `bootstrap-${rt.now().getTime()}` });
    enqueued.push({ ...key, reason: 'bootstrap' });
  }
  const summary: ScheduleSummary = { bootstrapped, enqueued, ...(event.time ? { time: event.time } : {}) };
  log.info('schedule tick', { bootstrapped: bootstrapped.length, enqueued: enqueued.length, requestId: context?.awsRequestId });
  return summary;
}
