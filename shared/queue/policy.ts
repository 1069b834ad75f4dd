/**
 * The delivery policy both runtimes settle every message with: the local consume loop
 * (consume.ts) and the Lambda SQS batch handler (runtime/lambda-sqs.ts). One place decides
 * when a message is acked, retried after a backoff, deferred until its `notBefore`, or
 * dead-lettered, and with which reason, so the two paths dead-letter identically.
 */
import { fmtRef, type ObjectKey } from '../kube/object.js';
import { cleanReason } from './options.js';

/** Failed deliveries after which a message is dead-lettered, by default. */
export const DEFAULT_MAX_RECEIVES = 5;
/** The longest a message can be hidden (SQS's visibility limit, 12 hours). */
export const MAX_HIDE_SECONDS = 43_200;

/** Backoff before a failed message is delivered again: min(60, 2^(n-1)) s. */
export function defaultBackoffSeconds(receiveCount: number): number {
  return Math.min(60, 2 ** Math.max(0, receiveCount - 1));
}

/** The knobs of the policy. */
export interface DeliveryPolicy {
  maxReceives: number;
  backoffSeconds(receiveCount: number): number;
}

/** How a delivery ends. */
export type Settlement =
  | { action: 'ack' }
  | { action: 'retry'; delaySeconds: number }
  | { action: 'defer'; delaySeconds: number }
  | { action: 'deadLetter'; reason: string };

/** The policy from options, with defaults. */
export function deliveryPolicy(opts: { maxReceives?: number; backoffSeconds?: (n: number) => number } = {}): DeliveryPolicy {
  return { maxReceives: opts.maxReceives ?? DEFAULT_MAX_RECEIVES, backoffSeconds: opts.backoffSeconds ?? defaultBackoffSeconds };
}

/**
 * Before handling: a message delivered more often than `maxReceives` never finished
 * (the worker crashed, or its lease expired): dead-letter it without running it again.
 * A message sent with a delay that is not due yet waits (its group waits with it).
 */
export function beforeHandling(
  policy: DeliveryPolicy,
  d: { receiveCount: number; target: ObjectKey; notBefore?: number },
  now: number,
): Settlement | undefined {
  if (d.receiveCount > policy.maxReceives) {
    return {
      action: 'deadLetter',
      reason: cleanReason(
        `reconcile of ${fmtRef(d.target)} was delivered ${d.receiveCount} times without finishing (maxReceives ${policy.maxReceives}): the worker crashed or its visibility timeout expired`,
      ),
    };
  }
  if (d.notBefore !== undefined && Number.isFinite(d.notBefore) && d.notBefore > now) {
    return { action: 'defer', delaySeconds: Math.min(MAX_HIDE_SECONDS, Math.ceil((d.notBefore - now) / 1000)) };
  }
  return undefined;
}

/** After handling: ack on success; on failure retry after the backoff, or dead-letter with the last error. */
export function afterHandling(policy: DeliveryPolicy, d: { receiveCount: number; target: ObjectKey }, error: string | undefined, aborted = false): Settlement {
  if (error === undefined) return { action: 'ack' };
  if (d.receiveCount >= policy.maxReceives && !aborted) {
    return {
      action: 'deadLetter',
      reason: cleanReason(`reconcile of ${fmtRef(d.target)} failed ${d.receiveCount} time(s) (maxReceives ${policy.maxReceives}); last error: ${error}`),
    };
  }
  let seconds: number;
  try {
    seconds = Math.ceil(policy.backoffSeconds(d.receiveCount));
  } catch {
    seconds = defaultBackoffSeconds(d.receiveCount);
  }
  if (!Number.isFinite(seconds)) seconds = defaultBackoffSeconds(d.receiveCount);
  return { action: 'retry', delaySeconds: Math.min(MAX_HIDE_SECONDS, Math.max(0, seconds)) };
}

/** Called once a message was dead-lettered, to leave a trace on its object. */
export type DeadLetterHook = (target: ObjectKey, reason: string) => Promise<void>;
