/**
 * Standing fault suite (issue 9, finding 8): a message dead-lettered after crashes inside a
 * health check leaves a trace on its object, and the next scheduled reconcile runs.
 *
 * The same scenario runs through both runtimes, in this process, on the real components:
 *   - local: the consume loop (queue/consume.ts) on a LocalWorkQueue, state on disk;
 *   - SQS: processSqsBatch (queue/sqs-batch.ts) fed the way Lambda's event source mapping
 *     feeds it (receive a batch, run it, delete what did not fail), on an SqsWorkQueue over
 *     fauxqs with the redrive backstop above maxReceives (as serverless.yml), state in S3.
 * The fleet's `apps` Kustomization health-checks a ConfigMap `gate` that does not exist yet.
 * Every delivery of its reconcile "crashes" when the health check first looks at the gate:
 * the handler throws, and nothing the crashed reconcile would still do reaches the cluster
 * or the state store (it freezes, as a dead process would). After six crashes the message
 * is dead-lettered; then the gate is created, the clock moves past the object's next run,
 * and one scheduler tick (the real scheduleTick) must get a reconcile through.
 * Both runtimes must end with the same dead-letter reason, status and event.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import { loadConfig, type FluxlessConfig } from '../../shared/config/config.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { consume, type ReceivedMessage } from '../../shared/queue/index.js';
import { processSqsBatch, sqsBatchActions, type SqsRecord } from '../../shared/queue/sqs-batch.js';
import { bootstrap } from '../../shared/runtime/bootstrap.js';
import { enqueue } from '../../shared/runtime/enqueue.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { scheduleTick } from '../../shared/runtime/schedule.js';
import { deadLettered, handleMessage } from '../../shared/runtime/worker.js';
import { BUCKET_MS } from '../../shared/state/due-index.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import type { StateStore } from '../../shared/state/store.js';
import { createTestRepo } from '../harness/git-server.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { ensureSqsQueues } from '../harness/sqs-queues.js';
import { TOOL_MEMORY_MIB, configMap, kustomization, putConfigMap, waitFor } from './helpers.js';

/** As the brief and the issue: six crashes, then the dead-letter queue. */
const MAX_RECEIVES = 6;
/** serverless.yml keeps the queue's redrive backstop above the consumers' maxReceives. */
const REDRIVE_BACKSTOP = 10;
const CRASH = 'worker crashed inside the health check (injected fault)';

/** What a runtime ended with, namespaces replaced by `<ns>` so runs compare. */
interface Outcome {
  crashes: number;
  deadLetterReasons: string[];
  ready: { status: string; reason: string; message: string } | undefined;
  lastEvent: { severity: string; reason: string; message: string } | undefined;
  tickEnqueuedApps: boolean;
  readyAfterTick: string | undefined;
}

/** A runtime's work loop: started, stopped, and its dead letters. */
interface Driver {
  stop(): Promise<void>;
}

/** A promise that never settles: what a crashed process does next. */
const frozen = <T>(): Promise<T> => new Promise<T>(() => undefined);

/**
 * The handler both runtimes run: the real handleMessage, except that a delivery of
 * Kustomization `apps` crashes at the health check's first look at the gate while `armed`.
 */
function crashingHandler(rt: Runtime, gatePath: string) {
  const self = {
    armed: true,
    crashes: 0,
    handle(m: ReceivedMessage, signal: AbortSignal): Promise<void> {
      const t = m.message.target;
      if (!self.armed || t.kind !== 'Kustomization' || t.name !== 'apps') return handleMessage(rt, m, signal);
      let crashed = false;
      let crash!: (err: Error) => void;
      const died = new Promise<never>((_, reject) => (crash = reject));
      const inner = new AbortController();
      const client: KubeClient = {
        server: rt.client.server,
        get requestCount() {
          return rt.client.requestCount;
        },
        close: () => undefined,
        request<T>(method: string, p: string, opts?: Parameters<KubeClient['request']>[2]): Promise<T> {
          if (crashed) return frozen<T>();
          if (method === 'GET' && p === gatePath) {
            crashed = true;
            self.crashes++;
            crash(new Error(CRASH));
            inner.abort();
            return frozen<T>();
          }
          return rt.client.request<T>(method, p, opts);
        },
      };
      const state: StateStore = {
        get: (k) => rt.state.get(k),
        list: (p) => rt.state.list(p),
        put: (k, v, o) => (crashed ? frozen() : rt.state.put(k, v, o)),
        delete: (k, o) => (crashed ? frozen() : rt.state.delete(k, o)),
        update: (k, fn, o) => (crashed ? frozen() : rt.state.update(k, fn, o)),
      };
      const view: Runtime = { ...rt, client, state };
      const run = handleMessage(view, m, inner.signal);
      run.catch(() => undefined);
      return Promise.race([run, died]);
    },
  };
  return self;
}

function apps(ns: string): string {
  return kustomization(ns, 'apps', './apps', {
    interval: '1h',
    retryInterval: '1m',
    timeout: '5m',
    healthChecks: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gate', namespace: ns }],
  });
}

