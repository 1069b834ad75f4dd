/**
 * Health polling with Flux's semantics (fluxcd/pkg/ssa WaitForSet with FailFast): every
 * round fetches all objects concurrently and computes their kstatus; the wait succeeds
 * once all are Current, fails as soon as one is Failed (stalled), and otherwise gives up
 * at the timeout, naming what was not ready. Missing objects (NotFound) are not ready.
 *
 * The fetcher is injected, so this module does not depend on a Kubernetes client.
 */
import { ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { sleep } from '../util/time.js';
import { computeStatus } from './kstatus.js';
import type { ComputeOptions, HealthStatus } from './kstatus.js';
import type { KubeObject, ObjectRef } from './types.js';

/** Flux polls every 5 seconds. */
export const DEFAULT_POLL_INTERVAL_MS = 5_000;

/**
 * Fetches the live object, or null when it does not exist. Any thrown error counts as
 * "status Unknown" for that round (the wait goes on, as kstatus does). The signal aborts
 * when the wait is over (timeout, cancellation), so a slow request can be dropped.
 */
export type GetObject = (ref: ObjectRef, signal?: AbortSignal) => Promise<KubeObject | null>;

/** Options of waitForHealth: the fetcher, timeout, poll intervals, already-known objects, and cancellation. */
export interface WaitForHealthOptions {
  get: GetObject;
  /** Give up after this long (ms). */
  timeoutMs: number;
  /** Time between rounds (ms). Default 5000, like Flux. */
  intervalMs?: number;
  /**
   * First time between rounds (ms); each later one doubles, up to intervalMs. Objects that
   * become ready within a second are then seen within a second, not after Flux's 5 s.
   * Default: intervalMs from the first round.
   */
  initialIntervalMs?: number;
  /**
   * What is already known of an object (the response of the apply that wrote it): used
   * instead of a fetch in the first round. undefined: fetch it.
   */
  initial?: (ref: ObjectRef) => KubeObject | undefined;
  /** Fetch objects again after they were seen Current (default true, as Flux does). */
  recheckCurrent?: boolean;
  /** Cancels the wait (the result is then `Cancelled`). */
  signal?: AbortSignal;
  /** Passed to computeStatus (`now` is taken per round). */
  statusOptions?: Omit<ComputeOptions, 'now'>;
}

/** The last known health of one object in a health wait. */
export interface ObjectHealth {
  ref: ObjectRef;
  /** `Kind/namespace/name` (or `Kind/name` for cluster-scoped objects), as Flux prints it. */
  id: string;
  status: HealthStatus;
  message: string;
  /** Set when the last fetch failed (status is then Unknown). */
  error?: string;
  /** False when no round finished for this object before the wait ended. */
  observed: boolean;
}

/** How a health wait ended: all Current, one Failed (fail fast), timed out, or cancelled. */
export type HealthOutcome = 'Current' | 'Failed' | 'Timeout' | 'Cancelled';

/** Result of waitForHealth: the outcome, Flux's message for it, each object's health, and timing. */
export interface HealthResult {
  ok: boolean;
  outcome: HealthOutcome;
  /**
   * Empty when ok. Otherwise Flux's wording, e.g.
   * `timeout waiting for: [Deployment/apps/web status: 'InProgress']` or
   * `failed early due to stalled resources: [Deployment/apps/web status: 'Failed': Progress deadline exceeded]`.
   * Flux's kustomize-controller prefixes it with `health check failed after <duration>: `
   * (see formatGoDuration).
   */
  message: string;
  /** Last known health of each (deduplicated) object, in input order. */
  objects: ObjectHealth[];
  elapsedMs: number;
  rounds: number;
}

/** Flux's object id: `Kind/namespace/name`, or `Kind/name` without a namespace. */
export function formatObjectId(ref: Pick<ObjectRef, 'kind' | 'namespace' | 'name'>): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

function dedupe(refs: readonly ObjectRef[]): ObjectRef[] {
  const seen = new Set<string>();
  const out: ObjectRef[] = [];
  for (const r of refs) {
    const key = `${r.group}|${r.kind}|${r.namespace ?? ''}|${r.name}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out;
}

/** `X status: 'S'` plus the fetch error, as ssa.WaitForSet prints one entry. */
function entry(o: ObjectHealth, withMessage: boolean): string {
  if (!o.observed) return `can't determine status for ${o.id}`;
  let s = `${o.id} status: '${o.status}'`;
  const detail = o.error ?? (withMessage ? o.message : '');
  if (detail) s += `: ${detail}`;
  return s;
}


const TIMEOUT = 'timeout';
const CANCELLED = 'cancelled';

/**
 * Waits until every object is Current (ok), any is Failed (fail fast), the timeout passes,
 * or the signal aborts. Never throws for cluster trouble; throws ValidationError for bad
 * options.
 */
export async function waitForHealth(objects: readonly ObjectRef[], opts: WaitForHealthOptions): Promise<HealthResult> {
  const intervalMs = opts.intervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs < 0) {
    throw new ValidationError(`health check timeout must be a non-negative number of milliseconds, got ${opts.timeoutMs}`);
  }
  if (opts.initialIntervalMs !== undefined && (!Number.isFinite(opts.initialIntervalMs) || opts.initialIntervalMs <= 0)) {
    throw new ValidationError(`health check initial interval must be a positive number of milliseconds, got ${opts.initialIntervalMs}`);
  }
  if (!Number.isFinite(intervalMs) || intervalMs <= 0) {
    throw new ValidationError(`health check interval must be a positive number of milliseconds, got ${intervalMs}`);
  }

  const start = Date.now();
  const refs = dedupe(objects);
  const latest: ObjectHealth[] = refs.map((ref) => ({
    ref,
    id: formatObjectId(ref),
    status: 'Unknown',
    message: "can't determine status",
    observed: false,
  }));
  const result = (outcome: HealthOutcome, message: string, rounds: number): HealthResult => ({
    ok: outcome === 'Current',
    outcome,
    message,
    objects: latest.map((o) => ({ ...o })),
    elapsedMs: Date.now() - start,
    rounds,
  });
  if (refs.length === 0) return result('Current', '', 0);

  // `stop` ends the wait: aborted with TIMEOUT at the deadline or CANCELLED by the caller.
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(TIMEOUT), opts.timeoutMs);
  const onCancel = () => stop.abort(CANCELLED);
  if (opts.signal?.aborted) onCancel();
  else opts.signal?.addEventListener('abort', onCancel, { once: true });
  const stopped = new Promise<null>((resolve) => {
    if (stop.signal.aborted) resolve(null);
    else stop.signal.addEventListener('abort', () => resolve(null), { once: true });
  });

  const checkOne = async (i: number, round: number): Promise<void> => {
    const o = latest[i]!;
    if (round > 1 && opts.recheckCurrent === false && o.status === 'Current') return;
    let obj: KubeObject | null;
    try {
      obj = (round === 1 ? opts.initial?.(o.ref) : undefined) ?? (await opts.get(o.ref, stop.signal));
    } catch (err) {
      // An error caused by our own stop is not a status (Flux skips DeadlineExceeded too).
      if (stop.signal.aborted) return;
      const msg = errorMessage(err);
      latest[i] = { ...o, status: 'Unknown', message: msg, error: msg, observed: true };
      return;
    }
    if (stop.signal.aborted) return;
    if (obj === null) {
      latest[i] = { ref: o.ref, id: o.id, status: 'NotFound', message: 'Resource not found', observed: true };
      return;
    }
    const s = computeStatus(obj, { ...opts.statusOptions, now: Date.now() });
    latest[i] = { ref: o.ref, id: o.id, status: s.status, message: s.message, observed: true };
    // kstatus reports a compute failure as an error on the resource status.
    if (s.status === 'Unknown') latest[i]!.error = s.message;
  };

  let rounds = 0;
  let sleepMs = Math.min(opts.initialIntervalMs ?? intervalMs, intervalMs);
  try {
    while (!stop.signal.aborted) {
      rounds++;
      const round = rounds;
      const done = await Promise.race([Promise.all(refs.map((_, i) => checkOne(i, round))), stopped]);
      if (done === null) break;

      const failedNow = latest.filter((o) => o.status === 'Failed');
      if (failedNow.length > 0) {
        const list = failedNow.map((o) => entry(o, true)).join(', ');
        return result('Failed', `failed early due to stalled resources: [${list}]`, rounds);
      }
      if (latest.every((o) => o.status === 'Current')) return result('Current', '', rounds);
      log.debug('health check round', {
        round: rounds,
        notReady: latest.filter((o) => o.status !== 'Current').map((o) => `${o.id} ${o.status}`),
      });
      await sleep(sleepMs, stop.signal);
      sleepMs = Math.min(sleepMs * 2, intervalMs);
    }
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onCancel);
    if (!stop.signal.aborted) stop.abort(CANCELLED);
  }

  const list = latest
    .filter((o) => o.status !== 'Current')
    .map((o) => entry(o, o.status === 'Failed'))
    .join(', ');
  if (stop.signal.reason === TIMEOUT) return result('Timeout', `timeout waiting for: [${list}]`, rounds);
  return result('Cancelled', `health check cancelled while waiting for: [${list}]`, rounds);
}
