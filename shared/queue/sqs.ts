/**
 * SqsWorkQueue: the work queue on an SQS FIFO queue plus its FIFO dead-letter queue.
 *
 * SQS gives FIFO per MessageGroupId, one group in flight at a time, 5-minute deduplication
 * and a RedrivePolicy. On top of that:
 * - dead-lettering is done by us (send to the DLQ with a `reason` attribute, then delete)
 *   so the reason is recorded; the queue's RedrivePolicy (maxReceiveCount above the
 *   consumer's maxReceives) is only the backstop for consumers that keep crashing. In the
 *   DLQ every message we move gets its own group (its message id), so all can be listed.
 * - SQS FIFO has no per-message delay: `delaySeconds` is stored as a `notBefore` attribute
 *   and a message received before it is due is hidden again until then (its group waits),
 *   and that early receive is not counted in `receiveCount`.
 * - SQS may return several messages of one group in one batch; all but the first are made
 *   visible again at once (the group stays locked by the first), so one message per group
 *   is in flight, and the extra receive is not counted (tracked in this instance).
 * Receipts are SQS receipt handles. deadLetter() needs the body, so it only works with
 * receipts this instance received.
 */
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type MessageAttributeValue,
  type MessageSystemAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { EnvironmentError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { consume } from './consume.js';
import { parseMessage, type QueueMessage } from './message.js';
import {
  checkSeconds,
  cleanReason,
  resolveRawSend,
  resolveReceive,
  resolveSend,
  MAX_VISIBILITY_SECONDS,
  type ResolvedSend,
} from './options.js';
import {
  ReceiptExpiredError,
  type ConsumeOptions,
  type DeadMessage,
  type MessageHandler,
  type RawSendOptions,
  type ReceivedMessage,
  type ReceiveOptions,
  type SendOptions,
  type SendResult,
  type WorkQueue,
} from './types.js';

const qlog = log.child({ component: 'queue', backend: 'sqs' });

/** Message attribute names we set. */
export const SQS_ATTR = {
  reason: 'reason',
  notBefore: 'notBefore',
  sourceGroupId: 'sourceGroupId',
  sourceMessageId: 'sourceMessageId',
  receiveCount: 'receiveCount',
  deadLetteredAt: 'deadLetteredAt',
} as const;

const SYSTEM_ATTRS: MessageSystemAttributeName[] = [
  'ApproximateReceiveCount',
  'ApproximateFirstReceiveTimestamp',
  'MessageGroupId',
  'SentTimestamp',
];

/** Options of SqsWorkQueue: the SQS client and the URLs of the FIFO queue and its FIFO dead-letter queue. */
export interface SqsWorkQueueOptions {
  client: SQSClient;
  queueUrl: string;
  dlqUrl: string;
}

interface Inflight {
  messageId: string;
  groupId: string;
  raw: string;
  receiveCount: number;
  receivedAt: number;
}

/** True when `err` is the SQS error `code` (SDK names vary: `X`, `AWS.SimpleQueueService.X`). */
export function isSqsError(err: unknown, ...codes: string[]): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; Code?: unknown };
  return [e.name, e.Code].some(
    (n) => typeof n === 'string' && codes.some((c) => n === c || n.endsWith(`.${c}`)),
  );
}

const STALE_RECEIPT = ['MessageNotInflight', 'ReceiptHandleIsInvalid', 'InvalidParameterValue'];
const MAX_TRACKED = 10_000;

/** WorkQueue on an SQS FIFO queue and its dead-letter queue (Lambda mode), adding delays and dead-letter reasons. */
export class SqsWorkQueue implements WorkQueue {
  readonly queueUrl: string;
  readonly dlqUrl: string;
  private readonly client: SQSClient;
  /** Receipts handed out by this instance (deadLetter needs the body). */
  private readonly inflight = new Map<string, Inflight>();
  /** Receives of a message that we undid at once (batch duplicates of a group), by message id. */
  private readonly bounces = new Map<string, number>();

  constructor(opts: SqsWorkQueueOptions) {
    this.client = opts.client;
    this.queueUrl = opts.queueUrl;
    this.dlqUrl = opts.dlqUrl;
  }

