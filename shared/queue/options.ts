/** Option validation shared by both queue implementations (same limits as SQS). */
import { ValidationError } from '../util/errors.js';
import { assertQueueId, dedupIdFor, groupIdFor, serializeMessage, type QueueMessage } from './message.js';
import {
  MAX_DELAY_SECONDS,
  MAX_RECEIVE_BATCH,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
  type RawSendOptions,
  type ReceiveOptions,
  type SendOptions,
} from './types.js';

/** Returns `value` when it is a whole number from `min` to `max`; otherwise throws a ValidationError naming `what`. */
export function intInRange(what: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new ValidationError(`${what} must be a whole number from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/** A send with its options validated and defaults filled in: body, FIFO group, dedup id and delay. */
export interface ResolvedSend {
  body: string;
  groupId: string;
  dedupId: string;
  delaySeconds: number;
}

/** Serialises a message and validates its send options, taking the group and dedup id from the message by default. */
export function resolveSend(msg: QueueMessage, opts: SendOptions = {}): ResolvedSend {
  const body = serializeMessage(msg);
  return resolveRawSend(body, {
    groupId: opts.groupId ?? groupIdFor(msg.target),
    dedupId: opts.dedupId ?? dedupIdFor(msg),
    delaySeconds: opts.delaySeconds,
  });
}

/** Validates a raw body and its send options (group and dedup ids, delay within the SQS limit). */
export function resolveRawSend(body: string, opts: RawSendOptions): ResolvedSend {
  if (typeof body !== 'string' || body.length === 0) throw new ValidationError('message body must be a non-empty string');
  assertQueueId('groupId', opts.groupId);
  assertQueueId('dedupId', opts.dedupId);
  const delaySeconds = intInRange('delaySeconds', opts.delaySeconds ?? 0, 0, MAX_DELAY_SECONDS);
  return { body, groupId: opts.groupId, dedupId: opts.dedupId, delaySeconds };
}

/** Receive options validated against the SQS limits, with defaults filled in. */
export interface ResolvedReceive {
  max: number;
  waitSeconds: number;
  visibilityTimeoutSeconds: number;
  signal?: AbortSignal;
}

/** Validates receive options against the SQS limits (batch size, wait, visibility) and fills in defaults. */
export function resolveReceive(opts: ReceiveOptions): ResolvedReceive {
  return {
    max: intInRange('max', opts.max ?? 1, 1, MAX_RECEIVE_BATCH),
    waitSeconds: intInRange('waitSeconds', opts.waitSeconds ?? 0, 0, MAX_WAIT_SECONDS),
    visibilityTimeoutSeconds: intInRange('visibilityTimeoutSeconds', opts.visibilityTimeoutSeconds, 0, MAX_VISIBILITY_SECONDS),
    signal: opts.signal,
  };
}

/** Returns `value` when it is whole seconds from 0 to `max`; otherwise throws a ValidationError naming `what`. */
export function checkSeconds(what: string, value: number, max: number): number {
  return intInRange(what, value, 0, max);
}

export { MAX_VISIBILITY_SECONDS };

/** Reasons are stored in attributes/files: keep them bounded and printable. */
export function cleanReason(reason: string): string {
  // eslint-disable-next-line no-control-regex
  const s = String(reason || 'no reason given').replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, ' ');
  return s.length > 2000 ? `${s.slice(0, 1997)}...` : s;
}
