/**
 * Lambda's SQS event source mapping, for a FIFO queue, as serverless.yml configures it
 * (batchSize 10, ReportBatchItemFailures, maximumConcurrency K): pollers long-poll the queue
 * (20 s, the queue's own visibility timeout), hand each batch to one invocation of the
 * function, then delete the records the function did not report as failed. A function
 * error, a timeout or an invalid response fails the whole batch: nothing is deleted and the
 * records come back when their visibility ends (or when the function changed it, as the
 * worker does for its backoff). SQS FIFO keeps one batch per message group in flight.
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SqsBatchResponse, SqsEvent, SqsRecord } from '../../shared/queue/sqs-batch.js';
import type { FunctionPool } from './pool.js';

/** How the mapping runs. */
export interface EsmOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn: string;
  pool: FunctionPool;
  batchSize: number;
  /** Pollers (each with at most one invocation in flight): the mapping's maximumConcurrency. */
  maxConcurrency: number;
  /** Long-poll wait (s), Lambda's 20. */
  waitSeconds?: number;
  region?: string;
}

/** What the mapping did. */
export interface EsmStats {
  batches: number;
  records: number;
  /** Records reported in batchItemFailures. */
  itemFailures: number;
  /** Batches failed whole (function error, timeout, invalid response). */
  batchFailures: number;
  deleted: number;
}

/** An SQS message as the mapping hands it to the function. */
export function toRecord(m: Message, queueArn: string, region = 'us-east-1'): SqsRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount,
      SentTimestamp: a.SentTimestamp,
      SenderId: a.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp,
      SequenceNumber: a.SequenceNumber,
      MessageGroupId: a.MessageGroupId,
      MessageDeduplicationId: a.MessageDeduplicationId,
    },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue, dataType: v.DataType ?? 'String' }])),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/** The records a response lets the mapping delete; undefined when the response fails the whole batch. */
export function recordsToDelete(records: SqsRecord[], ok: boolean, result: unknown): SqsRecord[] | undefined {
  if (!ok) return undefined;
  if (result === null || result === undefined) return records; // no response: all succeeded
  const failures = (result as Partial<SqsBatchResponse>).batchItemFailures;
  if (failures === undefined || failures === null) return records;
  if (!Array.isArray(failures)) return undefined;
  const ids = new Set(records.map((r) => r.messageId));
  const failed = new Set<string>();
  for (const f of failures) {
    const id = (f as { itemIdentifier?: unknown })?.itemIdentifier;
    // An empty or unknown identifier: Lambda treats the whole batch as failed.
    if (typeof id !== 'string' || !ids.has(id)) return undefined;
    failed.add(id);
  }
  return records.filter((r) => !failed.has(r.messageId));
}

/** The running mapping. */
export class EventSourceMapping {
  readonly stats: EsmStats = { batches: 0, records: 0, itemFailures: 0, batchFailures: 0, deleted: 0 };
  private running = false;
  private inflight = 0;
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];

  constructor(private readonly o: EsmOptions) {}

  /** Batches being handled now. */
  get busy(): number {
    return this.inflight;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loops = Array.from({ length: this.o.maxConcurrency }, () => this.poll());
  }

  async stop(): Promise<void> {
    this.running = false;
    this.abort.abort();
    await Promise.all(this.loops);
  }

  private async poll(): Promise<void> {
    while (this.running) {
      let msgs: Message[] = [];
      try {
        const res = await this.o.sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: this.o.queueUrl,
            MaxNumberOfMessages: this.o.batchSize,
            WaitTimeSeconds: this.o.waitSeconds ?? 20,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        msgs = res.Messages ?? [];
      } catch (err) {
        if (!this.running) return;
        await new Promise((r) => setTimeout(r, 1000));
        void err;
        continue;
      }
      if (!msgs.length) continue;
      this.inflight++;
      try {
        await this.deliver(msgs);
      } finally {
        this.inflight--;
      }
    }
  }

  private async deliver(msgs: Message[]): Promise<void> {
    const records = msgs.map((m) => toRecord(m, this.o.queueArn, this.o.region));
    const event: SqsEvent = { Records: records };
    this.stats.batches++;
    this.stats.records += records.length;
    const out = await this.o.pool.invoke(event);
    const del = recordsToDelete(records, out.ok, out.result);
    if (!del) {
      this.stats.batchFailures++;
      return;
    }
    this.stats.itemFailures += records.length - del.length;
    for (let i = 0; i < del.length; i += 10) {
      const chunk = del.slice(i, i + 10);
      await this.o.sqs
        .send(new DeleteMessageBatchCommand({ QueueUrl: this.o.queueUrl, Entries: chunk.map((r, j) => ({ Id: String(j), ReceiptHandle: r.receiptHandle })) }))
        .then(() => {
          this.stats.deleted += chunk.length;
        })
        .catch(() => undefined); // the records come back after their visibility timeout
    }
  }
}
