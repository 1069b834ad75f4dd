/**
 * SQS batches as Lambda's event source mapping delivers them (ReportBatchItemFailures),
 * settled with the same delivery policy as the local consume loop (policy.ts): per FIFO
 * group records run in order, groups in parallel; a malformed body is dead-lettered at
 * once; a record delivered more than `maxReceives` times without finishing is
 * dead-lettered without running again; a failed record and the later records of its group
 * are given back after the backoff, or dead-lettered with the last error once it has
 * failed `maxReceives` times.
 */
import { ChangeMessageVisibilityCommand, SendMessageCommand, type MessageAttributeValue, type SQSClient } from '@aws-sdk/client-sqs';
import { fmtRef } from '../kube/object.js';
import { EnvironmentError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { parseMessage } from './message.js';
import { cleanReason } from './options.js';
import { afterHandling, beforeHandling, deliveryPolicy, type DeadLetterHook, type Settlement } from './policy.js';
import { SQS_ATTR } from './sqs.js';
import type { ReceivedMessage } from './types.js';

const qlog = log.child({ component: 'sqs-batch' });

/** An SQS record as Lambda delivers it (the fields we read). */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: {
    ApproximateReceiveCount?: string;
    MessageGroupId?: string;
    SentTimestamp?: string;
    ApproximateFirstReceiveTimestamp?: string;
    [name: string]: string | undefined;
  };
  messageAttributes?: Record<string, { dataType?: string; stringValue?: string; binaryValue?: string } | undefined>;
  md5OfBody?: string;
  eventSource?: string;
  eventSourceARN?: string;
  awsRegion?: string;
}

/** The SQS event Lambda invokes the worker with. */
export interface SqsEvent {
  Records: SqsRecord[];
}

/** The ReportBatchItemFailures response: these records stay in the queue and come back. */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

/** What processSqsBatch needs from its environment. */
export interface SqsBatchDeps {
  handle(msg: ReceivedMessage, signal: AbortSignal): Promise<void>;
  /** Sends the record's body to the dead-letter queue with `reason` (the record is then deleted by Lambda). */
  deadLetter(record: SqsRecord, reason: string): Promise<void>;
  /** Makes a record visible again in `seconds` (best effort; a failure is logged). */
  delay?(record: SqsRecord, seconds: number): Promise<void>;
  /** Called after a record was dead-lettered, to leave a trace on its object. */
  onDeadLetter?: DeadLetterHook;
  /** Failed deliveries after which a message is dead-lettered with its last error, default 5. */
  maxReceives?: number;
  /** Groups handled at once, default 4. */
  concurrency?: number;
  /** Backoff before a failed message is delivered again, default min(60, 2^(n-1)) s. */
  backoffSeconds?(receiveCount: number): number;
  /** Aborted when the invocation is about to time out: unstarted records are given back. */
  signal?: AbortSignal;
  now?(): number;
}

/** What a batch did. */
export interface SqsBatchOutcome extends SqsBatchResponse {
  handled: number;
  deadLettered: Array<{ messageId: string; reason: string }>;
}

function receiveCountOf(r: SqsRecord): number {
  const n = Number(r.attributes.ApproximateReceiveCount ?? '1');
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
}

