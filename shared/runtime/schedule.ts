/**
 * The scheduled trigger: every tick, enqueue what the due-time index says is due (sources
 * to poll, appliers to check for drift), reading only those markers, not every record.
 * When the index cannot be trusted (a new store, a scheduler that was away for an hour),
 * one full scan enqueues what is due, new or being finalized, and refiles the rest.
 */
import { fmtRef, type ObjectKey } from '../kube/object.js';
import { kindDescriptor, scheduledKinds } from '../kinds/descriptors.js';
import { bucketOf, dueSince, scheduleDue } from '../state/due-index.js';
import { corruptMessage, listRecords } from '../state/records.js';
import { log } from '../util/log.js';
import { errorMessage } from '../util/errors.js';
import type { Wake } from '../reconcile/contract.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';

/** What one tick enqueued. */
export interface TickResult {
  enqueued: Array<{ kind: string; namespace: string; name: string; reason: string }>;
  /** True when this tick scanned every record (the index was rebuilt). */
  rescanned: boolean;
}

/**
 * The target of a message that runs a kind's tick in the worker (its name is the kind): the
 * Lambda scheduler has no cluster, and checks such as the config watch list ConfigMaps.
 */
export const TICK_TARGET_KIND = 'SchedulerTick';
const TICK_NAMESPACE = 'fluxless';

/** Options of scheduleTick. */
export interface ScheduleOptions {
  /**
   * The scheduler cannot reach the cluster (the Lambda schedule function): each kind's tick
   * that has something to check is enqueued for the worker instead of run here.
   */
  noCluster?: boolean;
}

/** Runs `kind`'s tick and enqueues what it wakes (in the scheduler, or in the worker for a TICK_TARGET_KIND message). */
export async function runKindTick(rt: Runtime, kind: string): Promise<Wake[]> {
  const d = kindDescriptor(kind);
  if (!d?.tick) return [];
  let wakes: Wake[] = [];
  try {
    wakes = await d.tick(rt);
  } catch (err) {
    log.warn('scheduler check of a kind failed', { kind, error: errorMessage(err) });
  }
  for (const w of wakes) await enqueue(rt, w.key, w.reason, { dedupKey: w.dedupKey });
  return wakes;
}

/** Runs one scheduler tick. */
export async function scheduleTick(rt: Runtime, opts: ScheduleOptions = {}): Promise<TickResult> {
  const now = rt.now();
  const enqueued: TickResult['enqueued'] = [];
  const scan = await dueSince(rt.state, now.getTime());
  const push = async (key: ObjectKey, reason: string, dedupKey: string) => {
    await enqueue(rt, key, reason, { dedupKey });
    enqueued.push({ ...key, reason });
  };
  if (scan.rescan) {
    for (const kind of scheduledKinds()) {
      for (const read of await listRecords(rt.state, { kind: kind.kind })) {
        if (read.corrupt) {
          log.error('skipping an object whose state record is corrupt', { error: corruptMessage(read) });
          continue;
        }
        const rec = read.record;
        if (!rec?.object) continue;
        const spec = (rec.object.spec ?? {}) as { suspend?: boolean };
        const gen = `gen-${rec.object.metadata.generation ?? 0}`;
        if (rec.deleted) await push(read.key, 'finalize', 'finalize');
        else if (spec.suspend || rec.suspended) continue;
        else if (!rec.status.lastReconciledAt || rec.status.observedGeneration !== Number(rec.object.metadata.generation ?? 1)) await push(read.key, 'new', gen);
        else if (!rec.status.nextRunAt || Date.parse(rec.status.nextRunAt) <= now.getTime()) await push(read.key, kind.schedule!, `${kind.schedule}-${rec.status.nextRunAt}`);
        else await scheduleDue(rt.state, read.key, rec.status.nextRunAt);
      }
    }
  } else {
    for (const key of scan.due) {
      const kind = kindDescriptor(key.kind);
      if (!kind?.schedule) continue;
      // One message per due bucket: ticks before the worker gets to it collapse.
      await push(key, kind.schedule, `due-${bucketOf(now.getTime())}`);
    }
  }
  // Kinds with their own cheap checks (e.g. ConfigMaps labelled reconcile.fluxcd.io/watch).
  for (const k of scheduledKinds()) {
    if (!k.tick) continue;
    if (opts.noCluster) {
      if (!(await k.tickWanted?.(rt.state).catch(() => true) ?? true)) continue;
      await push({ kind: TICK_TARGET_KIND, namespace: TICK_NAMESPACE, name: k.kind }, 'tick', `tick-${bucketOf(now.getTime())}`);
      continue;
    }
    for (const w of await runKindTick(rt, k.kind)) enqueued.push({ ...w.key, reason: w.reason });
  }
  await scan.commit();
  if (enqueued.length) log.debug('scheduler enqueued', { objects: enqueued.map((e) => fmtRef(e)) });
  return { enqueued, rescanned: scan.rescan };
}
