/**
 * npm run bench:aws — the Lambda path end to end on this machine, as serverless.yml deploys it:
 * fauxqs for S3 and SQS (behind a counting proxy per caller), the function bundles
 * (dist/functions/*.mjs) in Lambda-like containers (bench/aws/pool.ts: separate processes,
 * warm between invocations, frozen while idle, cold when one is added), the worker fed by an
 * SQS event source mapping (bench/aws/esm.ts: batches of 10, at most `maximumConcurrency`
 * containers, ReportBatchItemFailures), the webhook behind a local API Gateway (HTTP API,
 * payload 2.0), the scheduler ticking every minute.
 *
 * Per size (BENCH_SIZES, default 100,500), the bench:fleet app (bench/fleet.ts):
 *  A. one push adding N apps, webhook to all N Kustomizations Ready (the timed figure);
 *  B. a drift run of every Kustomization with nothing changed (the steady state);
 *  C. an idle minute and a scheduler tick with nothing due (its S3 requests must not grow with N);
 *  D. a push changing one app (every Kustomization on the source reconciles the new revision).
 * Then bench:fleet's N=500 in the same run, for the ratio. `--cost` prints the monthly cost
 * model (bench/aws/cost.ts, docs/cost.md) from these counts; `--no-build` keeps dist/ as it is;
 * `--no-fleet` skips the bench:fleet comparison. Ends with `RESULT n100_s=<x> n500_s=<y>
 * s3_per_reconcile=<a> sqs_per_reconcile=<b> ...`.
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { build } from 'esbuild';
import { EXTERNAL_KUBECONFIG_ENV } from '../shared/devenv/controlplane.js';
import { startGitServer } from '../shared/devenv/git-server.js';
import { createKubeClient } from '../shared/kube/client.js';
import { loadKubeConfig } from '../shared/kube/kubeconfig.js';
import { reconcileMessage, toQueueId } from '../shared/queue/message.js';
import { ensureTools } from '../shared/render/tools.js';
import { S3StateStore } from '../shared/state/s3-store.js';
import { getCondition, readRecord } from '../shared/state/records.js';
import { configureLogging } from '../shared/util/log.js';
import { createTestRepo } from '../test/harness/git-server.js';
import { sendGithubPush } from '../test/harness/github.js';
import { starters, stopStarted } from '../test/harness/index.js';
import { ensureSqsQueues } from '../test/harness/sqs-queues.js';
import { costTable, type Measured, type UnitCost } from './aws/cost.js';
import { EventSourceMapping } from './aws/esm.js';
import { startHttpApi } from './aws/http-adapter.js';
import { FunctionPool, type PoolStats } from './aws/pool.js';
import { diff, s3PriceClasses, snapshot, sqsRequests, startCountingProxy, sum, type Counts, type CountingProxy } from './aws/proxy.js';
import { readServerless, type ServerlessSettings } from './aws/serverless.js';
import { allHoldStep, benchCluster, cpuDelta, kubeRequests, processCpu, systemCpu } from './common.js';
import { fleetApp } from './fleet.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SIZES = (process.env.BENCH_SIZES ?? '100,500').split(',').map(Number);
const TICK_S = Number(process.env.BENCH_TICK_S ?? 60);
const IDLE_S = Number(process.env.BENCH_IDLE_S ?? 60);
const ARGS = new Set(process.argv.slice(2));
const FNS = ['webhook', 'worker', 'schedule'] as const;
type Fn = (typeof FNS)[number];
/** Lambda's START/END/REPORT lines per invocation, in CloudWatch Logs. */
const LAMBDA_LOG_BYTES = 300;

/** Callers with a proxy (and counts) of their own. */
const CALLERS = ['webhook', 'worker', 'schedule', 'esm', 'drift'] as const;
type Caller = (typeof CALLERS)[number];

interface Sample {
  counts: Record<Caller, Counts>;
  pools: Record<Fn, PoolStats>;
  esm: { batches: number; records: number; deleted: number; itemFailures: number; batchFailures: number };
  logBytes: number;
  kubeCalls: number;
  kubeByVerb: Counts;
  cpu: CpuReading;
  at: number;
}

