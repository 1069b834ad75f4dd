/**
 * The work queue contract shared by SqsWorkQueue (SQS FIFO) and LocalWorkQueue (on disk).
 *
 * Semantics (both implementations):
 * - at-least-once delivery: a handler may see a message again (after a crash, an expired
 *   visibility timeout, a release); handlers must be idempotent.
 * - FIFO per group (`groupId` = the reconciled object `kind/namespace/name`): messages of a
 *   group are delivered in send order and only one message of a group is in flight at a
 *   time; different groups are delivered in parallel.
 * - deduplication per `dedupId` for 5 minutes after the first send (like SQS), whether or
 *   not the first message was already processed.
 * - a receipt is valid until the message is acked, released, dead-lettered or received again
 *   after its visibility timeout expired.
 * - `delaySeconds` on send: the message keeps its place in its group's order; when it reaches
 *   the head of the group before it is due, the group waits until it is due.
 * - malformed bodies never reach the caller of `receive()`: they are dead-lettered with the
 *   reason at once.
 */
import type { ObjectKey } from '../kube/object.js';
import { ConflictError } from '../util/errors.js';
import type { QueueMessage } from './message.js';

/** How long a dedupId suppresses duplicate sends (5 minutes, as in SQS FIFO). */
export const DEDUP_WINDOW_MS = 5 * 60 * 1000;
/** SQS limits, enforced by both implementations so behaviour does not depend on the backend. */
export const MAX_RECEIVE_BATCH = 10;
/** Longest long-poll wait of one receive, in seconds. */
export const MAX_WAIT_SECONDS = 20;
/** Longest delay a send may ask for, in seconds (15 minutes). */
export const MAX_DELAY_SECONDS = 900;
/** Longest visibility timeout of a received message, in seconds (12 hours). */
export const MAX_VISIBILITY_SECONDS = 43_200;

/** Options of WorkQueue.send: FIFO group, dedup id and delay, each with a default. */
export interface SendOptions {
  /** FIFO group; defaults to groupIdFor(message.target). */
  groupId?: string;
  /** Deduplication id; defaults to dedupIdFor(message) (object + revision, else message id). */
  dedupId?: string;
  /** 0..900. */
  delaySeconds?: number;
}

/** Options of WorkQueue.sendRaw: FIFO group and dedup id (required) and an optional delay. */
export interface RawSendOptions {
  groupId: string;
  dedupId: string;
  delaySeconds?: number;
}

/** What a send returns: the id of the queued message. */
export interface SendResult {
  /** Id of the queued message (of the original one when this send was a duplicate). */
  messageId: string;
}

/** Options of WorkQueue.receive: batch size, long-poll wait, visibility timeout and an abort signal. */
export interface ReceiveOptions {
  /** 1..10, default 1. */
  max?: number;
  /** Long poll: 0..20 seconds to wait for a message, default 0. */
  waitSeconds?: number;
  /** How long received messages stay hidden unless acked/extended, 0..43200 seconds. */
  visibilityTimeoutSeconds: number;
  /** Ends a long poll early (returns what was received so far, usually nothing). */
  signal?: AbortSignal;
}

/** A delivered message: the decoded message, its receipt, delivery count, raw body and ids. */
export interface ReceivedMessage {
  message: QueueMessage;
  /** Opaque handle for ack/extend/release/deadLetter. */
  receipt: string;
  /** How many times this message was delivered, this delivery included (1 = first). */
  receiveCount: number;
  /** The body as sent. */
  raw: string;
  messageId: string;
  groupId: string;
}

/** A dead-lettered message as listDead returns it, with the reason it was dead-lettered. */
export interface DeadMessage {
  messageId: string;
  /** The group the message was sent to, when known. */
  groupId?: string;
  raw: string;
  /** The decoded message when the body is valid. */
  message?: QueueMessage;
  /** Why it was dead-lettered. */
  reason: string;
  /** Deliveries before it was dead-lettered, when known. */
  receiveCount?: number;
  /** ISO time, when known. */
  deadLetteredAt?: string;
}

/** What consume() gives a handler besides the message: a signal aborted when the lease is lost. */
export interface HandlerContext {
  /** Aborted when the message's lease was lost (visibility could not be extended). */
  signal: AbortSignal;
}

/** Processes one message for consume(): resolving acks it; throwing releases it with backoff, then dead-letters it. */
export type MessageHandler = (msg: ReceivedMessage, ctx: HandlerContext) => Promise<void>;

/** Options of WorkQueue.consume: concurrency, deliveries before dead-lettering, visibility, backoff and a stop signal. */
export interface ConsumeOptions {
  /** Handlers running at once (each on a different group), default 4. */
  concurrency?: number;
  /** Failed deliveries before a message is dead-lettered, default 5. */
  maxReceives?: number;
  /** Visibility timeout per delivery, extended every third of it while the handler runs; default 60. */
  visibilityTimeoutSeconds?: number;
  /** Long-poll wait per receive, default 20. */
  waitSeconds?: number;
  /** Delay before a failed message is delivered again; default min(60, 2^(receiveCount-1)). */
  backoffSeconds?: (receiveCount: number) => number;
  /** Stops receiving; consume() resolves once running handlers have finished. */
  signal?: AbortSignal;
  /** Called after a message was dead-lettered (to leave a trace on its object). */
  onDeadLetter?: (target: ObjectKey, reason: string) => Promise<void>;
}

/** The work queue contract: at-least-once, FIFO per group, deduplicated sends, and a dead-letter queue with reasons. */
export interface WorkQueue {
  /** Validates and sends a message. Duplicates (same dedupId within 5 minutes) are dropped. */
  send(msg: QueueMessage, opts?: SendOptions): Promise<SendResult>;
  /** Sends a body as is, without validating it (tools, forwarding, tests). */
  sendRaw(body: string, opts: RawSendOptions): Promise<SendResult>;
  receive(opts: ReceiveOptions): Promise<ReceivedMessage[]>;
  /** Deletes a processed message. A receipt that is no longer valid is ignored. */
  ack(receipt: string): Promise<void>;
  /** Keeps a message hidden `seconds` more from now. Throws ReceiptExpiredError if the lease was lost. */
  extend(receipt: string, seconds: number): Promise<void>;
  /** Gives a message back (a failure): delivered again after `delaySeconds` (default 0); its group waits. */
  release(receipt: string, delaySeconds?: number): Promise<void>;
  /** Moves a message to the dead-letter queue with a reason. Throws ReceiptExpiredError if the lease was lost. */
  deadLetter(receipt: string, reason: string): Promise<void>;
  /** Dead-lettered messages, oldest first (for inspection; does not remove them). */
  listDead(): Promise<DeadMessage[]>;
  /** Runs `handler` for messages until `opts.signal` aborts. See consume.ts. */
  consume(handler: MessageHandler, opts?: ConsumeOptions): Promise<void>;
  /** Releases resources (timers, locks, waiters). */
  close(): Promise<void>;
}

/** The receipt no longer holds the message (it was settled, or redelivered after its timeout). */
export class ReceiptExpiredError extends ConflictError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}
