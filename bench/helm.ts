/**
 * npm run bench:helm — N HelmReleases from one push: a fleet repository whose path holds a
 * HelmRepository (a loopback chart repository serving one small chart: a Deployment at 0
 * replicas, a ServiceAccount, a Service) and N HelmReleases of it; time from the webhook
 * to all N Ready in the local runtime, for N=100 and N=500; then a no-op re-reconcile of
 * all of them (no helm command may run). Baseline in the same run: the same N releases
 * installed by `helm upgrade --install`, then upgraded unchanged by `helm upgrade`, with
 * the same number of helm processes at once as the runtime's helm runner.
 * Ends with `RESULT n100_s=<x> n500_s=<y> install_ratio=<ours/helm> noop_ratio=<ours/helm upgrade>`.
 * Anchor: Flux 2.9 needs 26 s for 100 and 2 min 14 s for 500 HelmReleases on 16 cores.
 *
 * BENCH_SIZES (default 100,500), BENCH_HELM_SOURCE=helmrepository|oci (chartRef to an
 * OCIRepository instead; needs /usr/bin/docker-registry), FLUXLESS_HELM_CONCURRENCY.
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_CONCURRENCY } from '../shared/config/config.js';
import { helperLauncher } from '../shared/helm/launcher.js';
import { helmRunnerFor, registerHelmKubeConfig } from '../shared/kinds/helmrelease/runner.js';
import { createKubeClient } from '../shared/kube/client.js';
import { loadKubeConfig } from '../shared/kube/kubeconfig.js';
import { getCondition, readRecord } from '../shared/state/records.js';
import { ensureTools } from '../shared/render/tools.js';
import { enqueue } from '../shared/runtime/enqueue.js';
import { configureLogging } from '../shared/util/log.js';
import { sendGithubPush } from '../test/harness/github.js';
import { startRegistry } from '../test/harness/registry.js';
import { benchCluster, cpuDelta, kubeRequests, kubeRequestsPer, processCpu, startBenchFleet, systemCpu } from './common.js';

const run = promisify(execFile);
const SIZES = (process.env.BENCH_SIZES ?? '100,500').split(',').map(Number);
const CONCURRENCY = process.env.FLUXLESS_CONCURRENCY ?? String(DEFAULT_CONCURRENCY);
const HELM_CONCURRENCY = Number(process.env.FLUXLESS_HELM_CONCURRENCY ?? '8');
const SOURCE = process.env.BENCH_HELM_SOURCE === 'oci' ? 'oci' : 'helmrepository';

/** The small chart: a Deployment at 0 replicas, a ServiceAccount, a Service. */
async function writeChart(dir: string): Promise<string> {
  const root = path.join(dir, 'app');
  await mkdir(path.join(root, 'templates'), { recursive: true });
  await writeFile(path.join(root, 'Chart.yaml'), 'apiVersion: v2\nname: app\nversion: 1.0.0\nappVersion: "1.27"\n');
  await writeFile(path.join(root, 'values.yaml'), 'replicaCount: 0\n');
  await writeFile(
    path.join(root, 'templates', 'all.yaml'),
    [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: {{ .Release.Name }}',
      'spec:',
      '  replicas: {{ .Values.replicaCount }}',
      '  selector: {matchLabels: {app: {{ .Release.Name }}}}',
      '  template:',
      '    metadata: {labels: {app: {{ .Release.Name }}}}',
      '    spec:',
      '      serviceAccountName: {{ .Release.Name }}',
      '      containers: [{name: app, image: "nginx:1.27", ports: [{containerPort: 80, protocol: TCP}]}]',
      '---',
      'apiVersion: v1',
      'kind: ServiceAccount',
      'metadata:',
      '  name: {{ .Release.Name }}',
      '---',
      'apiVersion: v1',
      'kind: Service',
      'metadata:',
      '  name: {{ .Release.Name }}',
      'spec:',
      '  selector: {app: {{ .Release.Name }}}',
      '  ports: [{port: 80, protocol: TCP}]',
      '',
    ].join('\n'),
  );
  return root;
}