/** An SQS message as Lambda's event source mapping hands it to the function. */
function sqsRecord(m: Message, queueArn: string): SqsRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId!,
    receiptHandle: m.ReceiptHandle!,
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount,
      SentTimestamp: a.SentTimestamp,
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp,
      SequenceNumber: a.SequenceNumber,
      MessageGroupId: a.MessageGroupId,
      MessageDeduplicationId: a.MessageDeduplicationId,
    },
    messageAttributes: Object.fromEntries(Object.entries(m.MessageAttributes ?? {}).map(([k, v]) => [k, { stringValue: v.StringValue, dataType: v.DataType ?? 'String' }])),
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: 'us-east-1',
  };
}

async function runScenario(t: TestContext, kind: 'local' | 'sqs'): Promise<Outcome> {
  const env = await testEnv();
  const cluster = await env.cluster();
  const ns = await env.namespace(t, `dlq-${kind}`);
  const repo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), `fluxless-dlq-${kind}-`));
  const direct = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  await repo.commit({ 'clusters/dev/apps.yaml': apps(ns), 'apps/a.yaml': configMap('a', { v: '1' }) }, 'first');
  await repo.push();

  const vars: Record<string, string> = {
    FLUXLESS_SOURCE_URL: repo.url,
    FLUXLESS_SOURCE_BRANCH: 'main',
    FLUXLESS_SOURCE_INTERVAL: '1h',
    FLUXLESS_PATH: './clusters/dev',
    FLUXLESS_NAMESPACE: ns,
    FLUXLESS_KUBECONFIG: cluster.kubeconfigPath,
    FLUXLESS_MAX_RECEIVES: String(MAX_RECEIVES),
    FLUXLESS_TOOL_MEMORY_MIB: String(TOOL_MEMORY_MIB),
  };
  let sqs: SQSClient | undefined;
  let queueArn = '';
  if (kind === 'sqs') {
    const aws = await env.aws();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId, AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey, AWS_REGION: aws.region });
    const awsOpts = { region: aws.region, endpoint: aws.endpoint, credentials: aws.credentials };
    const s3 = new S3Client({ ...awsOpts, forcePathStyle: true });
    const bucket = `fluxless-dlq-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    s3.destroy();
    sqs = new SQSClient(awsOpts);
    const queues = await ensureSqsQueues(sqs, `fluxless-dlq-${randomBytes(4).toString('hex')}`, { maxReceiveCount: REDRIVE_BACKSTOP });
    queueArn = queues.queueArn;
    Object.assign(vars, {
      FLUXLESS_STORE: 's3',
      FLUXLESS_BUCKET: bucket,
      FLUXLESS_AWS_ENDPOINT: aws.endpoint,
      FLUXLESS_QUEUE: 'sqs',
      FLUXLESS_QUEUE_URL: queues.queueUrl,
      FLUXLESS_DLQ_URL: queues.dlqUrl,
    });
  }
  const cfg: FluxlessConfig = loadConfig({ env: vars, dataDir });
  assert.equal(cfg.worker.maxReceives, MAX_RECEIVES);
  const rt = createRuntime(cfg, { kubeConfig: kubeConfigFrom(cluster.kubeconfigPath) });
  rt.settings.healthIntervalMs = 200;
  let offsetMs = 0;
  rt.now = () => new Date(Date.now() + offsetMs);
  const crash = crashingHandler(rt, `/api/v1/namespaces/${ns}/configmaps/gate`);
  const onDeadLetter = (target: Parameters<typeof deadLettered>[1], reason: string) => deadLettered(rt, target, reason);

  let driver: Driver;
  if (kind === 'local') {
    const abort = new AbortController();
    const loop = consume(rt.queue, (m, ctx) => crash.handle(m, ctx.signal), {
      concurrency: 4,
      maxReceives: cfg.worker.maxReceives,
      onDeadLetter,
      visibilityTimeoutSeconds: 120,
      waitSeconds: 1,
      backoffSeconds: () => 0,
      signal: abort.signal,
    });
    driver = {
      async stop() {
        abort.abort();
        await loop;
      },
    };
  } else {
    if (cfg.queue.type !== 'sqs') throw new Error('expected the SQS queue');
    const { url: queueUrl, dlqUrl } = cfg.queue;
    const client = sqs!;
    let running = true;
    const loop = (async () => {
      while (running) {
        const res = await client.send(
          new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 120, MessageSystemAttributeNames: ['All'], MessageAttributeNames: ['All'] }),
        );
        const records = (res.Messages ?? []).map((m) => sqsRecord(m, queueArn));
        if (!records.length) continue;
        const out = await processSqsBatch(
          { Records: records },
          {
            ...sqsBatchActions(client, queueUrl, dlqUrl),
            handle: (m, s) => crash.handle(m, s),
            onDeadLetter,
            maxReceives: cfg.worker.maxReceives,
            backoffSeconds: () => 0,
            concurrency: 4,
          },
        );
        const failed = new Set(out.batchItemFailures.map((f) => f.itemIdentifier));
        for (const r of records) if (!failed.has(r.messageId)) await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle }));
      }
    })();
    driver = {
      async stop() {
        running = false;
        await loop;
      },
    };
  }
  t.after(async () => {
    await driver.stop().catch(() => undefined);
    await rt.queue.close().catch(() => undefined);
    rt.client.close();
    await rt.artifactCache.close().catch(() => undefined);
    sqs?.destroy();
    direct.close();
    await repo.cleanup().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });

  // What startLocalRuntime (and the Lambda schedule function) do first.
  for (const key of await bootstrap(rt, cfg)) await enqueue(rt, key, 'bootstrap', { dedupKey: `bootstrap-${rt.now().getTime()}` });
  await scheduleTick(rt);

  const appsKey = { kind: 'Kustomization', namespace: ns, name: 'apps' };
  const record = (): Promise<ObjectRecord | undefined> => readRecord(rt.state, appsKey);
  const deadReasons = async () => (await rt.queue.listDead()).filter((d) => d.message?.target.name === 'apps').map((d) => d.reason);
  await waitFor(`${kind}: the apps message dead-lettered`, async () => (await deadReasons()).length > 0, 120_000);
  // The dead-letter hook runs right after the message left the queue.
  await waitFor(`${kind}: the trace on apps`, async () => (await record())?.status.conditions?.some((c) => c.reason === 'DeadLettered') ?? false, 30_000);
  const dead = await record();
  assert.ok((await direct.request('GET', `/api/v1/namespaces/${ns}/configmaps/a`)) !== undefined, 'the apply before the health check happened');

  // The gate opens; no more crashes. The next scheduled run is due after retryInterval.
  crash.armed = false;
  await putConfigMap(direct, ns, 'gate', { open: 'yes' });
  const nextRunAt = Date.parse(dead?.status.nextRunAt ?? '');
  assert.ok(Number.isFinite(nextRunAt), `the dead-lettered object has a next run: ${dead?.status.nextRunAt}`);
  offsetMs = nextRunAt - Date.now() + BUCKET_MS + 1000;
  const tick = await scheduleTick(rt);
  const tickEnqueuedApps = tick.enqueued.some((e) => e.kind === 'Kustomization' && e.name === 'apps');
  await waitFor(`${kind}: apps reconciled by the scheduled run`, async () => {
    const c = (await record())?.status.conditions?.find((x) => x.type === 'Ready');
    return c?.status === 'True';
  }, 60_000);
  const after = await record();

  const norm = (s: string) => s.split(ns).join('<ns>');
  const readyCond = dead?.status.conditions?.find((c) => c.type === 'Ready');
  const ev = dead?.events?.at(-1);
  return {
    crashes: crash.crashes,
    deadLetterReasons: (await deadReasons()).map(norm),
    ready: readyCond && { status: readyCond.status, reason: readyCond.reason, message: norm(readyCond.message) },
    lastEvent: ev && { severity: ev.severity, reason: ev.reason, message: norm(ev.message) },
    tickEnqueuedApps,
    readyAfterTick: after?.status.conditions?.find((c) => c.type === 'Ready')?.status,
  };
}

test('six crashes inside a health check: dead-lettered with a trace on the object, the next scheduled reconcile runs; the local and SQS runtimes agree', { timeout: 300_000 }, async (t) => {
  const [local, sqs] = await Promise.all([runScenario(t, 'local'), runScenario(t, 'sqs')]);

  for (const [name, o] of [['local', local], ['sqs', sqs]] as const) {
    assert.equal(o.crashes, MAX_RECEIVES, `${name}: crashed on every delivery until the dead-letter queue`);
    assert.equal(o.deadLetterReasons.length, 1, `${name}: one dead letter: ${o.deadLetterReasons.join(' | ')}`);
    const reason = o.deadLetterReasons[0]!;
    assert.match(reason, new RegExp(`Kustomization/<ns>/apps failed ${MAX_RECEIVES} time\\(s\\) \\(maxReceives ${MAX_RECEIVES}\\)`), `${name}: ${reason}`);
    assert.ok(reason.includes(CRASH), `${name}: the last error is in the reason: ${reason}`);
    assert.equal(o.ready?.status, 'False', name);
    assert.equal(o.ready?.reason, 'DeadLettered', name);
    assert.ok(o.ready?.message.includes(reason), `${name}: Ready says why: ${o.ready?.message}`);
    assert.deepEqual(o.lastEvent, { severity: 'error', reason: 'DeadLettered', message: o.ready?.message }, `${name}: an event`);
    assert.ok(o.tickEnqueuedApps, `${name}: the scheduler's next request for apps got through`);
    assert.equal(o.readyAfterTick, 'True', `${name}: the scheduled reconcile ran and passed the (now open) health check`);
  }
  assert.deepEqual(sqs, local, 'both runtimes end the same way');
});
