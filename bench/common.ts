/** Shared setup for benchmarks: a cluster (KUBECONFIG / FLUXLESS_TEST_KUBECONFIG, else a local control plane). */
import { EXTERNAL_KUBECONFIG_ENV, startControlPlane } from '../shared/devenv/controlplane.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../shared/config/config.js';
import { startGitServer } from '../shared/devenv/git-server.js';
import { createKubeClient, type KubeClient } from '../shared/kube/client.js';
import { loadKubeConfig } from '../shared/kube/kubeconfig.js';
import { createRuntime } from '../shared/runtime/factory.js';
import { startLocalRuntime, type LocalRuntime } from '../shared/runtime/local.js';
import type { Runtime } from '../shared/runtime/runtime.js';
import { createTestRepo, type TestRepo } from '../test/harness/git-server.js';

export async function benchCluster(): Promise<{ kubeconfigPath: string; stop(): Promise<void> }> {
  const ext = process.env[EXTERNAL_KUBECONFIG_ENV];
  if (ext) return { kubeconfigPath: ext, stop: async () => undefined };
  const cp = await startControlPlane();
  return { kubeconfigPath: cp.kubeconfigPath, stop: () => cp.stop() };
}

export function seconds(ms: number): string {
  return (ms / 1000).toFixed(2) + 's';
}

export async function timed<T>(f: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await f();
  return { ms: performance.now() - t, value };
}

/**
 * One step of a wait for "all N hold" (`holds(i)` for i in 0..n-1): it checks from the first
 * index not yet seen holding, and once all were seen, confirms all N in one pass (going back
 * to the first that no longer holds). A full pass on every step would read up to N records
 * each time, CPU the bench takes from what it measures.
 */
export function allHoldStep(n: number, holds: (i: number) => Promise<boolean>): () => Promise<boolean> {
  let next = 0;
  return async () => {
    while (next < n && (await holds(next))) next++;
    if (next < n) return false;
    for (let i = 0; i < n; i++) {
      if (!(await holds(i))) {
        next = i;
        return false;
      }
    }
    return true;
  };
}

/**
 * Deletes a namespace and waits (up to 3 minutes) until the cluster has finished deleting it,
 * so the next measurement does not run against that work.
 */
export async function deleteNamespace(client: KubeClient, ns: string): Promise<void> {
  await client.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  for (const end = Date.now() + 180_000; Date.now() < end; ) {
    const gone = await client.request('GET', `/api/v1/namespaces/${ns}`).then(
      () => false,
      () => true,
    );
    if (gone) return;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A local runtime reconciling a fresh Git fleet repository into its own namespace. */
export interface BenchFleet {
  kc: KubeConfig;
  client: KubeClient;
  /** The fleet's namespace (the Flux objects and their apps). */
  ns: string;
  /** The webhook token of the fleet's GitHub Receiver. */
  token: string;
  repo: TestRepo;
  rt: Runtime;
  local: LocalRuntime;
  /** Stops the runtime and the Git server, deletes the namespace (waiting for it) and the temporary directories. */
  close(): Promise<void>;
}

/**
 * Starts what bench:fleet and bench:helm share: a namespace `<prefix>-<n>-<id>` with a webhook
 * token, a Git server with a fleet repository holding a GitHub Receiver at clusters/bench,
 * and a local runtime bootstrapped from it. `beforeStart` runs on the runtime before it starts.
 */
export async function startBenchFleet(kubeconfigPath: string, prefix: string, concurrency: string, beforeStart?: (rt: Runtime, kc: KubeConfig) => void): Promise<BenchFleet> {
  const kc = loadKubeConfig(kubeconfigPath);
  const client = createKubeClient(kc);
  const ns = `${prefix}-${Date.now().toString(36)}`;
  await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
  const token = randomBytes(16).toString('hex');
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
  const gitRoot = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-git-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-data-'));
  const git = await startGitServer({ root: gitRoot });
  const repo = await createTestRepo(git, { name: 'fleet' });
  const receiver = `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: github\n  namespace: ${ns}\nspec:\n  type: github\n  secretRef: {name: webhook-token}\n  resources: [{kind: GitRepository, name: flux-system}]\n`;
  await repo.commit({ 'clusters/bench/receiver.yaml': receiver }, 'receiver');
  await repo.push();
  const cfg = loadConfig({
    env: { FLUXLESS_SOURCE_URL: repo.url, FLUXLESS_SOURCE_BRANCH: 'main', FLUXLESS_PATH: './clusters/bench', FLUXLESS_NAMESPACE: ns, FLUXLESS_KUBECONFIG: kubeconfigPath, FLUXLESS_PORT: '0', FLUXLESS_CONCURRENCY: concurrency },
    dataDir,
  });
  const rt = createRuntime(cfg, { kubeConfig: kc });
  beforeStart?.(rt, kc);
  const local = await startLocalRuntime(rt, cfg);
  return {
    kc,
    client,
    ns,
    token,
    repo,
    rt,
    local,
    close: async () => {
      await local.stop();
      await git.stop();
      await deleteNamespace(client, ns);
      client.close();
      await rm(dataDir, { recursive: true, force: true });
      await rm(gitRoot, { recursive: true, force: true });
    },
  };
}

/** The control-plane processes whose CPU the benchmarks report. */
const COMPONENTS = ['kube-apiserver', 'etcd', 'kube-controller-manager'];

/** Fields of /proc/<pid>/stat after the command name (field 3 onwards), with the command name. */
function procStat(pid: string): { comm: string; f: string[] } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return { comm: st.slice(st.indexOf('(') + 1, st.lastIndexOf(')')), f: st.slice(st.lastIndexOf(')') + 2).split(' ') };
  } catch {
    return undefined;
  }
}