/** Handles a batch of SQS records (see the module comment). Failures keep the batch order. */
export async function processSqsBatch(event: SqsEvent, deps: SqsBatchDeps): Promise<SqsBatchOutcome> {
  const records = event.Records ?? [];
  const policy = deliveryPolicy({ maxReceives: deps.maxReceives, backoffSeconds: deps.backoffSeconds });
  const now = deps.now ?? Date.now;
  const signal = deps.signal ?? new AbortController().signal;
  const failed = new Set<number>();
  const deadLettered: SqsBatchOutcome['deadLettered'] = [];
  let handled = 0;

  const groups = new Map<string, number[]>();
  records.forEach((r, i) => {
    // Without a group (standard queue) every record is its own group.
    const g = r.attributes.MessageGroupId ?? `\u0000${i}`;
    const list = groups.get(g);
    if (list) list.push(i);
    else groups.set(g, [i]);
  });

  const giveBack = async (idx: number[], seconds: number) => {
    for (const i of idx) failed.add(i);
    if (!deps.delay) return;
    await Promise.all(
      idx.map((i) =>
        deps.delay!(records[i], seconds).catch((err: unknown) =>
          qlog.warn('could not change the visibility of a failed record', { messageId: records[i].messageId, error: errorMessage(err) }),
        ),
      ),
    );
  };

  /** True when the record is settled (dead-lettered); false when it must come back. */
  const deadLetter = async (r: SqsRecord, reason: string, msg?: ReceivedMessage): Promise<boolean> => {
    try {
      await deps.deadLetter(r, reason);
    } catch (err) {
      qlog.warn('could not dead-letter a message; it will be delivered again', { messageId: r.messageId, error: errorMessage(err) });
      return false;
    }
    deadLettered.push({ messageId: r.messageId, reason });
    qlog.warn('message dead-lettered', { messageId: r.messageId, group: r.attributes.MessageGroupId, reason });
    if (msg && deps.onDeadLetter) await deps.onDeadLetter(msg.message.target, reason).catch((err: unknown) => qlog.warn('dead-letter hook failed', { error: errorMessage(err) }));
    return true;
  };

  /** Applies a settlement to record k of a group; false when the rest of the group must wait. */
  const apply = async (how: Settlement, r: SqsRecord, rest: number[], msg?: ReceivedMessage): Promise<boolean> => {
    if (how.action === 'ack') return true;
    if (how.action === 'deadLetter' && (await deadLetter(r, how.reason, msg))) return true;
    await giveBack(rest, how.action === 'deadLetter' ? 0 : how.delaySeconds);
    return false;
  };

  const runGroup = async (idx: number[]) => {
    for (let k = 0; k < idx.length; k++) {
      const r = records[idx[k]];
      const rest = idx.slice(k);
      if (signal.aborted) {
        await giveBack(rest, 0);
        return;
      }
      const parsed = parseMessage(r.body);
      if (!parsed.ok) {
        if (await deadLetter(r, `malformed message: ${parsed.error.message}`)) continue;
        await giveBack(rest, 0);
        return;
      }
      const receiveCount = receiveCountOf(r);
      const msg: ReceivedMessage = { message: parsed.message, receipt: r.receiptHandle, receiveCount, raw: r.body, messageId: r.messageId, groupId: r.attributes.MessageGroupId ?? '' };
      const delivery = { receiveCount, target: parsed.message.target, notBefore: Number(r.messageAttributes?.[SQS_ATTR.notBefore]?.stringValue) || undefined };
      const early = beforeHandling(policy, delivery, now());
      if (early) {
        if (await apply(early, r, rest, msg)) continue;
        return;
      }
      let error: string | undefined;
      try {
        await deps.handle(msg, signal);
        handled++;
      } catch (err) {
        error = errorMessage(err) || 'handler failed without a message';
        qlog.warn('reconcile failed', { target: fmtRef(parsed.message.target), messageId: r.messageId, receiveCount, error });
      }
      if (!(await apply(afterHandling(policy, delivery, error, signal.aborted), r, rest, msg))) return;
    }
  };

  const queue = [...groups.values()];
  const workers = Array.from({ length: Math.max(1, Math.min(deps.concurrency ?? 4, queue.length)) }, async () => {
    for (let g = queue.shift(); g; g = queue.shift()) await runGroup(g);
  });
  await Promise.all(workers);
  const batchItemFailures = [...failed].sort((a, b) => a - b).map((i) => ({ itemIdentifier: records[i].messageId }));
  return { batchItemFailures, handled, deadLettered };
}

/** The SQS side of a batch: DLQ sends (with the reason and source attributes) and visibility changes. */
export function sqsBatchActions(sqs: SQSClient, queueUrl: string, dlqUrl: string): Pick<SqsBatchDeps, 'deadLetter' | 'delay'> {
  return {
    async deadLetter(r, reason) {
      const attrs: Record<string, MessageAttributeValue> = {
        [SQS_ATTR.reason]: { DataType: 'String', StringValue: cleanReason(reason) },
        [SQS_ATTR.sourceMessageId]: { DataType: 'String', StringValue: r.messageId },
        [SQS_ATTR.receiveCount]: { DataType: 'Number', StringValue: String(receiveCountOf(r)) },
        [SQS_ATTR.deadLetteredAt]: { DataType: 'String', StringValue: new Date().toISOString() },
      };
      if (r.attributes.MessageGroupId) attrs[SQS_ATTR.sourceGroupId] = { DataType: 'String', StringValue: r.attributes.MessageGroupId };
      try {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: dlqUrl,
            // SQS refuses an empty body; keep the record's body otherwise as is.
            MessageBody: r.body === '' ? ' ' : r.body,
            // Same scheme as SqsWorkQueue: own group per message, the message id deduplicates retries.
            MessageGroupId: r.messageId,
            MessageDeduplicationId: r.messageId,
            MessageAttributes: attrs,
          }),
        );
      } catch (err) {
        throw new EnvironmentError(`SQS SendMessage to the dead-letter queue ${dlqUrl} failed: ${errorMessage(err)}`, {
          cause: err,
          hint: 'Check FLUXLESS_DLQ_URL and the worker role (sqs:SendMessage on the DLQ).',
        });
      }
    },
    async delay(r, seconds) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle, VisibilityTimeout: seconds }));
    },
  };
}