  private wrap(action: string, err: unknown): EnvironmentError {
    return new EnvironmentError(`SQS ${action} failed: ${errorMessage(err)}`, {
      cause: err,
      hint: 'Check the queue URL, the region, the credentials and network access to SQS.',
    });
  }

  async send(msg: QueueMessage, opts?: SendOptions): Promise<SendResult> {
    return this.sendResolved(resolveSend(msg, opts));
  }

  async sendRaw(body: string, opts: RawSendOptions): Promise<SendResult> {
    return this.sendResolved(resolveRawSend(body, opts));
  }

  private async sendResolved(r: ResolvedSend): Promise<SendResult> {
    const attrs: Record<string, MessageAttributeValue> = {};
    if (r.delaySeconds > 0) {
      attrs[SQS_ATTR.notBefore] = { DataType: 'Number', StringValue: String(Date.now() + r.delaySeconds * 1000) };
    }
    try {
      const res = await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.queueUrl,
          MessageBody: r.body,
          MessageGroupId: r.groupId,
          MessageDeduplicationId: r.dedupId,
          MessageAttributes: r.delaySeconds > 0 ? attrs : undefined,
        }),
      );
      return { messageId: res.MessageId ?? '' };
    } catch (err) {
      throw this.wrap(`SendMessage to ${this.queueUrl}`, err);
    }
  }

  async receive(opts: ReceiveOptions): Promise<ReceivedMessage[]> {
    const o = resolveReceive(opts);
    const until = Date.now() + o.waitSeconds * 1000;
    this.prune();
    for (;;) {
      if (o.signal?.aborted) return [];
      const wait = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      let msgs: Message[];
      try {
        const res = await this.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.queueUrl,
            MaxNumberOfMessages: o.max,
            WaitTimeSeconds: wait,
            VisibilityTimeout: o.visibilityTimeoutSeconds,
            MessageSystemAttributeNames: SYSTEM_ATTRS,
            MessageAttributeNames: ['All'],
          }),
          o.signal ? { abortSignal: o.signal } : undefined,
        );
        msgs = res.Messages ?? [];
      } catch (err) {
        // An aborted long poll: messages SQS picked for it come back after their timeout.
        if (o.signal?.aborted) return [];
        throw this.wrap(`ReceiveMessage from ${this.queueUrl}`, err);
      }
      if (msgs.length === 0) return [];
      const out = await this.accept(msgs);
      if (out.length > 0 || wait === 0 || Date.now() >= until) return out;
    }
  }

  /** Turns a batch into deliveries: one per group, due, well-formed. */
  private async accept(msgs: Message[]): Promise<ReceivedMessage[]> {
    const now = Date.now();
    const groups = new Set<string>();
    const out: ReceivedMessage[] = [];
    for (const m of msgs) {
      const receipt = m.ReceiptHandle ?? '';
      const messageId = m.MessageId ?? '';
      const attrs = m.Attributes ?? {};
      const groupId = attrs.MessageGroupId ?? '';
      if (groups.has(groupId)) {
        // A second message of a group in one batch: give it back; the first keeps the group locked.
        this.bounces.set(messageId, (this.bounces.get(messageId) ?? 0) + 1);
        await this.changeVisibility(receipt, 0).catch((err: unknown) =>
          qlog.warn('could not give back a batched message of a busy group', { messageId, error: errorMessage(err) }),
        );
        continue;
      }
      groups.add(groupId);
      const notBefore = Number(m.MessageAttributes?.[SQS_ATTR.notBefore]?.StringValue);
      if (Number.isFinite(notBefore) && notBefore > now) {
        await this.changeVisibility(receipt, Math.min(MAX_VISIBILITY_SECONDS, Math.ceil((notBefore - now) / 1000))).catch(
          (err: unknown) => qlog.warn('could not defer a delayed message', { messageId, error: errorMessage(err) }),
        );
        continue;
      }
      const firstAt = Number(attrs.ApproximateFirstReceiveTimestamp);
      const deferred = Number.isFinite(notBefore) && Number.isFinite(firstAt) && firstAt < notBefore ? 1 : 0;
      const approx = Number(attrs.ApproximateReceiveCount ?? '1');
      const receiveCount = Math.max(1, (Number.isFinite(approx) ? approx : 1) - deferred - (this.bounces.get(messageId) ?? 0));
      const info: Inflight = { messageId, groupId, raw: m.Body ?? '', receiveCount, receivedAt: now };
      const parsed = parseMessage(info.raw);
      if (!parsed.ok) {
        const reason = `malformed message: ${parsed.error.message}`;
        qlog.warn('malformed message dead-lettered', { messageId, group: groupId, reason });
        await this.moveToDlq(receipt, info, reason).catch((err: unknown) =>
          qlog.warn('could not dead-letter a malformed message; it comes back after its visibility timeout', {
            messageId,
            error: errorMessage(err),
          }),
        );
        continue;
      }
      this.inflight.set(receipt, info);
      out.push({ message: parsed.message, receipt, receiveCount, raw: info.raw, messageId, groupId });
    }
    return out;
  }

  /** Forgets receipts older than the longest possible visibility (bounded memory). */
  private prune(): void {
    if (this.inflight.size > MAX_TRACKED) {
      const cutoff = Date.now() - MAX_VISIBILITY_SECONDS * 1000;
      for (const [k, v] of this.inflight) if (v.receivedAt < cutoff) this.inflight.delete(k);
    }
    if (this.bounces.size > MAX_TRACKED) this.bounces.clear();
  }

  private async changeVisibility(receipt: string, seconds: number, queueUrl = this.queueUrl): Promise<void> {
    await this.client.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: receipt, VisibilityTimeout: seconds }));
  }

  private async deleteMessage(receipt: string): Promise<void> {
    try {
      await this.client.send(new DeleteMessageCommand({ QueueUrl: this.queueUrl, ReceiptHandle: receipt }));
    } catch (err) {
      if (isSqsError(err, ...STALE_RECEIPT)) return; // settled or redelivered already
      throw this.wrap(`DeleteMessage on ${this.queueUrl}`, err);
    }
  }

  async ack(receipt: string): Promise<void> {
    const info = this.inflight.get(receipt);
    await this.deleteMessage(receipt);
    this.inflight.delete(receipt);
    if (info) this.bounces.delete(info.messageId);
  }

  async extend(receipt: string, seconds: number): Promise<void> {
    checkSeconds('seconds', seconds, MAX_VISIBILITY_SECONDS);
    try {
      await this.changeVisibility(receipt, seconds);
    } catch (err) {
      if (isSqsError(err, ...STALE_RECEIPT)) {
        this.inflight.delete(receipt);
        throw this.expired(receipt, err);
      }
      throw this.wrap(`ChangeMessageVisibility on ${this.queueUrl}`, err);
    }
  }

  async release(receipt: string, delaySeconds = 0): Promise<void> {
    checkSeconds('delaySeconds', delaySeconds, MAX_VISIBILITY_SECONDS);
    this.inflight.delete(receipt);
    try {
      await this.changeVisibility(receipt, delaySeconds);
    } catch (err) {
      if (isSqsError(err, ...STALE_RECEIPT)) return;
      throw this.wrap(`ChangeMessageVisibility on ${this.queueUrl}`, err);
    }
  }

  async deadLetter(receipt: string, reason: string): Promise<void> {
    const info = this.inflight.get(receipt);
    if (!info) {
      throw new ReceiptExpiredError(
        'this SqsWorkQueue did not receive that receipt, or the message was already acked, released or dead-lettered',
      );
    }
    // Make sure we still hold the message before copying it to the DLQ.
    await this.extend(receipt, 60);
    await this.moveToDlq(receipt, info, cleanReason(reason));
    this.inflight.delete(receipt);
  }

  private expired(receipt: string, cause?: unknown): ReceiptExpiredError {
    return new ReceiptExpiredError(
      `receipt ${receipt.slice(0, 40)}… no longer holds its message: it was settled, or delivered again after its visibility timeout`,
      { cause },
    );
  }

  private async moveToDlq(receipt: string, info: Inflight, reason: string): Promise<void> {
    const attrs: Record<string, MessageAttributeValue> = {
      [SQS_ATTR.reason]: { DataType: 'String', StringValue: cleanReason(reason) },
      [SQS_ATTR.sourceMessageId]: { DataType: 'String', StringValue: info.messageId },
      [SQS_ATTR.receiveCount]: { DataType: 'Number', StringValue: String(info.receiveCount) },
      [SQS_ATTR.deadLetteredAt]: { DataType: 'String', StringValue: new Date().toISOString() },
    };
    if (info.groupId) attrs[SQS_ATTR.sourceGroupId] = { DataType: 'String', StringValue: info.groupId };
    try {
      await this.client.send(
        new SendMessageCommand({
          QueueUrl: this.dlqUrl,
          MessageBody: info.raw,
          // Own group per message: the DLQ is not ordered and every message can be listed.
          MessageGroupId: info.messageId,
          // Same id on a retry after a crash: not duplicated in the DLQ.
          MessageDeduplicationId: info.messageId,
          MessageAttributes: attrs,
        }),
      );
    } catch (err) {
      throw this.wrap(`SendMessage to the dead-letter queue ${this.dlqUrl}`, err);
    }
    await this.deleteMessage(receipt);
    this.bounces.delete(info.messageId);
  }

  /**
   * Reads the DLQ without removing anything: receives every message for a moment, then makes
   * them visible again. Inspection only (concurrent listings may each see part of the queue).
   */
  async listDead(): Promise<DeadMessage[]> {
    const found = new Map<string, DeadMessage & { at: number }>();
    const receipts: string[] = [];
    try {
      for (let round = 0; round < 1000; round++) {
        let msgs: Message[];
        try {
          const res = await this.client.send(
            new ReceiveMessageCommand({
              QueueUrl: this.dlqUrl,
              MaxNumberOfMessages: 10,
              WaitTimeSeconds: 1,
              VisibilityTimeout: 30,
              MessageSystemAttributeNames: [...SYSTEM_ATTRS, 'SentTimestamp'],
              MessageAttributeNames: ['All'],
            }),
          );
          msgs = res.Messages ?? [];
        } catch (err) {
          throw this.wrap(`ReceiveMessage from the dead-letter queue ${this.dlqUrl}`, err);
        }
        if (msgs.length === 0) break;
        let fresh = false;
        for (const m of msgs) {
          if (m.ReceiptHandle) receipts.push(m.ReceiptHandle);
          const id = m.MessageId ?? '';
          if (found.has(id)) continue;
          fresh = true;
          found.set(id, this.toDead(m));
        }
        if (!fresh) break;
      }
    } finally {
      for (let i = 0; i < receipts.length; i += 10) {
        const entries = receipts.slice(i, i + 10).map((h, j) => ({ Id: `m${j}`, ReceiptHandle: h, VisibilityTimeout: 0 }));
        await this.client
          .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: this.dlqUrl, Entries: entries }))
          .catch((err: unknown) => qlog.warn('could not make listed dead letters visible again', { error: errorMessage(err) }));
      }
    }
    return [...found.values()].sort((a, b) => a.at - b.at).map(({ at: _at, ...d }) => d);
  }

  private toDead(m: Message): DeadMessage & { at: number } {
    const a = m.MessageAttributes ?? {};
    const str = (k: string) => a[k]?.StringValue;
    const raw = m.Body ?? '';
    const reason = str(SQS_ATTR.reason);
    const d: DeadMessage & { at: number } = {
      messageId: str(SQS_ATTR.sourceMessageId) ?? m.MessageId ?? '',
      raw,
      reason:
        reason ??
        "moved by the queue's RedrivePolicy after exceeding its maxReceiveCount (no reason recorded: the consumer never finished the message, e.g. it crashed or its visibility timeout expired)",
      at: Date.parse(str(SQS_ATTR.deadLetteredAt) ?? '') || Number(m.Attributes?.SentTimestamp) || 0,
    };
    const groupId = str(SQS_ATTR.sourceGroupId) ?? (reason === undefined ? m.Attributes?.MessageGroupId : undefined);
    if (groupId) d.groupId = groupId;
    const count = Number(str(SQS_ATTR.receiveCount));
    if (Number.isFinite(count)) d.receiveCount = count;
    const when = str(SQS_ATTR.deadLetteredAt);
    if (when) d.deadLetteredAt = when;
    const parsed = parseMessage(raw);
    if (parsed.ok) d.message = parsed.message;
    return d;
  }

  consume(handler: MessageHandler, opts?: ConsumeOptions): Promise<void> {
    return consume(this, handler, opts);
  }

  async close(): Promise<void> {
    this.inflight.clear();
    this.bounces.clear();
  }
}
