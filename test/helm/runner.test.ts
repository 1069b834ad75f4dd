import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { testEnv, type TestEnv } from '../harness/index.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import { HelmRunner } from '../../shared/helm/runner.js';
import { HelmCommandError } from '../../shared/helm/errors.js';
import { listReleaseHeaders, readLatestRelease, readRelease, readReleaseHistory } from '../../shared/helm/storage.js';
import { snapshotOf, testHooksOf } from '../../shared/helm/observation.js';
import { valuesDigest } from '../../shared/helm/values.js';
import { atEnd, packageChart, tempDir, writeAppChart } from './helpers.js';

let env: TestEnv;
let runner: HelmRunner;
let client: KubeClient;
let chart: string;
let kubeconfigPath: string;

before(async () => {
  env = await testEnv();
  const cluster = await env.cluster();
  kubeconfigPath = cluster.kubeconfigPath;
  runner = await HelmRunner.create({ kubeconfigPath });
  atEnd(() => runner.close());
  client = createKubeClient(cluster.kubeConfig());
  atEnd(async () => client.close());
  const dir = await tempDir();
  chart = await packageChart(await writeAppChart(dir, { testHook: true }), path.join(dir, 'out'));
});

async function getObject<T = Record<string, unknown>>(p: string): Promise<T> {
  return client.request<T>('GET', p);
}