/** CPU seconds so far: the machine, this process (fauxqs, the proxies, the mapping, the poller), the function containers and the cluster's processes. */
interface CpuReading {
  machineBusy: number;
  machineTotal: number;
  bench: number;
  components: Record<string, number>;
}

function cpuReading(): CpuReading {
  const m = systemCpu();
  const self = process.cpuUsage();
  return { machineBusy: m?.busy ?? 0, machineTotal: m?.total ?? 0, bench: (self.user + self.system) / 1e6, components: processCpu() };
}

/** One measured phase: what changed between two samples. */
interface Phase {
  seconds: number;
  counts: Counts;
  byCaller: Record<Caller, Counts>;
  pools: Record<Fn, PoolStats>;
  esm: Sample['esm'];
  logBytes: number;
  kubeCalls: number;
  /** Kubernetes API requests by verb and resource (`GET deployments`), all clients. */
  kubeByVerb: Counts;
  /** CPU line: where the phase's CPU seconds went. */
  cpu: string;
}

function poolDiff(a: PoolStats, b: PoolStats): PoolStats {
  return {
    invocations: a.invocations - b.invocations,
    coldStarts: a.coldStarts - b.coldStarts,
    errors: a.errors - b.errors,
    timeouts: a.timeouts - b.timeouts,
    durationMs: a.durationMs - b.durationMs,
    initMs: a.initMs - b.initMs,
    inits: a.inits.slice(b.inits.length),
    spawns: a.spawns.slice(b.spawns.length),
  };
}

function phaseOf(after: Sample, before: Sample): Phase {
  const byCaller = Object.fromEntries(CALLERS.map((c) => [c, diff(after.counts[c], before.counts[c])])) as Record<Caller, Counts>;
  return {
    seconds: (after.at - before.at) / 1000,
    counts: sum(...Object.values(byCaller)),
    byCaller,
    pools: Object.fromEntries(FNS.map((f) => [f, poolDiff(after.pools[f], before.pools[f])])) as Record<Fn, PoolStats>,
    esm: {
      batches: after.esm.batches - before.esm.batches,
      records: after.esm.records - before.esm.records,
      deleted: after.esm.deleted - before.esm.deleted,
      itemFailures: after.esm.itemFailures - before.esm.itemFailures,
      batchFailures: after.esm.batchFailures - before.esm.batchFailures,
    },
    logBytes: after.logBytes - before.logBytes,
    kubeCalls: after.kubeCalls - before.kubeCalls,
    kubeByVerb: diff(after.kubeByVerb, before.kubeByVerb),
    cpu:
      `machine busy ${(after.cpu.machineBusy - before.cpu.machineBusy).toFixed(1)} s of ${(after.cpu.machineTotal - before.cpu.machineTotal).toFixed(1)} s; ` +
      `bench process (fauxqs, proxies, mapping) ${(after.cpu.bench - before.cpu.bench).toFixed(1)} s; ` +
      cpuDelta(before.cpu.components, after.cpu.components).replace('child processes', 'function containers and their children'),
  };
}

/** GB-seconds of a phase per function (invocations plus cold-start init, at the function's memory). */
function gbs(p: Phase, sls: ServerlessSettings, fn: Fn): number {
  const s = p.pools[fn];
  return ((s.durationMs + s.initMs) / 1000) * (sls.functions[fn].memoryMb / 1024);
}

/** A phase as a unit cost, divided by `per`. */
function unitOf(p: Phase, sls: ServerlessSettings, per: number): UnitCost {
  const s3 = s3PriceClasses(p.counts);
  const invocations = FNS.reduce((a, f) => a + p.pools[f].invocations, 0);
  const eph = FNS.reduce((a, f) => a + ((p.pools[f].durationMs + p.pools[f].initMs) / 1000) * (Math.max(0, sls.functions[f].ephemeralStorageMb - 512) / 1024), 0);
  return {
    s3Put: s3.put / per,
    s3Get: s3.get / per,
    sqs: sqsRequests(p.counts) / per,
    lambdaInvocations: invocations / per,
    gbSeconds: FNS.reduce((a, f) => a + gbs(p, sls, f), 0) / per,
    ephemeralGbSeconds: eph / per,
    logBytes: (p.logBytes + invocations * LAMBDA_LOG_BYTES) / per,
    kubeCalls: p.kubeCalls / per,
  };
}