function loadNote(): string {
  try {
    return `load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`;
  } catch {
    return '';
  }
}

/** Runs `fn` over `items`, `limit` at once. */
async function pool<T>(items: T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (i < items.length) await fn(items[i++]);
    }),
  );
}

/** A loopback chart repository serving `dir`. */
async function serveDir(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, path.basename(decodeURIComponent((req.url ?? '/').split('?')[0])));
    readFile(file).then(
      (data) => {
        res.writeHead(200);
        res.end(data);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

interface Sources {
  chartTgz: string;
  repo?: { url: string; close(): Promise<void> };
  ociUrl?: string;
}

function releaseYaml(ns: string, i: number): string {
  const chart =
    SOURCE === 'oci'
      ? ['  chartRef:', '    kind: OCIRepository', '    name: app']
      : ['  chart:', '    spec:', '      chart: app', "      version: '1.0.x'", '      sourceRef: {kind: HelmRepository, name: charts}'];
  return ['apiVersion: helm.toolkit.fluxcd.io/v2', 'kind: HelmRelease', 'metadata:', `  name: app-${i}`, `  namespace: ${ns}`, 'spec:', '  interval: 10m', ...chart, ''].join('\n');
}

function sourceYaml(ns: string, s: Sources): string {
  if (SOURCE === 'oci') {
    return [
      'apiVersion: source.toolkit.fluxcd.io/v1',
      'kind: OCIRepository',
      'metadata:',
      '  name: app',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 1h',
      `  url: ${s.ociUrl}`,
      '  insecure: true',
      '  ref: {tag: 1.0.0}',
      '  layerSelector: {mediaType: application/vnd.cncf.helm.chart.content.v1.tar+gzip, operation: copy}',
      '',
    ].join('\n');
  }
  return ['apiVersion: source.toolkit.fluxcd.io/v1', 'kind: HelmRepository', 'metadata:', '  name: charts', `  namespace: ${ns}`, 'spec:', '  interval: 1h', `  url: ${s.repo!.url}`, ''].join('\n');
}

async function waitFor(what: string, ok: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ok())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * One helm command of the baseline, started like the runtime starts its own (through the
 * small spawner process), so neither pays for forking this large process.
 */
async function helmCommand(helm: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  // One retry: an API server this loaded sometimes drops a connection mid-request.
  await helmOnce(helm, args, env, cwd).catch(() => helmOnce(helm, args, env, cwd));
}

function helmOnce(helm: string, args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = helperLauncher(helm, args, { env, cwd, maxOut: 64 << 20, maxErr: 1 << 20 });
    p.on('error', reject);
    p.on('close', (code: number | null, _signal: unknown, _out: Buffer, err: Buffer) => (code === 0 ? resolve() : reject(new Error(`helm ${args[0]} failed: ${err.toString()}`))));
  });
}

/** The baseline: `helm upgrade --install` of n releases, then `helm upgrade` of them unchanged. */
async function helmBaseline(kubeconfigPath: string, chartTgz: string, n: number): Promise<{ installS: number; upgradeS: number }> {
  const { helm } = await ensureTools();
  const client = createKubeClient(loadKubeConfig(kubeconfigPath));
  const ns = `hbase-${n}-${Date.now().toString(36)}`;
  await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  const home = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-helm-'));
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HELM_CACHE_HOME: path.join(home, 'cache'), HELM_CONFIG_HOME: path.join(home, 'config'), HELM_DATA_HOME: path.join(home, 'data'), KUBECONFIG: kubeconfigPath };
  const names = Array.from({ length: n }, (_, i) => `app-${i}`);
  try {
    const c0 = systemCpu();
    const p0 = processCpu();
    const k0 = await kubeRequests(client);
    const t0 = performance.now();
    await pool(names, HELM_CONCURRENCY, (name) => helmCommand(helm, ['upgrade', '--install', name, chartTgz, '-n', ns], env, home));
    const installS = (performance.now() - t0) / 1000;
    const c1 = systemCpu();
    const p1 = processCpu();
    const k1 = await kubeRequests(client);
    console.log(`  baseline: helm upgrade --install x${n} ${installS.toFixed(1)} s (${HELM_CONCURRENCY} at once)${c0 && c1 ? `; CPU: machine busy ${(c1.busy - c0.busy).toFixed(1)} s of ${(c1.total - c0.total).toFixed(1)} s; ${cpuDelta(p0, p1)}` : ''}`);
    console.log(`  baseline: API server requests per release: ${kubeRequestsPer(k0, k1, n)}`);
    const t1 = performance.now();
    await pool(names, HELM_CONCURRENCY, (name) => helmCommand(helm, ['upgrade', name, chartTgz, '-n', ns], env, home));
    const upgradeS = (performance.now() - t1) / 1000;
    return { installS, upgradeS };
  } finally {
    await client.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    client.close();
    await rm(home, { recursive: true, force: true });
  }
}

