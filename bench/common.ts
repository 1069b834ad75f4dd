/** Shared setup for benchmarks: a cluster (KUBECONFIG / FLUXLESS_TEST_KUBECONFIG, else a local control plane). */
import { EXTERNAL_KUBECONFIG_ENV, startControlPlane } from '../shared/devenv/controlplane.js';
import type { KubeConfig } from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
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
