/**
 * The test harness: real servers on 127.0.0.1, started once per test run by test/run.ts
 * (which passes their addresses in FLUXLESS_TEST_ENV), or lazily in-process when a single
 * test file is run on its own. Set FLUXLESS_TEST_KUBECONFIG to use your own cluster.
 */
import { readFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { after, type TestContext } from 'node:test';
import { KubeConfig, CoreV1Api } from '@kubernetes/client-node';
import { startFauxqs } from 'fauxqs';
import { EXTERNAL_KUBECONFIG_ENV, startControlPlane } from '../../shared/devenv/controlplane.js';
import { ensureTools } from '../../shared/render/tools.js';
import { startGitServer, type GitServerInfo } from './git-server.js';
import { startRegistry, type RegistryInfo } from './registry.js';

export interface AwsInfo {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}
export interface ClusterInfo {
  kubeconfigPath: string;
  /** True when the cluster is the user's (FLUXLESS_TEST_KUBECONFIG), not one we started. */
  external: boolean;
}
export interface ToolsInfo {
  kubectl: string;
  helm: string;
}

/** What test/run.ts writes for the test processes. */
export interface SharedEnvFile {
  cluster?: ClusterInfo;
  aws?: AwsInfo;
  git?: GitServerInfo;
  registry?: RegistryInfo;
  tools?: ToolsInfo;
}

export interface TestEnv {
  cluster(): Promise<ClusterInfo & { kubeConfig(): KubeConfig }>;
  /** A fresh namespace for this test, deleted (without waiting) when the test ends. */
  namespace(t: TestContext, prefix?: string): Promise<string>;
  aws(): Promise<AwsInfo>;
  git(): Promise<GitServerInfo>;
  registry(): Promise<RegistryInfo>;
  tools(): Promise<ToolsInfo>;
}

type Stopper = () => Promise<void>;
const stoppers: Stopper[] = [];

/** Starts one component for this process (used by test/run.ts and by standalone test files). */
export const starters = {
  async cluster(): Promise<ClusterInfo> {
    const ext = process.env[EXTERNAL_KUBECONFIG_ENV];
    if (ext) return { kubeconfigPath: ext, external: true };
    const cp = await startControlPlane();
    stoppers.push(() => cp.stop());
    return { kubeconfigPath: cp.kubeconfigPath, external: false };
  },
  async aws(): Promise<AwsInfo> {
    const srv = await startFauxqs({ port: 0, host: '127.0.0.1', logger: false } as Parameters<typeof startFauxqs>[0]);
    stoppers.push(() => srv.stop());
    return {
      endpoint: `http://127.0.0.1:${srv.port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    };
  },
  async git(): Promise<GitServerInfo> {
    const g = await startGitServer();
    stoppers.push(() => g.stop());
    return { url: g.url, root: g.root };
  },
  async registry(): Promise<RegistryInfo> {
    const r = await startRegistry();
    stoppers.push(() => r.stop());
    return { host: r.host };
  },
  async tools(): Promise<ToolsInfo> {
    return ensureTools();
  },
};

export async function stopStarted(): Promise<void> {
  while (stoppers.length) await stoppers.pop()!().catch(() => undefined);
}

// A test file run on its own (node --test, no runner): stop what it started when its tests end,
// or listening servers would keep the process alive.
if (process.env.NODE_TEST_CONTEXT && !process.env.FLUXLESS_TEST_ENV) after(() => stopStarted());

let shared: SharedEnvFile | undefined;
function sharedEnv(): SharedEnvFile {
  if (!shared) {
    const file = process.env.FLUXLESS_TEST_ENV;
    shared = file ? (JSON.parse(readFileSync(file, 'utf8')) as SharedEnvFile) : {};
  }
  return shared;
}

const memo = new Map<string, Promise<unknown>>();
function once<T>(key: keyof SharedEnvFile, start: () => Promise<T>): Promise<T> {
  const fromRunner = sharedEnv()[key] as T | undefined;
  if (fromRunner) return Promise.resolve(fromRunner);
  let p = memo.get(key) as Promise<T> | undefined;
  if (!p) {
    p = start();
    memo.set(key, p);
    // Standalone (no runner): servers we started are stopped by their watchdogs when this
    // process exits (see shared/devenv/process.ts); in-process servers die with it.
  }
  return p;
}

export function kubeConfigFrom(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return kc;
}

let env: TestEnv | undefined;
export async function testEnv(): Promise<TestEnv> {
  if (env) return env;
  env = {
    async cluster() {
      const info = await once('cluster', starters.cluster);
      return { ...info, kubeConfig: () => kubeConfigFrom(info.kubeconfigPath) };
    },
    async namespace(t, prefix = 'test') {
      const c = await this.cluster();
      const core = c.kubeConfig().makeApiClient(CoreV1Api);
      const name = `${prefix}-${randomBytes(4).toString('hex')}`.toLowerCase().slice(0, 63);
      await core.createNamespace({ body: { metadata: { name, labels: { 'fluxless.dev/test': 'true' } } } });
      t.after(async () => {
        await core.deleteNamespace({ name }).catch(() => undefined);
      });
      return name;
    },
    aws: () => once('aws', starters.aws),
    git: () => once('git', starters.git),
    registry: () => once('registry', starters.registry),
    tools: () => once('tools', starters.tools),
  };
  return env;
}