function fmtCounts(c: Counts): string {
  const keys = Object.keys(c).filter((k) => !k.endsWith(':entries')).sort();
  return keys.map((k) => `${k.replace(/^(s3|sqs):/, '')}=${c[k]}`).join(' ') || '-';
}

function fmtPhase(label: string, p: Phase, sls: ServerlessSettings, reconciles: number): string {
  const s3 = s3PriceClasses(p.counts);
  const s3Total = Object.entries(p.counts).filter(([k]) => k.startsWith('s3:')).reduce((a, [, v]) => a + v, 0);
  const lines = [
    `  ${label}: ${p.seconds.toFixed(1)} s, ${reconciles} reconcile messages handled (${p.esm.batches} batches, ${p.esm.itemFailures} item failures, ${p.esm.batchFailures} failed batches)`,
    `    S3  ${fmtCounts(Object.fromEntries(Object.entries(p.counts).filter(([k]) => k.startsWith('s3:'))))}  = ${s3Total} (${(s3Total / Math.max(1, reconciles)).toFixed(2)}/reconcile; PUT-class ${s3.put}, GET-class ${s3.get}, DELETE ${s3.del})`,
    `    SQS ${fmtCounts(Object.fromEntries(Object.entries(p.counts).filter(([k]) => k.startsWith('sqs:'))))}  = ${sqsRequests(p.counts)} (${(sqsRequests(p.counts) / Math.max(1, reconciles)).toFixed(2)}/reconcile)`,
  ];
  for (const f of FNS) {
    const s = p.pools[f];
    if (!s.invocations) continue;
    const inits = s.inits.length ? `, init ${s.inits.map((x) => x.toFixed(0)).join('/')} ms` : '';
    lines.push(
      `    Lambda ${f}: ${s.invocations} invocations (${s.coldStarts} cold${inits}; ${s.errors} errors), ${(s.durationMs / 1000).toFixed(1)} s billed, ${gbs(p, sls, f).toFixed(1)} GB-s at ${sls.functions[f].memoryMb} MB`,
    );
  }
  const topVerbs = Object.entries(p.kubeByVerb).sort((a, b) => b[1] - a[1]).slice(0, 6).map(([k, v]) => `${k} ${v}`).join(', ');
  lines.push(`    logs ${(p.logBytes / 1024).toFixed(0)} KiB; Kubernetes API requests (apiserver_request_total, all clients) ${p.kubeCalls}${topVerbs ? ` (${topVerbs}, ...)` : ''}`);
  lines.push(`    CPU: ${p.cpu}`);
  return lines.join('\n');
}

function dirBytes(dir: string): number {
  let n = 0;
  for (const f of readdirSync(dir)) n += statSync(path.join(dir, f)).size;
  return n;
}

async function until(what: string, ok: () => Promise<boolean>, timeoutMs: number, stepMs = 500): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** The container host (bench/aws/container.ts), bundled alone so a container loads nothing but the function bundle. */
async function containerHost(dir: string): Promise<string> {
  const out = path.join(dir, 'container.mjs');
  await build({ entryPoints: [path.join(ROOT, 'bench', 'aws', 'container.ts')], bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: out, logLevel: 'warning' });
  return out;
}

/** Everything one size measured. */
interface SizeResult {
  n: number;
  pushSeconds: number;
  push: Phase;
  drift: Phase;
  idle: Phase;
  tick: Phase;
  change: Phase;
  storedBytes: number;
  reconcilesA: number;
}

