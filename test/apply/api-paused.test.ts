/**
 * Standing fault suite (issue 9): an API server paused mid-apply. A TCP proxy in front of
 * the harness's kube-apiserver stops forwarding just before the first ConfigMap write of a
 * staged apply: the engine must come back with a typed transient error while the proxy is
 * still paused (its request timeout, not a hang), having written only what came before in
 * the apply order, and a second apply after resuming must converge.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KubeConfig } from '@kubernetes/client-node';
import { ApplyEngine, KubeApiUnavailableError } from '../../shared/apply/engine.js';
import { createKubeClient, type KubeClient, type RequestOptions } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { EnvironmentError, FluxlessError } from '../../shared/util/errors.js';
import { testEnv } from '../harness/index.js';
import { configMap, deployment } from './helpers.js';
import { startPausableProxy } from './pausable-proxy.js';

/** The same credentials, another server address. */
function kubeConfigVia(kc: KubeConfig, server: string): KubeConfig {
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  return out;
}

type WithData = KubeObject & { data?: Record<string, string> };

test('an API server paused mid-apply: a transient error within the request timeout, the earlier kinds applied, then convergence', { timeout: 120_000 }, async (t) => {
  const env = await testEnv();
  const ns = await env.namespace(t, 'paused');
  const kc = (await env.cluster()).kubeConfig();
  const target = new URL(kc.getCurrentCluster()!.server);
  const proxy = await startPausableProxy({ host: target.hostname, port: Number(target.port) });
  t.after(() => proxy.close());
  const direct = createKubeClient(kc); // checks the cluster without the proxy
  const viaProxy = createKubeClient(kubeConfigVia(kc, `https://${proxy.host}:${proxy.port}`));
  t.after(() => {
    direct.close();
    viaProxy.close();
  });

  const events: string[] = [];
  let armed = true;
  const client: KubeClient = {
    server: viaProxy.server,
    get requestCount() {
      return viaProxy.requestCount;
    },
    close: () => viaProxy.close(),
    request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
      // The first real (not dry-run) ConfigMap write: the API server "stops" right now.
      if (armed && method === 'PATCH' && path.includes('/configmaps/') && !ro.query?.dryRun) {
        armed = false;
        proxy.pause();
        events.push('paused');
      }
      return viaProxy.request<T>(method, path, ro);
    },
  };
  const engine = new ApplyEngine(client, { requestTimeoutMs: 1500, waitIntervalMs: 100 });
  const sa = (name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });
  // Apply order: ServiceAccounts, then ConfigMaps, then Deployments.
  const objs = [deployment(ns, 'web'), configMap(ns, 'cm-a', { k: 'a' }), configMap(ns, 'cm-b', { k: 'b' }), sa('sa-1'), sa('sa-2'), configMap(ns, 'cm-c', { k: 'c' })];

  const err = await engine.applyAll(objs).then(
    () => assert.fail('the apply must fail while the API server is paused'),
    (e: unknown) => e,
  );
  events.push(proxy.paused ? 'failed while paused' : 'failed after resume');
  assert.deepEqual(events, ['paused', 'failed while paused']);
  assert.ok(err instanceof KubeApiUnavailableError, `${String(err)}`);
  assert.ok(err instanceof EnvironmentError, 'a typed environment error');
  assert.equal(err.transient, true);
  assert.ok(err.cause instanceof FluxlessError && err.cause.code === 'Timeout', `cause: ${String(err.cause)}`);
  assert.match(err.message, new RegExp(`^ConfigMap/${ns}/cm-[abc] apply interrupted, the Kubernetes API did not answer: PATCH .* timed out`));
  assert.match(err.message, /2 object\(s\) of this batch were applied before, objects after ConfigMap in the apply order were not written/);
  assert.ok(err.hint, 'says what to do');

  // While the API server is still "paused": the kinds before ConfigMap are applied, nothing
  // of the ConfigMaps or after them reached the server.
  const names = async (resource: string, group = '/api/v1') =>
    (await direct.request<{ items: KubeObject[] }>('GET', `${group}/namespaces/${ns}/${resource}`)).items.map((o) => o.metadata.name).sort();
  assert.deepEqual((await names('serviceaccounts')).filter((n) => n.startsWith('sa-')), ['sa-1', 'sa-2']);
  assert.deepEqual((await names('configmaps')).filter((n) => n.startsWith('cm-')), []);
  assert.deepEqual(await names('deployments', '/apis/apps/v1'), []);

  // Resumed (the held requests may land now, as a resumed server would process them): the
  // next apply converges with no error, and the one after it finds nothing to do.
  proxy.resume();
  const second = await engine.applyAll(objs);
  assert.deepEqual(
    second.map((e) => e.subject),
    [`ServiceAccount/${ns}/sa-1`, `ServiceAccount/${ns}/sa-2`, `ConfigMap/${ns}/cm-a`, `ConfigMap/${ns}/cm-b`, `ConfigMap/${ns}/cm-c`, `Deployment/${ns}/web`],
  );
  assert.deepEqual(second.slice(0, 2).map((e) => e.action), ['unchanged', 'unchanged']);
  assert.equal(second[5]!.action, 'created');
  for (const name of ['cm-a', 'cm-b', 'cm-c']) {
    const live = await direct.request<WithData>('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`);
    assert.deepEqual(live.data, { k: name.slice(3) });
  }
  assert.ok(await direct.request('GET', `/apis/apps/v1/namespaces/${ns}/deployments/web`));
  const third = await engine.applyAll(objs);
  assert.deepEqual(third.map((e) => e.action), ['unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged', 'unchanged']);
});

