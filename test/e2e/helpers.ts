import type { TestContext } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { loadConfig, type FluxlessConfig } from '../../shared/config/config.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import { startLocalRuntime, type LocalRuntime } from '../../shared/runtime/local.js';
import { createTestRepo, type TestRepo } from '../harness/git-server.js';
import { testEnv, kubeConfigFrom } from '../harness/index.js';
import { sendGithubPush } from '../harness/github.js';

export interface E2E {
  ns: string;
  repo: TestRepo;
  client: KubeClient;
  dataDir: string;
  cfg: FluxlessConfig;
  token: string;
  start(): Promise<LocalRuntime>;
  record(kind: string, name: string): Promise<ObjectRecord | undefined>;
  waitFor(what: string, check: () => Promise<boolean>, timeoutMs?: number): Promise<void>;
  get(kind: 'ConfigMap' | 'Secret', name: string): Promise<KubeObject | undefined>;
  /** Sends a GitHub push webhook for the repo's head, signed with the Receiver token. */
  push(rt: LocalRuntime, opts?: { delivery?: string }): Promise<Response>;
}

export async function e2e(t: TestContext, extraEnv: Record<string, string> = {}): Promise<E2E> {
  const env = await testEnv();
  const ns = await env.namespace(t, 'e2e');
  const cluster = await env.cluster();
  const client = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  const repo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-e2e-'));
  const token = randomBytes(16).toString('hex');
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
  const cfg = loadConfig({
    env: {
      FLUXLESS_SOURCE_URL: repo.url,
      FLUXLESS_SOURCE_BRANCH: 'main',
      FLUXLESS_PATH: './clusters/dev',
      FLUXLESS_NAMESPACE: ns,
      FLUXLESS_KUBECONFIG: cluster.kubeconfigPath,
      FLUXLESS_PORT: '0',
      FLUXLESS_SCHEDULE_INTERVAL: '500ms',
      FLUXLESS_CONCURRENCY: '4',
      ...extraEnv,
    },
    dataDir,
  });
  const started: LocalRuntime[] = [];
  t.after(async () => {
    for (const r of started) await r.stop().catch(() => undefined);
    client.close();
    await repo.cleanup().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });
  const self: E2E = {
    ns,
    repo,
    client,
    dataDir,
    cfg,
    token,
    async start() {
      const rt = createRuntime(cfg, { kubeConfig: kubeConfigFrom(cluster.kubeconfigPath) });
      rt.settings.healthIntervalMs = 200;
      const local = await startLocalRuntime(rt, cfg);
      started.push(local);
      return local;
    },
    async record(kind, name) {
      const rt = createRuntime(cfg, { kubeConfig: kubeConfigFrom(cluster.kubeconfigPath) });
      try {
        return await readRecord(rt.state, { kind, namespace: ns, name });
      } finally {
        rt.client.close();
      }
    },
    async waitFor(what, check, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        if (await check().catch(() => false)) return;
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    get: (kind, name) =>
      client.request<KubeObject>('GET', `/api/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}`).catch(() => undefined),
    async push(rt, opts = {}) {
      return sendGithubPush({
        url: rt.url,
        namespace: ns,
        token,
        head: await repo.head(),
        repository: { full_name: 'fleet/fleet', clone_url: repo.url },
        delivery: opts.delivery,
      });
    },
  };
  return self;
}

export function fleet(ns: string, apps: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  return {
    'clusters/dev/receiver.yaml': [
      'apiVersion: notification.toolkit.fluxcd.io/v1',
      'kind: Receiver',
      'metadata:',
      '  name: github',
      `  namespace: ${ns}`,
      'spec:',
      '  type: github',
      '  events: ["push", "ping"]',
      '  secretRef:',
      '    name: webhook-token',
      '  resources:',
      '    - kind: GitRepository',
      '      name: flux-system',
      '',
    ].join('\n'),
    'clusters/dev/apps.yaml': [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      '  name: apps',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 2s',
      '  prune: true',
      '  path: ./apps',
      `  targetNamespace: ${ns}`,
      '  sourceRef:',
      '    kind: GitRepository',
      '    name: flux-system',
      '',
    ].join('\n'),
    ...Object.fromEntries(Object.entries(apps).map(([k, v]) => [`apps/${k}`, v])),
    ...extra,
  };
}

export function configMap(name: string, data: Record<string, string>): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\ndata:\n${Object.entries(data).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`).join('\n')}\n`;
}

/** A branch off `from` with `change` committed and pushed (checkout back on main); returns its head. */
export async function pushBranch(repo: TestRepo, name: string, change: Record<string, string | null>, from = 'main'): Promise<string> {
  await repo.checkout(from);
  await repo.branch(name);
  await repo.checkout(name);
  const sha = await repo.commit(change, name);
  await repo.push();
  await repo.checkout('main');
  return sha;
}
