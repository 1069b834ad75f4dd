/**
 * npm run bench:fleet — N Kustomizations from one repository, each a Deployment scaled to 0,
 * a ServiceAccount, a Service and an Ingress (networking.k8s.io/v1); time from the webhook
 * to all Ready in the local runtime (filesystem store, on-disk queue, the worker pool), for
 * N=100 and N=500; then two no-op re-reconciles of the whole fleet (a drift run of every
 * Kustomization, nothing changed), with their API calls: the first after the controllers'
 * own writes, the second the steady state. Ends with `RESULT n100_s=<x> n500_s=<y>
 * noop_calls_per_ks_<n>=<c> steady_noop_calls_per_ks_<n>=<d> ...`. The fleet generator (`fleetApp`) is shared with
 * bench:aws.
 * Anchor: Flux 2.6 needs 28 s for 100 and 2 min 2 s for 500 on a 16-core runner.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_CONCURRENCY } from '../shared/config/config.js';
import { getCondition, readRecord } from '../shared/state/records.js';
import { kustomizeBatcher } from '../shared/render/kustomize-batch.js';
import { ensureTools } from '../shared/render/tools.js';
import { enqueue } from '../shared/runtime/enqueue.js';
import { configureLogging } from '../shared/util/log.js';
import { sendGithubPush } from '../test/harness/github.js';
import { allHoldStep, benchCluster, cpuDelta, kubeRequests, kubeRequestsPer, processCpu, startBenchFleet, systemCpu } from './common.js';

const SIZES = (process.env.BENCH_SIZES ?? '100,500').split(',').map(Number);
const CONCURRENCY = process.env.FLUXLESS_CONCURRENCY ?? String(DEFAULT_CONCURRENCY);

/** App `i` of the bench fleet: a Deployment (0 replicas), ServiceAccount, Service and Ingress, and its Kustomization in `ns`. */
export function fleetApp(ns: string, i: number): Record<string, string> {
  const n = `app-${i}`;
  return {
    [`apps/${n}/deploy.yaml`]: `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${n}\nspec:\n  replicas: 0\n  selector: {matchLabels: {app: ${n}}}\n  template:\n    metadata: {labels: {app: ${n}}}\n    spec:\n      serviceAccountName: ${n}\n      containers: [{name: app, image: "nginx:1.27", ports: [{containerPort: 80, protocol: TCP}]}]\n`,
    [`apps/${n}/sa.yaml`]: `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${n}\n`,
    [`apps/${n}/svc.yaml`]: `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${n}\nspec:\n  selector: {app: ${n}}\n  ports: [{port: 80, protocol: TCP}]\n`,
    [`apps/${n}/ingress.yaml`]: `apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata:\n  name: ${n}\nspec:\n  rules:\n  - host: ${n}.example.com\n    http:\n      paths:\n      - path: /\n        pathType: Prefix\n        backend: {service: {name: ${n}, port: {number: 80}}}\n`,
    [`clusters/bench/${n}.yaml`]: `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${n}\n  namespace: ${ns}\nspec:\n  interval: 10m\n  prune: true\n  wait: true\n  timeout: 2m\n  path: ./apps/${n}\n  targetNamespace: ${ns}\n  sourceRef: {kind: GitRepository, name: flux-system}\n`,
  };
}

/** What one size measured. */
interface SizeResult {
  seconds: number;
  /** API calls per Kustomization of a no-op re-reconcile of the whole fleet. */
  noopCalls: number;
  noopSeconds: number;
  /** The same for a second no-op pass (the steady state of the drift schedule). */
  steadyCalls: number;
}

