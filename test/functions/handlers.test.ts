/**
 * The Lambda handlers in-process, with events shaped like the real ones, against the real
 * servers of the harness: fauxqs (S3 + SQS), the kube-apiserver and the git server.
 *
 * schedule (EventBridge) bootstraps the flux-system objects into S3 and enqueues them; the
 * worker (SQS batches, delivered the way the Lambda event source mapping does: receive,
 * invoke, delete what was not reported) applies the fleet repo to the cluster and sends a
 * malformed record to the DLQ; the webhook (API Gateway HTTP API v2 and function URL
 * events) takes a signed GitHub push and the change reaches the cluster.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { LambdaEvent } from 'hono/aws-lambda';
import { createKubeClient } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { SqsWorkQueue } from '../../shared/queue/index.js';
import { ensureSqsQueues } from '../harness/sqs-queues.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { lambdaRuntime, resetLambdaRuntime } from '../../shared/runtime/lambda.js';
import type { SqsBatchResponse, SqsEvent, SqsRecord } from '../../shared/queue/sqs-batch.js';
import { configMap, fleet } from '../e2e/helpers.js';
import { createTestRepo } from '../harness/git-server.js';
import { stopStarted, testEnv } from '../harness/index.js';

after(async () => {
  await resetLambdaRuntime();
  await stopStarted();
});

interface LambdaResult {
  statusCode: number;
  body: string;
  headers?: Record<string, string | string[]>;
  isBase64Encoded?: boolean;
}

function lambdaContext(functionName: string) {
  const deadline = Date.now() + 600_000;
  return {
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: '2024/01/01/[$LATEST]0123456789abcdef',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * An API Gateway HTTP API (payload 2.0) event, without an authorizer. (Hono's type insists on
 * requestContext.authorizer/authentication, which such events do not carry: hence the casts.)
 */
function httpApiEvent(method: string, rawPath: string, routeKey: string, headers: Record<string, string>, body: string | null, pathParameters?: Record<string, string>) {
  const now = new Date();
  return {
    version: '2.0',
    routeKey,
    rawPath,
    rawQueryString: '',
    headers: { host: 'abc123.execute-api.us-east-1.amazonaws.com', 'x-forwarded-proto': 'https', 'x-forwarded-port': '443', ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: 'abc123.execute-api.us-east-1.amazonaws.com',
      domainPrefix: 'abc123',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '140.82.115.10', userAgent: headers['user-agent'] ?? 'curl/8' },
      requestId: randomBytes(8).toString('hex'),
      routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(pathParameters ? { pathParameters } : {}),
    body,
    isBase64Encoded: false,
  };
}

/** A Lambda function URL event (payload 2.0, routeKey $default, base64 body). */
function functionUrlEvent(method: string, rawPath: string, headers: Record<string, string>, body: string | null) {
  const ev = httpApiEvent(method, rawPath, '$default', headers, body === null ? null : Buffer.from(body).toString('base64'));
  return {
    ...ev,
    headers: { ...ev.headers, host: 'xyz.lambda-url.us-east-1.on.aws' },
    requestContext: { ...ev.requestContext, apiId: 'xyz', domainName: 'xyz.lambda-url.us-east-1.on.aws', domainPrefix: 'xyz', stage: '$default' },
    isBase64Encoded: body !== null,
  };
}

function scheduledEvent() {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/fluxless-test-schedule'],
    detail: {},
  };
}

/** An SQS message as the Lambda event source mapping hands it to the function. */
function sqsRecord(m: Message, queueArn: string): SqsRecord {
  const attrs = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: attrs.ApproximateReceiveCount,
      SentTimestamp: attrs.SentTimestamp,
      SenderId: attrs.SenderId ?? 'AIDAEXAMPLE',
      ApproximateFirstReceiveTimestamp: attrs.ApproximateFirstReceiveTimestamp,
      SequenceNumber: attrs.SequenceNumber,
      MessageGroupId: attrs.MessageGroupId,
      MessageDeduplicationId: attrs.MessageDeduplicationId,
    },
    messageAttributes: Object.fromEntries(
      Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue, dataType: v.DataType ?? 'String' }]),
    ),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

