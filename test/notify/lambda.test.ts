/**
 * The Lambda path of notifications: S3 state and SQS FIFO queues (fauxqs), an event
 * recorded by the status writer becomes notify messages on SQS, and the worker function's
 * batch handler (processSqsBatch through handleSqsBatch) delivers them, with SQS batches
 * handed over the way Lambda's event source mapping does (receive, invoke, delete what was
 * not reported as failed). A repeated event is dropped by the FIFO deduplication; a
 * provider that stays down fails the record until it is dead-lettered, with the reason,
 * and the Alert records it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { loadConfig } from '../../shared/config/config.js';
import { noClusterKubeConfig } from '../../shared/kube/kubeconfig.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { shapeEvent } from '../../shared/notify/event.js';
import { dispatchEvent } from '../../shared/notify/sink.js';
import { SqsWorkQueue } from '../../shared/queue/index.js';
import type { SqsEvent, SqsRecord } from '../../shared/queue/sqs-batch.js';
import { recordEvent } from '../../shared/reconcile/status.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import { handleSqsBatch } from '../../shared/runtime/lambda-sqs.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { ensureSqsQueues } from '../harness/sqs-queues.js';
import { testEnv } from '../harness/index.js';
import { startRecorder } from './recorder.js';

const chat = await startRecorder();
const down = await startRecorder();
after(async () => {
  await chat.close();
  await down.close();
});

const NS = 'flux-system';
const def = (kind: string, name: string, spec: Record<string, unknown>, apiVersion = 'notification.toolkit.fluxcd.io/v1beta3'): ObjectRecord => ({
  object: { apiVersion, kind, metadata: { name, namespace: NS }, spec } as KubeObject,
  status: {},
});

test('Lambda: notify messages on SQS FIFO, delivered by the worker batch handler, deduplicated, retried and dead-lettered', { timeout: 120_000 }, async (t) => {
  const aws = await (await testEnv()).aws();
  Object.assign(process.env, { AWS_REGION: aws.region, AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey });
  const awsOpts = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
  const s3 = new S3Client({ ...awsOpts, forcePathStyle: true });
  const sqs = new SQSClient(awsOpts);
  t.after(() => {
    s3.destroy();
    sqs.destroy();
  });
  const bucket = `fluxless-notify-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const queues = await ensureSqsQueues(sqs, `fluxless-notify-${randomBytes(4).toString('hex')}`, { maxReceiveCount: 10 });
  const cfg = loadConfig({
    env: {
      FLUXLESS_STORE: 's3',
      FLUXLESS_BUCKET: bucket,
      FLUXLESS_QUEUE: 'sqs',
      FLUXLESS_QUEUE_URL: queues.queueUrl,
      FLUXLESS_DLQ_URL: queues.dlqUrl,
      FLUXLESS_AWS_ENDPOINT: aws.endpoint,
      AWS_REGION: aws.region,
      FLUXLESS_MAX_RECEIVES: '2',
      FLUXLESS_SOURCE_URL: 'https://example.invalid/fleet.git',
    },
  });
  const rt = createRuntime(cfg, { kubeConfig: noClusterKubeConfig() });
  t.after(async () => {
    rt.client.close();
    await rt.queue.close();
  });

  const ks = { kind: 'Kustomization', namespace: NS, name: 'apps' };
  await rt.state.put(ks, def('Kustomization', 'apps', { interval: '5m', path: './apps', sourceRef: { kind: 'GitRepository', name: 'flux-system' } }, 'kustomize.toolkit.fluxcd.io/v1'));
  await rt.state.put({ kind: 'Provider', namespace: NS, name: 'chat' }, def('Provider', 'chat', { type: 'slack', address: `${chat.url}/hook` }));
  await rt.state.put({ kind: 'Provider', namespace: NS, name: 'down' }, def('Provider', 'down', { type: 'generic', address: `${down.url}/hook` }));
  await rt.state.put({ kind: 'Alert', namespace: NS, name: 'chat' }, def('Alert', 'chat', { providerRef: { name: 'chat' }, eventSeverity: 'error', eventSources: [{ kind: 'Kustomization', name: '*' }] }));
  await rt.state.put({ kind: 'Alert', namespace: NS, name: 'down' }, def('Alert', 'down', { providerRef: { name: 'down' }, eventSources: [{ kind: 'Kustomization', name: 'apps' }] }));
  down.handle(() => ({ status: 503, body: 'maintenance' }));

  // The status writer records an event: the sink puts one notify message per Alert on SQS.
  const revision = `main@sha1:${'a'.repeat(40)}`;
  await recordEvent(rt.state, ks, { severity: 'error', reason: 'HealthCheckFailed', message: 'Deployment/apps/web not ready', revision }, new Date());
  // The same event again (a second worker, a retried invocation): Flux's rate-limit key is the FIFO dedup id.
  const rec = (await readRecord(rt.state, ks))!;
  const again = shapeEvent(ks, rec.events!.at(-1)!, rec)!;
  assert.deepEqual((await dispatchEvent(rt, again, undefined)).enqueued, ['flux-system/chat', 'flux-system/down'], 'sent again; the queue drops the duplicates');
  const depth = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
  assert.equal(depth.Attributes?.ApproximateNumberOfMessages, '2', 'one message per Alert');

  const queueArn = queues.queueArn;
  const toRecord = (m: Message): SqsRecord => ({
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: { ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount, MessageGroupId: m.Attributes?.MessageGroupId, SentTimestamp: m.Attributes?.SentTimestamp },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue, dataType: v.DataType ?? 'String' }])),
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: aws.region,
  });
  const outcomes: Array<{ failed: string[]; deadLettered: number }> = [];
  const deliver = async (): Promise<number> => {
    const res = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }));
    const msgs = res.Messages ?? [];
    if (!msgs.length) return 0;
    const event: SqsEvent = { Records: msgs.map(toRecord) };
    const out = await handleSqsBatch({ cfg, rt, sqs }, event);
    outcomes.push({ failed: out.batchItemFailures.map((f) => f.itemIdentifier), deadLettered: out.deadLettered.length });
    const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
    for (const r of event.Records) if (!failed.has(r.messageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: r.receiptHandle }));
    return msgs.length;
  };

  const alertEvents = async () => (await readRecord(rt.state, { kind: 'Alert', namespace: NS, name: 'down' }))?.events ?? [];
  for (let i = 0; i < 60 && !(await alertEvents()).some((e) => e.reason === 'NotificationDispatchFailed'); i++) await deliver();

  assert.equal(chat.requests.length, 1, 'Slack got the event once');
  const body = chat.requests[0].json<{ attachments: Array<{ color: string; text: string; fields: Array<{ title: string; value: string }> }> }>();
  assert.equal(body.attachments[0].color, 'danger');
  assert.equal(body.attachments[0].text, 'Deployment/apps/web not ready');
  assert.deepEqual(body.attachments[0].fields, [{ title: 'revision', value: revision, short: false }]);

  assert.equal(down.requests.length, 2, 'maxReceives 2: two tries');
  assert.ok(outcomes.some((o) => o.failed.length === 1), 'the first failure was reported to Lambda as a batch item failure');
  assert.ok(outcomes.some((o) => o.deadLettered === 1), 'the second failure dead-lettered the record');
  const dead = await new SqsWorkQueue({ client: sqs, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl }).listDead();
  assert.equal(dead.length, 1);
  assert.equal(dead[0].message?.type, 'notify');
  assert.match(dead[0].reason, /failed 2 time\(s\) \(maxReceives 2\); last error: failed to send notification for Kustomization\/flux-system\/apps: .*status code 503: maintenance/);
  const ev = (await alertEvents()).find((e) => e.reason === 'NotificationDispatchFailed')!;
  assert.match(ev.message, /^notification for Kustomization\/flux-system\/apps moved to the dead-letter queue: delivery failed 2 time\(s\)/);
});