async function runSize(n: number, env: { kubeconfigPath: string; fauxqs: string; region: string; creds: { accessKeyId: string; secretAccessKey: string }; host: string; sls: ServerlessSettings; tools: { kubectl: string; helm: string } }): Promise<SizeResult> {
  const { sls } = env;
  const work = await mkdtemp(path.join(os.tmpdir(), `fluxless-bench-aws-${n}-`));
  const logDir = path.join(work, 'logs');
  await import('node:fs/promises').then((fs) => fs.mkdir(logDir));
  const kc = loadKubeConfig(env.kubeconfigPath);
  const kube = createKubeClient(kc);
  const ns = `aws-${n}-${Date.now().toString(36)}`;
  await kube.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  const token = randomBytes(16).toString('hex');
  await kube.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
  const git = await startGitServer({ root: path.join(work, 'git') });
  const repo = await createTestRepo(git, { name: 'fleet' });
  await repo.commit({ 'clusters/bench/receiver.yaml': `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: github\n  namespace: ${ns}\nspec:\n  type: github\n  secretRef: {name: webhook-token}\n  resources: [{kind: GitRepository, name: flux-system}]\n` }, 'receiver');
  await repo.push();

  // The AWS side, created directly on fauxqs (not counted): bucket, kubeconfig object, queues.
  const direct = { endpoint: env.fauxqs, region: env.region, credentials: env.creds };
  const s3 = new S3Client({ ...direct, forcePathStyle: true });
  const sqs = new SQSClient(direct);
  const bucket = `fluxless-bench-${n}-${randomBytes(3).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'config/kubeconfig', Body: await readFile(env.kubeconfigPath) }));
  const queues = await ensureSqsQueues(sqs, `fluxless-bench-${n}-${randomBytes(3).toString('hex')}`, { maxReceiveCount: sls.maxReceiveCount, visibilityTimeoutSeconds: sls.queueVisibilityTimeoutS });
  const state = new S3StateStore({ client: s3, bucket, prefix: 'state/' });

  const proxies = Object.fromEntries(await Promise.all(CALLERS.map(async (c) => [c, await startCountingProxy(env.fauxqs, c)] as const))) as Record<Caller, CountingProxy>;
  // Queue URLs as fauxqs names them (it finds the queue by URL); requests go to each caller's proxy endpoint.
  const via = (u: string, _p: CountingProxy) => u;
  const fnEnv = (fn: Fn): Record<string, string> => {
    const p = proxies[fn];
    return {
      ...sls.functions[fn].env,
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: path.join(work, 'home'),
      TMPDIR: path.join(work, 'tmp'),
      AWS_REGION: env.region,
      AWS_ACCESS_KEY_ID: env.creds.accessKeyId,
      AWS_SECRET_ACCESS_KEY: env.creds.secretAccessKey,
      FLUXLESS_AWS_ENDPOINT: p.url,
      FLUXLESS_BUCKET: bucket,
      FLUXLESS_QUEUE_URL: via(queues.queueUrl, p),
      FLUXLESS_DLQ_URL: via(queues.dlqUrl, p),
      FLUXLESS_SOURCE_URL: repo.url,
      FLUXLESS_SOURCE_BRANCH: 'main',
      FLUXLESS_PATH: './clusters/bench',
      FLUXLESS_NAMESPACE: ns,
      FLUXLESS_CACHE_DIR: path.join(work, 'cache'),
      // The kubectl layer's binaries (Lambda mounts them at /opt).
      FLUXLESS_KUBECTL: env.tools.kubectl,
      FLUXLESS_HELM: env.tools.helm,
    };
  };
  for (const d of ['home', 'tmp', 'cache']) await import('node:fs/promises').then((fs) => fs.mkdir(path.join(work, d)));
  const maxWorkers = Number(process.env.BENCH_K ?? sls.sqs.maximumConcurrency);
  const pools: Record<Fn, FunctionPool> = {
    worker: new FunctionPool({ name: 'worker', bundle: path.join(ROOT, 'dist/functions/worker.mjs'), memoryMb: sls.functions.worker.memoryMb, timeoutS: sls.functions.worker.timeoutS, maxConcurrency: maxWorkers, env: fnEnv('worker') }, env.host, logDir),
    webhook: new FunctionPool({ name: 'webhook', bundle: path.join(ROOT, 'dist/functions/webhook.mjs'), memoryMb: sls.functions.webhook.memoryMb, timeoutS: sls.functions.webhook.timeoutS, maxConcurrency: 10, env: fnEnv('webhook') }, env.host, logDir),
    schedule: new FunctionPool({ name: 'schedule', bundle: path.join(ROOT, 'dist/functions/schedule.mjs'), memoryMb: sls.functions.schedule.memoryMb, timeoutS: sls.functions.schedule.timeoutS, maxConcurrency: 1, env: fnEnv('schedule') }, env.host, logDir),
  };
  const esmSqs = new SQSClient({ ...direct, endpoint: proxies.esm.url });
  const esm = new EventSourceMapping({ sqs: esmSqs, queueUrl: via(queues.queueUrl, proxies.esm), queueArn: queues.queueArn, pool: pools.worker, batchSize: sls.sqs.batchSize, maxConcurrency: maxWorkers, region: env.region });
  const api = await startHttpApi(pools.webhook);
  const tick = async () => {
    const r = await pools.schedule.invoke({ version: '0', id: randomUUID(), 'detail-type': 'Scheduled Event', source: 'aws.events', account: '123456789012', time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), region: env.region, resources: ['arn:aws:events:us-east-1:123456789012:rule/fluxless-bench-schedule'], detail: {} });
    if (!r.ok) console.log(`  (schedule tick failed: ${r.error})`);
  };
  let ticker: NodeJS.Timeout | undefined;
  const startTicker = () => {
    ticker = setInterval(() => void tick(), TICK_S * 1000);
  };
  const stopTicker = () => clearInterval(ticker);
  const sample = async (): Promise<Sample> => ({
    counts: Object.fromEntries(CALLERS.map((c) => [c, snapshot(proxies[c].counts)])) as Record<Caller, Counts>,
    pools: Object.fromEntries(FNS.map((f) => [f, { ...pools[f].stats, inits: [...pools[f].stats.inits], spawns: [...pools[f].stats.spawns] }])) as Record<Fn, PoolStats>,
    esm: { ...esm.stats },
    logBytes: dirBytes(logDir),
    ...(await kubeRequests(kube).then((r) => ({ kubeCalls: r.total, kubeByVerb: r.byVerb }))),
    cpu: cpuReading(),
    at: performance.now(),
  });
  /** The queue is drained and no batch is running (three checks in a row). */
  const quiet = async () => {
    let calm = 0;
    await until('the queue to drain', async () => {
      const a = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queues.queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
      const pending = Number(a.Attributes?.ApproximateNumberOfMessages ?? 0) + Number(a.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
      calm = pending === 0 && esm.busy === 0 ? calm + 1 : 0;
      return calm >= 3;
    }, 10 * 60_000, 1000);
  };
  const keys = Array.from({ length: n }, (_, i) => ({ kind: 'Kustomization', namespace: ns, name: `app-${i}` }));
  /**
   * Waits until every Kustomization satisfies `ok` (allHoldStep: reading every pending record
   * each step would be up to N S3 GETs every 500 ms, served by the same process, fauxqs, that
   * serves the workers).
   */
  const allOf = (what: string, ok: (r: Awaited<ReturnType<typeof readRecord>>) => boolean) =>
    until(what, allHoldStep(n, async (i) => ok(await readRecord(state, keys[i]!))), 20 * 60_000);

  try {
    // Bootstrap: the first tick writes flux-system's GitRepository and Kustomization and enqueues them.
    await tick();
    esm.start();
    startTicker();
    await until('the empty fleet Ready', async () => getCondition(await readRecord(state, { kind: 'Kustomization', namespace: ns, name: 'flux-system' }), 'Ready')?.status === 'True', 5 * 60_000);
    await quiet();

    // A. One push adding N apps: webhook to all Ready.
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) Object.assign(files, fleetApp(ns, i));
    await repo.commit(files, `${n} apps`);
    await repo.push();
    const head = await repo.head();
    const rev = `main@sha1:${head}`;
    const a0 = await sample();
    const res = await sendGithubPush({ url: api.url, namespace: ns, token, head, repository: { full_name: 'bench/fleet' } });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    await allOf(`${n} Kustomizations Ready`, (r) => getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev);
    const a1 = await sample();
    const push = phaseOf(a1, a0);
    await quiet();
    const reconcilesA = push.esm.deleted;
    console.log(`N=${n}: webhook -> all ${n} Kustomizations Ready in ${push.seconds.toFixed(1)} s (Lambda path: ${maxWorkers} worker containers x FLUXLESS_CONCURRENCY ${sls.functions.worker.env.FLUXLESS_CONCURRENCY ?? '?'})`);
    console.log(fmtPhase('A. push of N new apps', push, sls, reconcilesA));

    // B. A drift run of every Kustomization, nothing changed: what the scheduler enqueues
    // every interval (sent here the way the tick sends them, counted as the scheduler's).
    // The first one after the push also re-stamps the objects controllers wrote to since
    // (Deployment status, ServiceAccount tokens): it is shown, the second one is the steady
    // state the cost model uses.
    stopTicker();
    const driftRun = async (run: number) => {
      const before = new Map<string, string | undefined>();
      for (const k of keys) before.set(k.name, (await readRecord(state, k))?.status.lastReconciledAt);
      const driftSqs = new SQSClient({ ...direct, endpoint: proxies.drift.url });
      const b0 = await sample();
      const bucketId = Math.floor(Date.now() / 10_000);
      for (const k of keys) {
        const msg = reconcileMessage(k, 'drift', { requestedAt: new Date() });
        await driftSqs.send(new SendMessageCommand({ QueueUrl: via(queues.queueUrl, proxies.drift), MessageBody: JSON.stringify(msg), MessageGroupId: toQueueId(`${k.kind}/${k.namespace}/${k.name}`), MessageDeduplicationId: toQueueId(`${k.kind}/${k.namespace}/${k.name}#due-${bucketId}-${run}`) }));
      }
      await allOf(`${n} drift reconciles`, (r) => Boolean(r?.status.lastReconciledAt) && r?.status.lastReconciledAt !== before.get(r!.object!.metadata.name));
      const b1 = await sample();
      driftSqs.destroy();
      await quiet();
      return phaseOf(b1, b0);
    };
    const settle = await driftRun(1);
    console.log(fmtPhase('B0. first drift run after the push (re-stamps what controllers wrote)', settle, sls, settle.esm.deleted));
    const drift = await driftRun(2);
    console.log(fmtPhase('B. no-op drift run of every Kustomization', drift, sls, drift.esm.deleted));

    // C. Idle: one tick to settle the cursor, an idle minute, then the measured tick (nothing due).
    await tick();
    await quiet();
    const c0 = await sample();
    await new Promise((r) => setTimeout(r, IDLE_S * 1000));
    const c1 = await sample();
    await tick();
    const c2 = await sample();
    const idle = phaseOf(c1, c0);
    const tickPhase = phaseOf(c2, c1);
    console.log(fmtPhase(`C. idle ${IDLE_S} s (mapping long polls, source poll)`, idle, sls, idle.esm.deleted));
    console.log(`  C. scheduler tick with nothing due: S3 ${fmtCounts(tickPhase.byCaller.schedule)}, ${(tickPhase.pools.schedule.durationMs).toFixed(0)} ms`);
    await quiet();

    // D. A push changing one app: every Kustomization on the source reconciles the new revision.
    await repo.commit({ [`apps/app-0/deploy.yaml`]: fleetApp(ns, 0)[`apps/app-0/deploy.yaml`]!.replace('nginx:1.27', 'nginx:1.28') }, 'one app');
    await repo.push();
    const head2 = await repo.head();
    const rev2 = `main@sha1:${head2}`;
    startTicker();
    const d0 = await sample();
    const res2 = await sendGithubPush({ url: api.url, namespace: ns, token, head: head2, repository: { full_name: 'bench/fleet' } });
    if (res2.status !== 200) throw new Error(`webhook answered ${res2.status}: ${await res2.text()}`);
    await allOf(`${n} Kustomizations at the changed revision`, (r) => r?.status.lastAppliedRevision === rev2 && getCondition(r, 'Ready')?.status === 'True');
    const d1 = await sample();
    const change = phaseOf(d1, d0);
    stopTicker();
    console.log(fmtPhase('D. push changing one app', change, sls, change.esm.deleted));

    let storedBytes = 0;
    let token2: string | undefined;
    do {
      const l = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token2 }));
      for (const o of l.Contents ?? []) storedBytes += o.Size ?? 0;
      token2 = l.IsTruncated ? l.NextContinuationToken : undefined;
    } while (token2);
    return { n, pushSeconds: push.seconds, push, drift, idle, tick: tickPhase, change, storedBytes, reconcilesA };
  } finally {
    stopTicker();
    await esm.stop();
    await Promise.all(FNS.map((f) => pools[f].close()));
    await api.close();
    await git.stop();
    for (const p of Object.values(proxies)) await p.close();
    esmSqs.destroy();
    await kube.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    for (const end = Date.now() + 180_000; Date.now() < end; ) {
      if (await kube.request('GET', `/api/v1/namespaces/${ns}`).then(() => false, () => true)) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    kube.close();
    s3.destroy();
    sqs.destroy();
    if (process.env.BENCH_KEEP !== '1') await rm(work, { recursive: true, force: true });
    else console.log(`  (kept ${work})`);
  }
}