test('Lambda handlers: schedule bootstraps, the worker applies and dead-letters malformed records, a signed webhook deploys a push', { timeout: 240_000 }, async (t) => {
  const env = await testEnv();
  const aws = await env.aws();
  const cluster = await env.cluster();
  const ns = await env.namespace(t, 'lambda');
  const kube = createKubeClient(cluster.kubeConfig());
  t.after(() => kube.close());
  const repo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  t.after(() => repo.cleanup().catch(() => undefined));

  // The fleet: a Receiver (token in a Secret on the management cluster) and an apps Kustomization.
  const token = randomBytes(16).toString('hex');
  await kube.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
  // A Kustomization that substitutes from a ConfigMap labelled for the config watch, on an hour's interval.
  await kube.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: 'vars', labels: { 'reconcile.fluxcd.io/watch': 'Enabled' } }, data: { v: 'one' } } });
  const watched = [
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    '  name: watched',
    `  namespace: ${ns}`,
    'spec:',
    '  interval: 1h',
    '  prune: true',
    '  path: ./watched',
    `  targetNamespace: ${ns}`,
    '  sourceRef:',
    '    kind: GitRepository',
    '    name: flux-system',
    '  postBuild:',
    '    substituteFrom:',
    '      - kind: ConfigMap',
    '        name: vars',
    '',
  ].join('\n');
  await repo.commit(fleet(ns, { 'a.yaml': configMap('a', { v: '1' }) }, { 'clusters/dev/watched.yaml': watched, 'watched/w.yaml': configMap('w', { v: '${v}' }) }), 'first');
  await repo.push();

  // AWS side: a bucket with the kubeconfig object, the FIFO queue and its DLQ.
  const awsOpts = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
  const s3 = new S3Client({ ...awsOpts, forcePathStyle: true });
  const sqs = new SQSClient(awsOpts);
  t.after(() => {
    s3.destroy();
    sqs.destroy();
  });
  const bucket = `fluxless-lambda-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'config/kubeconfig', Body: await readFile(cluster.kubeconfigPath) }));
  const queues = await ensureSqsQueues(sqs, `fluxless-lambda-${randomBytes(4).toString('hex')}`, { maxReceiveCount: 10 });
  const queueArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['QueueArn'] }))).Attributes!.QueueArn!;

  // The function configuration, as serverless.yml sets it (plus the local endpoint).
  Object.assign(process.env, {
    AWS_REGION: aws.region,
    AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
    FLUXLESS_AWS_ENDPOINT: aws.endpoint,
    FLUXLESS_STORE: 's3',
    FLUXLESS_BUCKET: bucket,
    FLUXLESS_QUEUE: 'sqs',
    FLUXLESS_QUEUE_URL: queues.queueUrl,
    FLUXLESS_DLQ_URL: queues.dlqUrl,
    FLUXLESS_SOURCE_URL: repo.url,
    FLUXLESS_SOURCE_BRANCH: 'main',
    FLUXLESS_PATH: './clusters/dev',
    FLUXLESS_NAMESPACE: ns,
    FLUXLESS_KUBECONFIG_S3: 'config/kubeconfig',
  });
  await resetLambdaRuntime();
  const schedule = await import('../../functions/schedule.js');
  const worker = await import('../../functions/worker.js');
  const webhook = await import('../../functions/webhook.js');

  const state = async () => (await lambdaRuntime({ cluster: false })).rt.state;
  const record = async (kind: string, name: string): Promise<ObjectRecord | undefined> => readRecord(await state(), { kind, namespace: ns, name });
  const configMapValue = async (name: string) =>
    (await kube.request<KubeObject & { data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`).catch(() => undefined))?.data?.v;

  /** One delivery as the event source mapping does it: receive a batch, invoke, delete the successes. */
  const responses: Array<{ event: SqsEvent; response: SqsBatchResponse }> = [];
  const deliver = async (): Promise<number> => {
    const res = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queues.queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 600,
        MessageSystemAttributeNames: ['All'],
        MessageAttributeNames: ['All'],
      }),
    );
    const msgs = res.Messages ?? [];
    if (msgs.length === 0) return 0;
    const event: SqsEvent = { Records: msgs.map((m) => sqsRecord(m, queueArn)) };
    const response = await worker.handler(event, lambdaContext('fluxless-test-worker'));
    responses.push({ event, response });
    const failed = new Set(response.batchItemFailures.map((f) => f.itemIdentifier));
    for (const r of event.Records) {
      if (!failed.has(r.messageId)) await sqs.send(new DeleteMessageCommand({ QueueUrl: queues.queueUrl, ReceiptHandle: r.receiptHandle }));
    }
    return msgs.length;
  };
  const until = async (what: string, check: () => Promise<boolean>, timeoutMs = 90_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (await check().catch(() => false)) return;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      if ((await deliver()) === 0) await new Promise((r) => setTimeout(r, 250));
    }
  };

  await t.test('schedule: the EventBridge tick writes the bootstrap objects to S3 and enqueues them', async () => {
    const summary = await schedule.handler(scheduledEvent(), lambdaContext('fluxless-test-schedule'));
    const keys = (x: Array<{ kind: string; namespace: string; name: string }>) => x.map((k) => `${k.kind}/${k.namespace}/${k.name}`).sort();
    assert.deepEqual(keys(summary.bootstrapped), [`GitRepository/${ns}/flux-system`, `Kustomization/${ns}/flux-system`]);
    assert.deepEqual(keys(summary.enqueued), keys(summary.bootstrapped));
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'state/' }));
    const objects = (listed.Contents ?? []).map((o) => o.Key);
    assert.ok(objects.includes(`state/GitRepository/${ns}/flux-system.json`), `state objects: ${objects.join(', ')}`);
    assert.ok(objects.includes(`state/Kustomization/${ns}/flux-system.json`));
    assert.equal(((await record('GitRepository', 'flux-system'))?.object?.spec as { url?: string } | undefined)?.url, repo.url);
    // Unchanged configuration: nothing written again; the objects are still due, but the
    // queue's deduplication keeps one message each.
    const again = await schedule.handler(scheduledEvent(), lambdaContext('fluxless-test-schedule'));
    assert.deepEqual(again.bootstrapped, []);
    const attrs = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }));
    assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, '2');
  });

  await t.test('worker: SQS batches reconcile the fleet into the cluster; a malformed record goes to the DLQ, not to batchItemFailures', async () => {
    const junk = '{"v":1,"type":"reconcile","target":{"kind":"Kustomization"}}';
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: queues.queueUrl, MessageBody: junk, MessageGroupId: 'junk', MessageDeduplicationId: randomUUID() }));
    const rev = `main@sha1:${await repo.head()}`;
    await until('apps applied at the first revision', async () => {
      const apps = await record('Kustomization', 'apps');
      return apps?.status.lastAppliedRevision === rev && getCondition(apps, 'Ready')?.status === 'True' && (await configMapValue('a')) === '1';
    });
    const withJunk = responses.find((r) => r.event.Records.some((x) => x.messageId === sent.MessageId));
    assert.ok(withJunk, 'the malformed record was delivered');
    assert.ok(withJunk.event.Records.length > 1, 'it came in a batch with valid records');
    assert.ok(!withJunk.response.batchItemFailures.some((f) => f.itemIdentifier === sent.MessageId), 'not reported as a failure');
    for (const r of responses) assert.deepEqual(r.response.batchItemFailures, [], 'no valid record failed');
    const dead = await new SqsWorkQueue({ client: sqs, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl }).listDead();
    assert.equal(dead.length, 1);
    assert.equal(dead[0].messageId, sent.MessageId);
    assert.equal(dead[0].raw, junk);
    assert.equal(dead[0].groupId, 'junk');
    assert.match(dead[0].reason, /malformed message: field "target\.namespace"/);
    assert.ok(getCondition(await record('GitRepository', 'flux-system'), 'Ready')?.status === 'True');
    assert.ok(await record('Receiver', 'github'), 'the Receiver definition is in the state store');
  });

  await t.test('webhook: health check, a forged push refused, a signed GitHub push deploys the new commit', async () => {
    const ctx = lambdaContext('fluxless-test-webhook');
    const health = (await webhook.handler(functionUrlEvent('GET', '/healthz', { 'user-agent': 'curl/8' }, null) as unknown as LambdaEvent, ctx)) as LambdaResult;
    assert.equal(health.statusCode, 200);
    assert.deepEqual(JSON.parse(health.body), { status: 'ok' });

    await repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }) }, 'second');
    await repo.push();
    const head = await repo.head();
    const body = JSON.stringify({
      ref: 'refs/heads/main',
      before: '0'.repeat(40),
      after: head,
      repository: { full_name: 'fleet/fleet', clone_url: repo.url },
      head_commit: { id: head, message: 'second' },
    });
    const hookPath = webhookPath(token, 'github', ns);
    const digest = hookPath.split('/').pop()!;
    const headers = (sig: string) => ({
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/abc123',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': sig,
      'content-length': String(Buffer.byteLength(body)),
    });

    const forged = (await webhook.handler(
      httpApiEvent('POST', hookPath, 'POST /hook/{digest}', headers('sha256=' + '0'.repeat(64)), body, { digest }) as unknown as LambdaEvent,
      ctx,
    )) as LambdaResult;
    assert.equal(forged.statusCode, 401, forged.body);
    assert.equal((await record('GitRepository', 'flux-system'))?.requestedAt, undefined, 'a forged hook marks nothing');

    const sig = 'sha256=' + createHmac('sha256', token).update(body).digest('hex');
    const ok = (await webhook.handler(httpApiEvent('POST', hookPath, 'POST /hook/{digest}', headers(sig), body, { digest }) as unknown as LambdaEvent, ctx)) as LambdaResult;
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok((await record('GitRepository', 'flux-system'))?.requestedAt, 'the GitRepository is marked for reconcile');

    const rev2 = `main@sha1:${head}`;
    await until('apps applied at the pushed revision', async () => (await record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev2 && (await configMapValue('a')) === '2');
  });

  await t.test('schedule: the scheduler (no cluster) hands the config watch to the worker, which reconciles the Kustomization whose watched ConfigMap changed', async () => {
    await until('watched applied with the first value', async () => (await configMapValue('w')) === 'one');
    await kube.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/vars`, { body: { data: { v: 'two' } }, contentType: 'application/merge-patch+json' });
    const summary = await schedule.handler(scheduledEvent(), lambdaContext('fluxless-test-schedule'));
    assert.ok(
      summary.enqueued.some((e) => e.kind === 'SchedulerTick' && e.name === 'Kustomization' && e.reason === 'tick'),
      `the tick of the Kustomization kind is enqueued: ${JSON.stringify(summary.enqueued)}`,
    );
    const before = responses.length;
    await until('the watched Kustomization applied with the new value', async () => (await configMapValue('w')) === 'two');
    const bodies = responses.slice(before).flatMap((r) => r.event.Records.map((x) => JSON.parse(x.body) as { reason?: string; target: { kind: string; name: string } }));
    assert.ok(
      bodies.some((b) => b.target.kind === 'Kustomization' && b.target.name === 'watched' && b.reason === 'config'),
      `the worker's check woke the Kustomization for its config: ${JSON.stringify(bodies.map((b) => [b.target.kind, b.target.name, b.reason]))}`,
    );
  });
});