async function runSize(kubeconfigPath: string, n: number, s: Sources): Promise<{ readyS: number; noopS: number; noopHelm: number }> {
  const { ns, token, repo, rt, local, close } = await startBenchFleet(kubeconfigPath, `hbench-${n}`, CONCURRENCY, (r, kc) => registerHelmKubeConfig(r.client, kc));
  try {
    const root = () => readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name: 'flux-system' });
    await waitFor('the empty fleet', async () => getCondition(await root(), 'Ready')?.status === 'True', 120_000);
    const files: Record<string, string> = { 'clusters/bench/source.yaml': sourceYaml(ns, s) };
    for (let i = 0; i < n; i++) files[`clusters/bench/app-${i}.yaml`] = releaseYaml(ns, i);
    await repo.commit(files, `${n} helm releases`);
    await repo.push();
    const head = await repo.head();
    const runner = await helmRunnerFor(rt);
    const cpu0 = systemCpu();
    const proc0 = process.cpuUsage();
    const comp0 = processCpu();
    const calls0 = rt.client.requestCount;
    const kube0 = await kubeRequests(rt.client);
    const t0 = performance.now();
    const res = await sendGithubPush({ url: local.url, namespace: ns, token, head, repository: { full_name: 'bench/fleet' } });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    const ready = new Set<number>();
    await waitFor(
      `${n} HelmReleases Ready`,
      async () => {
        for (let i = 0; i < n; i++) {
          if (ready.has(i)) continue;
          const r = await readRecord(rt.state, { kind: 'HelmRelease', namespace: ns, name: `app-${i}` });
          if (getCondition(r, 'Ready')?.status === 'True' && r?.status.observedGeneration === Number(r?.object?.metadata.generation ?? 1)) ready.add(i);
          // Stop at the first one not Ready: polling every record would cost the runtime's CPU.
          else break;
        }
        return ready.size === n;
      },
      30 * 60_000,
    );
    const readyS = (performance.now() - t0) / 1000;
    const cpu1 = systemCpu();
    const proc = process.cpuUsage(proc0);
    const comp1 = processCpu();
    const kube1 = await kubeRequests(rt.client);
    console.log(`N=${n}: webhook -> all ${n} HelmReleases Ready in ${readyS.toFixed(1)} s (${CONCURRENCY} workers, ${HELM_CONCURRENCY} helm processes, source ${SOURCE})`);
    if (cpu0 && cpu1) {
      console.log(
        `  CPU: machine busy ${(cpu1.busy - cpu0.busy).toFixed(1)} s of ${(cpu1.total - cpu0.total).toFixed(1)} s; fluxless process ${((proc.user + proc.system) / 1e6).toFixed(1)} s; ${cpuDelta(comp0, comp1)}; ` +
          `API calls per HelmRelease ${((rt.client.requestCount - calls0) / n).toFixed(1)}; ${loadNote()}`,
      );
    }
    console.log(`  API server requests per HelmRelease (all clients, helm included): ${kubeRequestsPer(kube0, kube1, n)}`);

    // The no-op: every release reconciled again, nothing changed: no helm command may run.
    const helmCalls: string[] = [];
    const exec = runner.exec.bind(runner);
    runner.exec = (verb, args, call) => {
      helmCalls.push(verb);
      return exec(verb, args, call);
    };
    const before = new Map<number, string | undefined>();
    for (let i = 0; i < n; i++) before.set(i, (await readRecord(rt.state, { kind: 'HelmRelease', namespace: ns, name: `app-${i}` }))?.status.lastReconciledAt);
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await enqueue(rt, { kind: 'HelmRelease', namespace: ns, name: `app-${i}` }, 'manual', { dedupKey: `bench-noop-${t1}` });
    const done = new Set<number>();
    await waitFor(
      `${n} no-op reconciles`,
      async () => {
        for (let i = 0; i < n; i++) {
          if (done.has(i)) continue;
          const r = await readRecord(rt.state, { kind: 'HelmRelease', namespace: ns, name: `app-${i}` });
          if (r?.status.lastReconciledAt && r.status.lastReconciledAt !== before.get(i)) done.add(i);
          else break;
        }
        return done.size === n;
      },
      10 * 60_000,
    );
    const noopS = (performance.now() - t1) / 1000;
    runner.exec = exec;
    console.log(`  no-op re-reconcile of ${n}: ${noopS.toFixed(1)} s, helm commands: ${helmCalls.length}`);
    return { readyS, noopS, noopHelm: helmCalls.length };
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  configureLogging({ level: (process.env.FLUXLESS_LOG_LEVEL as 'info' | undefined) ?? 'error' });
  const cluster = await benchCluster();
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-chart-'));
  const stops: Array<() => Promise<unknown>> = [() => cluster.stop(), () => rm(work, { recursive: true, force: true })];
  try {
    const { helm } = await ensureTools();
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work, HELM_CACHE_HOME: path.join(work, 'cache'), HELM_CONFIG_HOME: path.join(work, 'config'), HELM_DATA_HOME: path.join(work, 'data') };
    const chartDir = await writeChart(work);
    const out = path.join(work, 'repo');
    await mkdir(out);
    await run(helm, ['package', chartDir, '-d', out], { env });
    const chartTgz = path.join(out, 'app-1.0.0.tgz');
    const sources: Sources = { chartTgz };
    if (SOURCE === 'oci') {
      const reg = await startRegistry();
      stops.unshift(() => reg.stop());
      await run(helm, ['push', chartTgz, `oci://${reg.host}/bench`, '--plain-http'], { env });
      sources.ociUrl = `oci://${reg.host}/bench/app`;
    } else {
      await run(helm, ['repo', 'index', out], { env });
      sources.repo = await serveDir(out);
      stops.unshift(() => sources.repo!.close());
    }
    const results: Record<number, { readyS: number; noopS: number; installS: number; upgradeS: number }> = {};
    for (const n of SIZES) {
      const ours = await runSize(cluster.kubeconfigPath, n, sources);
      if (ours.noopHelm) console.log(`  WARNING: the no-op ran ${ours.noopHelm} helm command(s)`);
      const base = process.env.BENCH_SKIP_BASELINE ? { installS: 1, upgradeS: 1 } : await helmBaseline(cluster.kubeconfigPath, chartTgz, n);
      console.log(`  baseline: helm upgrade --install x${n} ${base.installS.toFixed(1)} s, helm upgrade (unchanged) x${n} ${base.upgradeS.toFixed(1)} s (${HELM_CONCURRENCY} at once); ${loadNote()}`);
      results[n] = { ...ours, ...base };
      console.log(`  N=${n}: install_ratio=${(ours.readyS / base.installS).toFixed(2)} noop_ratio=${(ours.noopS / base.upgradeS).toFixed(2)}`);
    }
    const last = SIZES.at(-1)!;
    const r = results[last];
    const fields = SIZES.map((n) => `n${n}_s=${results[n].readyS.toFixed(1)}`);
    fields.push(`install_ratio=${(r.readyS / r.installS).toFixed(2)}`, `noop_ratio=${(r.noopS / r.upgradeS).toFixed(2)}`);
    console.log(`RESULT ${fields.join(' ')}`);
  } finally {
    for (const s of stops) await s().catch(() => undefined);
  }
}

await main();