async function runSize(kubeconfigPath: string, n: number): Promise<SizeResult> {
  const { ns, token, repo, rt, local, close } = await startBenchFleet(kubeconfigPath, `fleet-${n}`, CONCURRENCY);
  try {
    const wait = async (what: string, ok: () => Promise<boolean>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    };
    const root = () => readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name: 'flux-system' });
    await wait('the empty fleet', async () => getCondition(await root(), 'Ready')?.status === 'True', 120_000);
    const files: Record<string, string> = {};
    for (let i = 0; i < n; i++) Object.assign(files, fleetApp(ns, i));
    await repo.commit(files, `${n} apps`);
    await repo.push();
    const head = await repo.head();
    const rev = `main@sha1:${head}`;
    const cpu0 = systemCpu();
    const comp0 = processCpu();
    const self0 = process.cpuUsage();
    const calls0 = rt.client.requestCount;
    const kube0 = await kubeRequests(rt.client);
    const t0 = performance.now();
    const res = await sendGithubPush({ url: local.url, namespace: ns, token, head, repository: { full_name: 'bench/fleet' } });
    if (res.status !== 200) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
    // The source's part of the time: fetch, archive, store (then the Kustomizations start).
    const source = () => readRecord(rt.state, { kind: 'GitRepository', namespace: ns, name: 'flux-system' });
    await wait('the GitRepository artifact', async () => (await source())?.status.artifact?.revision === rev, 15 * 60_000);
    const sourceSeconds = (performance.now() - t0) / 1000;
    // Polled from the first Kustomization not yet seen Ready, then all N confirmed together.
    const isReady = async (i: number) => {
      const r = await readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name: `app-${i}` });
      return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev;
    };
    await wait(`${n} Kustomizations Ready`, allHoldStep(n, isReady), 15 * 60_000);
    const s = (performance.now() - t0) / 1000;
    const self = process.cpuUsage(self0);
    const cpu = systemCpu();
    const comp1 = processCpu();
    const kube1 = await kubeRequests(rt.client);
    console.log(`N=${n}: webhook -> all ${n} Kustomizations Ready in ${s.toFixed(1)} s (${CONCURRENCY} workers; the GitRepository artifact of ${n * 5} files stored after ${sourceSeconds.toFixed(1)} s)`);
    if (cpu && cpu0) {
      console.log(
        `  CPU: machine busy ${(cpu.busy - cpu0.busy).toFixed(1)} s of ${(cpu.total - cpu0.total).toFixed(1)} s; ` +
          `fluxless process ${((self.user + self.system) / 1e6).toFixed(1)} s (user ${(self.user / 1e6).toFixed(1)}, system ${(self.system / 1e6).toFixed(1)}); ` +
          cpuDelta(comp0, comp1) +
          `; API calls per Kustomization ${((rt.client.requestCount - calls0) / n).toFixed(1)}; kustomize ${JSON.stringify(kustomizeBatcher((await ensureTools()).kubectl).stats)}`,
      );
    }
    console.log(`  API server requests per Kustomization (all clients, controllers included): ${kubeRequestsPer(kube0, kube1, n, 12)}`);
    // A no-op re-reconcile of every Kustomization (what the drift schedule does): nothing
    // changed, so the apply engine's stamps settle it with one read per kind and namespace.
    const keys = Array.from({ length: n }, (_, i) => ({ kind: 'Kustomization', namespace: ns, name: `app-${i}` }));
    const noopPass = async (label: string) => {
      const before = new Map<string, string | undefined>();
      for (const k of keys) before.set(k.name, (await readRecord(rt.state, k))?.status.lastReconciledAt);
      const calls0 = rt.client.requestCount;
      const n0 = performance.now();
      for (const k of keys) await enqueue(rt, k, 'drift', { dedupKey: `bench-noop-${n0}` });
      const reconciled = async (i: number) => {
        const at = (await readRecord(rt.state, keys[i]!))?.status.lastReconciledAt;
        return Boolean(at) && at !== before.get(keys[i]!.name);
      };
      await wait(`${n} ${label} re-reconciles`, allHoldStep(n, reconciled), 15 * 60_000);
      const seconds = (performance.now() - n0) / 1000;
      const calls = (rt.client.requestCount - calls0) / n;
      console.log(`  ${label} re-reconcile of all ${n}: ${seconds.toFixed(1)} s, API calls per Kustomization ${calls.toFixed(2)} (4 objects each, of 4 kinds in one namespace)`);
      return { seconds, calls };
    };
    // The first pass meets what the controllers wrote after the apply (the ServiceAccount's
    // token, the Deployment's revision annotation): a dry-run each, then new stamps. The
    // second is the steady state of the drift schedule.
    const first = await noopPass('no-op');
    const steady = await noopPass('steady no-op');
    return { seconds: s, noopCalls: first.calls, noopSeconds: first.seconds, steadyCalls: steady.calls };
  } finally {
    await close();
  }
}

async function main(): Promise<void> {
  configureLogging({ level: (process.env.FLUXLESS_LOG_LEVEL as 'info' | undefined) ?? 'error' });
  const cluster = await benchCluster();
  try {
    const results: Record<number, SizeResult> = {};
    for (const n of SIZES) results[n] = await runSize(cluster.kubeconfigPath, n);
    console.log(`RESULT ${SIZES.map((n) => `n${n}_s=${results[n]!.seconds.toFixed(1)}`).join(' ')} ${SIZES.map((n) => `noop_calls_per_ks_${n}=${results[n]!.noopCalls.toFixed(2)} steady_noop_calls_per_ks_${n}=${results[n]!.steadyCalls.toFixed(2)}`).join(' ')}`);
  } finally {
    await cluster.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
