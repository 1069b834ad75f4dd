/**
 * How reconcilers fail: a ReconcileFailure carries Flux's reason and message for the
 * object's status, when to retry, and whether the object is stalled (cannot succeed until
 * its definition changes). transientCause finds errors that say nothing about the object.
 */
import { FluxlessError } from '../util/errors.js';

/** A failure that belongs to the object: written to its status, retried on its retryInterval. */
export class ReconcileFailure extends Error {
  readonly reason: string;
  readonly retryMs?: number;
  readonly stalled: boolean;
  constructor(reason: string, message: string, opts: { retryMs?: number; stalled?: boolean; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ReconcileFailure';
    this.reason = reason;
    this.retryMs = opts.retryMs;
    this.stalled = opts.stalled ?? false;
  }
}

const TRANSIENT_CODES = new Set(['Unreachable', 'Timeout', 'Conflict', 'EnvironmentFailed']);

/** The first error in the cause chain that says the cluster or a store could not be reached. */
export function transientCause(err: unknown): Error | undefined {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof FluxlessError && TRANSIENT_CODES.has(e.code)) return e;
  }
  return undefined;
}