const postRender = {
  postRenderers: [
    {
      kustomize: {
        patches: [{ patch: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  annotations:\n    fluxless.dev/patched: "yes"\n', target: { kind: 'Deployment' } }],
        images: [{ name: 'nginx', newTag: '1.27' }],
      },
    },
  ],
  commonMetadata: { labels: { team: 'platform' } },
  origin: { name: 'web', namespace: 'flux-system' },
};

describe('helm runner against the API server', () => {
  test('install, upgrade, test, rollback, uninstall; storage decoded as helm prints it', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const installed = await runner.install({ releaseName: 'web', namespace: ns, chartPath: chart, values: { replicaCount: 0, service: { port: 8080 } }, wait: 'watcher', timeoutMs: 120_000, postRender });
    assert.equal(installed?.version, 1);
    assert.equal(installed?.info?.status, 'deployed');

    // The post-renderer shaped what Helm applied.
    const dep = await getObject<{ metadata: { annotations: Record<string, string>; labels: Record<string, string> }; spec: { replicas: number; template: { spec: { containers: { image: string }[] } } } }>(`/apis/apps/v1/namespaces/${ns}/deployments/web`);
    assert.equal(dep.metadata.annotations['fluxless.dev/patched'], 'yes');
    assert.equal(dep.metadata.labels.team, 'platform');
    assert.equal(dep.metadata.labels['helm.toolkit.fluxcd.io/name'], 'web');
    assert.equal(dep.metadata.labels['helm.toolkit.fluxcd.io/namespace'], 'flux-system');
    assert.equal(dep.spec.template.spec.containers[0].image, 'nginx:1.27');
    assert.equal(dep.spec.replicas, 0);
    const svc = await getObject<{ spec: { ports: { port: number }[] }; metadata: { labels: Record<string, string> } }>(`/api/v1/namespaces/${ns}/services/web`);
    assert.equal(svc.spec.ports[0].port, 8080);
    assert.equal(svc.metadata.labels['helm.toolkit.fluxcd.io/name'], 'web');

    await runner.upgrade({ releaseName: 'web', namespace: ns, chartPath: chart, values: { replicaCount: 0, service: { port: 9090 } }, wait: 'watcher', timeoutMs: 120_000, maxHistory: 5, postRender });
    const svc2 = await getObject<{ spec: { ports: { port: number }[] } }>(`/api/v1/namespaces/${ns}/services/web`);
    assert.equal(svc2.spec.ports[0].port, 9090);

    // Storage decoding agrees with `helm history` and `helm get values`.
    const history = await readReleaseHistory(client, ns, 'web');
    const printed = await runner.history('web', ns);
    assert.deepEqual(history.map((r) => [r.version, r.status]), printed.map((h) => [h.revision, h.status]));
    assert.deepEqual(history.map((r) => r.status), ['superseded', 'deployed']);
    for (const r of history) {
      assert.deepEqual(r.config, await runner.getValues('web', ns, { revision: r.version }));
      assert.equal(`${r.chart.name}-${r.chart.version}`, printed.find((h) => h.revision === r.version)?.chart);
    }
    const latest = history[1];
    assert.equal(latest.name, 'web');
    assert.equal(latest.namespace, ns);
    assert.match(latest.manifest, /fluxless\.dev\/patched: "yes"/);
    assert.equal(latest.applyMethod, 'ssa');
    assert.deepEqual(latest.hooks.map((h) => [h.name, h.events]), [['web-test', ['test']]]);
    const snap = snapshotOf(latest, { action: 'upgrade' });
    assert.equal(snap.configDigest, valuesDigest({ replicaCount: 0, service: { port: 9090 } }));
    assert.equal(snap.chartName, 'app');
    assert.equal(snap.version, 2);
    assert.match(snap.digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(snap.lastDeployed ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    // helm test: the result lands in the latest revision's hooks; the observation digest ignores it.
    await runner.test({ releaseName: 'web', namespace: ns, timeoutMs: 60_000 });
    const tested = (await readLatestRelease(client, ns, 'web'))!;
    assert.equal(tested.version, 2);
    const hooks = testHooksOf(tested);
    assert.equal(hooks['web-test']?.phase, 'Succeeded');
    assert.equal(snapshotOf(tested).digest, snap.digest);

    await runner.rollback({ releaseName: 'web', namespace: ns, revision: 1, wait: 'watcher', timeoutMs: 120_000 });
    const rolled = (await readLatestRelease(client, ns, 'web'))!;
    assert.equal(rolled.version, 3);
    assert.equal(rolled.status, 'deployed');
    assert.deepEqual(rolled.config, history[0].config);
    assert.equal((await getObject<{ spec: { ports: { port: number }[] } }>(`/api/v1/namespaces/${ns}/services/web`)).spec.ports[0].port, 8080);

    // A server-side dry-run renders what an upgrade would apply (for diffs) and stores nothing.
    const dry = await runner.upgrade({ releaseName: 'web', namespace: ns, chartPath: chart, values: { service: { port: 7070 } }, dryRun: true, postRender });
    assert.match(dry?.manifest ?? '', /port: 7070/);
    assert.match(dry?.manifest ?? '', /helm\.toolkit\.fluxcd\.io\/name: web/);
    assert.equal((await readLatestRelease(client, ns, 'web'))?.version, 3);

    await runner.uninstall({ releaseName: 'web', namespace: ns, keepHistory: true, wait: true, timeoutMs: 60_000 });
    assert.equal((await readLatestRelease(client, ns, 'web'))?.status, 'uninstalled');
    await assert.rejects(getObject(`/apis/apps/v1/namespaces/${ns}/deployments/web`), /not found/);
    await runner.uninstall({ releaseName: 'web', namespace: ns, timeoutMs: 60_000 });
    assert.deepEqual(await listReleaseHeaders(client, ns, 'web'), []);
    assert.equal(await readRelease(client, ns, 'web', 1), undefined);
  });

  test('a failing test hook is HookFailed and recorded as Failed in storage', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const dir = await tempDir();
    const podTest = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-probe\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: probe\n      image: busybox\n';
    const c = await packageChart(await writeAppChart(dir, { name: 'probe', templates: { 'probe.yaml': podTest } }), path.join(dir, 'out'));
    await runner.install({ releaseName: 'p', namespace: ns, chartPath: c, values: {} });
    const testing = runner.test({ releaseName: 'p', namespace: ns, timeoutMs: 300_000 });
    // No kubelet runs the Pod: fail it through the status subresource once helm created it.
    for (let i = 0; i < 600; i++) {
      const pod = await client.request('GET', `/api/v1/namespaces/${ns}/pods/p-probe`).catch(() => undefined);
      if (pod) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    await client.request('PATCH', `/api/v1/namespaces/${ns}/pods/p-probe/status`, { body: { status: { phase: 'Failed' } }, contentType: 'application/merge-patch+json' });
    await assert.rejects(testing, (e: unknown) => {
      assert.ok(e instanceof HelmCommandError);
      assert.equal(e.kind, 'HookFailed', e.message);
      return true;
    });
    const rel = (await readLatestRelease(client, ns, 'p'))!;
    assert.equal(testHooksOf(rel)['p-probe']?.phase, 'Failed');
  });

  test('post-render strategy nohooks leaves hooks alone; combined renders them', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const hookPatch = { postRenderers: [{ kustomize: { patches: [{ patch: '- op: add\n  path: /metadata/annotations/seen\n  value: "1"\n', target: { kind: 'ConfigMap' } }], images: [] } }] };
    await runner.install({ releaseName: 'a', namespace: ns, chartPath: chart, values: {}, postRender: { ...hookPatch, strategy: 'nohooks' } });
    const a = (await readLatestRelease(client, ns, 'a'))!;
    assert.doesNotMatch(a.hooks[0].manifest, /seen/);
    await runner.install({ releaseName: 'b', namespace: ns, chartPath: chart, values: {}, postRender: { ...hookPatch, strategy: 'combined' } });
    const b = (await readLatestRelease(client, ns, 'b'))!;
    assert.match(b.hooks[0].manifest, /seen: "1"/);
  });

  test('failures are typed, cleaned of host paths, and store nothing when the chart does not render', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const dir = await tempDir();
    const bad = await packageChart(await writeAppChart(dir, { name: 'bad', templates: { 'broken.yaml': '{{ required "set .Values.must" .Values.must }}\n' } }), path.join(dir, 'out'));
    await assert.rejects(runner.install({ releaseName: 'bad', namespace: ns, chartPath: bad, values: {} }), (e: unknown) => {
      assert.ok(e instanceof HelmCommandError, String(e));
      assert.equal(e.kind, 'ChartRender');
      assert.match(e.message, /set \.Values\.must/);
      assert.ok(!e.message.includes(dir) && !e.message.includes(runner.home), e.message);
      return true;
    });
    assert.deepEqual(await listReleaseHeaders(client, ns, 'bad'), []);

    await assert.rejects(runner.upgrade({ releaseName: 'missing', namespace: ns, chartPath: chart, values: {} }), (e: unknown) => e instanceof HelmCommandError && e.kind === 'ReleaseNotFound');

    const secret = 'hunter2-value';
    await assert.rejects(
      runner.install({ releaseName: 'bad2', namespace: ns, chartPath: bad, values: { must: `{{ fail "${secret}" }}` }, redact: [secret], postRender: { postRenderers: [{ kustomize: { patches: [{ patch: `metadata: [${secret}` }], images: [] } }] } }),
      (e: unknown) => e instanceof HelmCommandError && !e.message.includes(secret),
    );
  });

  test('impersonation with --kube-as-user is enforced by the API server', async (t) => {
    const ns = await env.namespace(t, 'helm');
    await assert.rejects(runner.install({ releaseName: 'imp', namespace: ns, chartPath: chart, values: {}, asUser: 'system:serviceaccount:nobody:nobody' }), (e: unknown) => {
      assert.ok(e instanceof HelmCommandError);
      assert.equal(e.kind, 'Forbidden', e.message);
      assert.match(e.message, /system:serviceaccount:nobody:nobody/);
      return true;
    });
  });

  test('an in-memory KubeConfig is written 0600 and removed on close', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const r = await HelmRunner.create({ kubeConfig: (await env.cluster()).kubeConfig() });
    atEnd(() => r.close()); // also when an assertion below fails; close() is idempotent
    const file = path.join(r.home, 'kubeconfig');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await r.install({ releaseName: 'mem', namespace: ns, chartPath: chart, values: {} });
    assert.equal((await readLatestRelease(client, ns, 'mem'))?.status, 'deployed');
    await r.close();
    await assert.rejects(stat(file), /ENOENT/);
    await assert.rejects(r.history('mem', ns), /closed/);
  });

  test('an aborted install is stopped; helm marks the release failed on SIGTERM', async (t) => {
    const ns = await env.namespace(t, 'helm');
    const ac = new AbortController();
    // replicas 1 never become ready without a kubelet, so helm keeps waiting until aborted.
    const p = runner.install({ releaseName: 'slow', namespace: ns, chartPath: chart, values: { replicaCount: 1 }, wait: 'watcher', timeoutMs: 600_000, signal: ac.signal });
    let seen;
    for (let i = 0; i < 600 && !seen; i++) {
      seen = (await listReleaseHeaders(client, ns, 'slow')).find((h) => h.status === 'pending-install');
      if (!seen) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen, 'the release reached pending-install');
    ac.abort();
    await assert.rejects(p, (e: unknown) => {
      assert.ok(e instanceof HelmCommandError);
      assert.equal(e.kind, 'Aborted');
      assert.match(e.message, /^helm install cancelled/);
      return true;
    });
    const after = await readLatestRelease(client, ns, 'slow');
    assert.equal(after?.status, 'failed');
    assert.match(after?.description ?? '', /context canceled/);
  });
});

describe('template (offline render for diffs)', () => {
  test('renders with values and post-renderers, no cluster needed', async () => {
    const r = await HelmRunner.create();
    atEnd(() => r.close());
    const out = await r.template({ releaseName: 'web', namespace: 'apps', chartPath: chart, values: { image: { tag: '9' } }, postRender });
    assert.match(out, /image: nginx:1\.27/);
    assert.match(out, /fluxless\.dev\/patched: "yes"/);
  });
});
