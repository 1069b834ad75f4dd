import type { TestContext } from 'node:test';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { ApplyEngine, type ApplyOptions } from '../../shared/apply/engine.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { testEnv } from '../harness/index.js';

export async function engineFor(t: TestContext, opts: ApplyOptions = {}): Promise<{ engine: ApplyEngine; client: KubeClient; ns: string }> {
  const env = await testEnv();
  const ns = await env.namespace(t, 'apply');
  const client = createKubeClient((await env.cluster()).kubeConfig());
  t.after(() => client.close());
  return { engine: new ApplyEngine(client, { waitIntervalMs: 100, ...opts }), client, ns };
}

export function configMap(ns: string, name: string, data: Record<string, string>, meta: Partial<KubeObject['metadata']> = {}): KubeObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, ...meta }, data };
}

export function deployment(ns: string, name: string, opts: { image?: string; selector?: string; replicas?: number } = {}): KubeObject {
  const app = opts.selector ?? name;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, namespace: ns },
    spec: {
      replicas: opts.replicas ?? 0,
      selector: { matchLabels: { app } },
      template: {
        metadata: { labels: { app } },
        spec: { containers: [{ name: 'main', image: opts.image ?? 'nginx:1.27' }] },
      },
    },
  };
}