test('an API server paused while the batch is validated: a transient error, nothing written, not a validation failure', { timeout: 120_000 }, async (t) => {
  const env = await testEnv();
  const ns = await env.namespace(t, 'paused');
  const kc = (await env.cluster()).kubeConfig();
  const target = new URL(kc.getCurrentCluster()!.server);
  const proxy = await startPausableProxy({ host: target.hostname, port: Number(target.port) });
  t.after(() => proxy.close());
  const direct = createKubeClient(kc);
  const viaProxy = createKubeClient(kubeConfigVia(kc, `https://${proxy.host}:${proxy.port}`));
  t.after(() => {
    direct.close();
    viaProxy.close();
  });
  let armed = true;
  const client: KubeClient = {
    server: viaProxy.server,
    get requestCount() {
      return viaProxy.requestCount;
    },
    close: () => viaProxy.close(),
    request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
      // The first dry-run: validation has started, nothing is written yet.
      if (armed && method === 'PATCH' && ro.query?.dryRun === 'All') {
        armed = false;
        proxy.pause();
      }
      return viaProxy.request<T>(method, path, ro);
    },
  };
  const engine = new ApplyEngine(client, { requestTimeoutMs: 1500, concurrency: 1 });
  const objs = [configMap(ns, 'one', { k: '1' }), configMap(ns, 'two', { k: '2' })];
  const planned: string[] = [];
  const inner = client.request.bind(client);
  client.request = <T>(method: string, path: string, ro?: RequestOptions): Promise<T> => {
    if (ro?.query?.dryRun) planned.push(path.split('/').pop()!);
    return inner<T>(method, path, ro);
  };
  const err = await engine.applyAll(objs).then(
    () => assert.fail('must fail'),
    (e: unknown) => e,
  );
  assert.ok(proxy.paused, 'failed while still paused');
  assert.deepEqual(planned, ['one'], 'the first timeout stops the batch: no request for the next object');
  assert.ok(err instanceof KubeApiUnavailableError, String(err));
  assert.match(err.message, new RegExp(`^the Kubernetes API did not answer while planning ConfigMap/${ns}/one: .*timed out; nothing was applied$`));
  const cms = await direct.request<{ items: KubeObject[] }>('GET', `/api/v1/namespaces/${ns}/configmaps`);
  assert.deepEqual(cms.items.map((o) => o.metadata.name).filter((n) => n === 'one' || n === 'two'), []);
  proxy.resume();
  assert.deepEqual((await engine.applyAll(objs)).map((e) => e.action), ['created', 'created']);
});