/** bench:fleet's N=500 against the same cluster, in a child process; its seconds. */
async function localFleet(kubeconfigPath: string, n: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'bench/fleet.ts'], {
      cwd: ROOT,
      env: { ...process.env, BENCH_SIZES: String(n), [EXTERNAL_KUBECONFIG_ENV]: kubeconfigPath },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (b: Buffer) => {
      out += b.toString();
      process.stdout.write(`  [bench:fleet] ${b.toString().replace(/\n(?=.)/g, '\n  [bench:fleet] ')}`);
    });
    child.on('close', () => {
      const m = new RegExp(`RESULT .*n${n}_s=([0-9.]+)`).exec(out);
      resolve(m ? Number(m[1]) : undefined);
    });
  });
}

function measuredFrom(r: SizeResult, sls: ServerlessSettings): Measured {
  return {
    driftReconcile: unitOf(r.drift, sls, r.n),
    push: unitOf(r.change, sls, 1),
    pushN: r.n,
    idleTick: unitOf(r.tick, sls, 1),
    idleMinute: unitOf(r.idle, sls, r.idle.seconds / 60),
    storedBytesPerKustomization: r.storedBytes / r.n,
  };
}

async function main(): Promise<void> {
  configureLogging({ level: (process.env.FLUXLESS_LOG_LEVEL as 'info' | undefined) ?? 'error' });
  const load0 = os.loadavg();
  if (!ARGS.has('--no-build')) {
    const { stdout } = await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, maxBuffer: 16 << 20 });
    process.stdout.write(stdout);
  }
  for (const f of FNS) if (!existsSync(path.join(ROOT, 'dist/functions', `${f}.mjs`))) throw new Error(`dist/functions/${f}.mjs is missing: run npm run build`);
  const sls = readServerless(path.join(ROOT, 'serverless.yml'));
  const cluster = await benchCluster();
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-aws-'));
  try {
    const aws = await starters.aws();
    const host = await containerHost(work);
    const tools = await ensureTools();
    console.log(
      `bench:aws: fauxqs ${aws.endpoint}; worker ${sls.functions.worker.memoryMb} MB x up to ${process.env.BENCH_K ?? sls.sqs.maximumConcurrency} containers, batch ${sls.sqs.batchSize}; ` +
        `webhook ${sls.functions.webhook.memoryMb} MB; schedule ${sls.functions.schedule.memoryMb} MB every ${TICK_S} s; load average ${load0.map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} CPUs`,
    );
    const results: SizeResult[] = [];
    for (const n of SIZES) results.push(await runSize(n, { kubeconfigPath: cluster.kubeconfigPath, fauxqs: aws.endpoint, region: aws.region, creds: aws.credentials, host, sls, tools }));
    const tickS3 = results.map((r) => `N=${r.n}: ${Object.entries(r.tick.byCaller.schedule).filter(([k]) => k.startsWith('s3:')).reduce((a, [, v]) => a + v, 0)}`).join(', ');
    console.log(`idle scheduler tick, S3 requests: ${tickS3} (must not grow with N)`);
    let fleetS: number | undefined;
    const biggest = results[results.length - 1]!;
    if (!ARGS.has('--no-fleet')) {
      console.log(`bench:fleet N=${biggest.n} (local runtime) on the same cluster:`);
      fleetS = await localFleet(cluster.kubeconfigPath, biggest.n);
    }
    const a = biggest.push;
    const s3Total = Object.entries(a.counts).filter(([k]) => k.startsWith('s3:')).reduce((x, [, v]) => x + v, 0);
    const perRec = (x: number) => (x / Math.max(1, biggest.reconcilesA)).toFixed(2);
    const load1 = os.loadavg();
    console.log(`load average now ${load1.map((l) => l.toFixed(1)).join(' ')} (started at ${load0.map((l) => l.toFixed(1)).join(' ')})`);
    if (ARGS.has('--cost')) {
      const m = measuredFrom(biggest, sls);
      console.log(`per no-op drift reconcile (N=${biggest.n}): S3 PUT-class ${m.driftReconcile.s3Put.toFixed(2)}, GET-class ${m.driftReconcile.s3Get.toFixed(2)}, SQS ${m.driftReconcile.sqs.toFixed(2)}, Lambda ${m.driftReconcile.lambdaInvocations.toFixed(3)} invocations / ${m.driftReconcile.gbSeconds.toFixed(3)} GB-s, logs ${m.driftReconcile.logBytes.toFixed(0)} B, Kubernetes API ${(m.driftReconcile.kubeCalls ?? 0).toFixed(1)}`);
      console.log(`per push changing one app (N=${biggest.n}): S3 PUT-class ${m.push.s3Put}, GET-class ${m.push.s3Get}, SQS ${m.push.sqs}, Lambda ${m.push.lambdaInvocations} invocations / ${m.push.gbSeconds.toFixed(1)} GB-s`);
      console.log(`idle tick: S3 PUT-class ${m.idleTick.s3Put}, GET-class ${m.idleTick.s3Get}, ${m.idleTick.gbSeconds.toFixed(3)} GB-s; idle minute: SQS ${m.idleMinute.sqs.toFixed(1)}, Lambda ${m.idleMinute.lambdaInvocations.toFixed(2)} invocations`);
      console.log(costTable(m));
    }
    const ratio = fleetS ? (biggest.pushSeconds / fleetS).toFixed(2) : 'n/a';
    console.log(
      `RESULT ${results.map((r) => `n${r.n}_s=${r.pushSeconds.toFixed(1)}`).join(' ')} s3_per_reconcile=${perRec(s3Total)} sqs_per_reconcile=${perRec(sqsRequests(a.counts))}` +
        ` fleet_n${biggest.n}_s=${fleetS?.toFixed(1) ?? 'n/a'} aws_vs_local=${ratio}` +
        ` drift_s3_per_reconcile=${(Object.entries(biggest.drift.counts).filter(([k]) => k.startsWith('s3:')).reduce((x, [, v]) => x + v, 0) / biggest.n).toFixed(2)}` +
        ` ${results.map((r) => `idle_tick_s3_n${r.n}=${Object.entries(r.tick.byCaller.schedule).filter(([k]) => k.startsWith('s3:')).reduce((x, [, v]) => x + v, 0)}`).join(' ')}`,
    );
  } finally {
    await stopStarted();
    await cluster.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