/**
 * CPU seconds (user + system) used so far by each process of the given names, by name, and
 * under `children` what the child processes of this process used (the helm and kustomize
 * processes the runtime started), on Linux: the running direct children, themselves and
 * their finished descendants, plus the children this process has already reaped (its own
 * cutime and cstime), so a short-lived child that exits between two readings still counts.
 */
export function processCpu(names: string[] = COMPONENTS): Record<string, number> {
  const out: Record<string, number> = { children: 0 };
  let pids: string[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  const self = String(process.pid);
  for (const pid of pids) {
    const st = procStat(pid);
    if (!st) continue;
    const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(st.f[i]) / 100);
    if (pid === self) out.children += cutime + cstime;
    else if (st.f[1] === self) out.children += utime + stime + cutime + cstime;
    const name = names.find((n) => st.comm.startsWith(n.slice(0, 15)));
    if (name) out[name] = (out[name] ?? 0) + utime + stime;
  }
  return out;
}

/** Busy and total CPU seconds of the machine since boot (Linux /proc/stat), if readable. */
export function systemCpu(): { busy: number; total: number } | undefined {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return undefined;
  }
}

/** "kube-apiserver 1.2 s, etcd 0.3 s, ..., child processes 4.5 s" between two processCpu readings. */
export function cpuDelta(before: Record<string, number>, after: Record<string, number>, names: string[] = COMPONENTS): string {
  return [...names.map((c) => `${c} ${((after[c] ?? 0) - (before[c] ?? 0)).toFixed(1)} s`), `child processes ${((after.children ?? 0) - (before.children ?? 0)).toFixed(1)} s`].join(', ');
}

/** apiserver_request_total (every client; the bench's own cluster): the sum, and by verb and resource. */
export async function kubeRequests(client: KubeClient): Promise<{ total: number; byVerb: Record<string, number> }> {
  const text = await client.request<string>('GET', '/metrics').catch(() => '');
  const byVerb: Record<string, number> = {};
  let total = 0;
  if (typeof text !== 'string') return { total, byVerb };
  for (const line of text.split('\n')) {
    if (!line.startsWith('apiserver_request_total{')) continue;
    const n = Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
    total += n;
    const label = (name: string) => new RegExp(`[{,]${name}="([^"]*)"`).exec(line)?.[1] ?? '';
    const sub = label('subresource');
    const k = `${label('verb')} ${label('resource') || label('component')}${sub ? `/${sub}` : ''}${label('dry_run') ? ' (dry-run)' : ''}`;
    byVerb[k] = (byVerb[k] ?? 0) + n;
  }
  return { total, byVerb };
}

/** Requests per item between two kubeRequests readings, largest first: `GET secrets 3.0, ...`. */
export function kubeRequestsPer(before: { byVerb: Record<string, number> }, after: { byVerb: Record<string, number> }, per: number, top = 8): string {
  const rows = Object.entries(after.byVerb)
    .map(([k, v]) => [k, (v - (before.byVerb[k] ?? 0)) / per] as const)
    .filter(([, v]) => v >= 0.05)
    .sort((a, b) => b[1] - a[1]);
  return rows.slice(0, top).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ');
}
