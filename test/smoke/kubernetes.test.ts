import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AppsV1Api, CoreV1Api, KubernetesObjectApi, PatchStrategy, type KubernetesObject, type V1ConfigMap } from '@kubernetes/client-node';
import { testEnv } from '../harness/index.js';

test('server-side apply of a ConfigMap with @kubernetes/client-node, read back', async (t) => {
  const env = await testEnv();
  const ns = await env.namespace(t, 'smoke');
  const kc = (await env.cluster()).kubeConfig();
  const objects = KubernetesObjectApi.makeApiClient(kc);
  const cm: KubernetesObject & { data: Record<string, string> } = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'smoke', namespace: ns },
    data: { greeting: 'hello' },
  };
  await objects.patch(cm, undefined, undefined, 'fluxless-smoke', true, PatchStrategy.ServerSideApply);
  const core = kc.makeApiClient(CoreV1Api);
  const back: V1ConfigMap = await core.readNamespacedConfigMap({ name: 'smoke', namespace: ns });
  assert.equal(back.data?.greeting, 'hello');
  const managers = (back.metadata?.managedFields ?? []).map((m) => `${m.manager}/${m.operation}`);
  assert.ok(managers.includes('fluxless-smoke/Apply'), `managers: ${managers.join(', ')}`);
});

test('a Deployment scaled to 0 reaches its observedGeneration (controller manager runs)', async (t) => {
  const env = await testEnv();
  const ns = await env.namespace(t, 'smoke');
  const kc = (await env.cluster()).kubeConfig();
  const apps = kc.makeApiClient(AppsV1Api);
  await apps.createNamespacedDeployment({
    namespace: ns,
    body: {
      metadata: { name: 'web' },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'web' } },
        template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] } },
      },
    },
  });
  const deadline = Date.now() + 30_000;
  let d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
  while ((d.status?.observedGeneration ?? 0) < (d.metadata?.generation ?? 1)) {
    assert.ok(Date.now() < deadline, 'the Deployment controller did not observe the Deployment within 30s');
    await new Promise((r) => setTimeout(r, 200));
    d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
  }
  assert.equal(d.status?.observedGeneration, d.metadata?.generation);
  const available = d.status?.conditions?.find((c) => c.type === 'Available');
  assert.equal(available?.status, 'True');
});
