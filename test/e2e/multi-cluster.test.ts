/**
 * One `fluxless serve` reconciling into two clusters: the harness control plane (management:
 * the store's objects and the fleet's Secrets live there) and a second control plane the
 * test starts on other ports. A Kustomization naming the second in `spec.kubeConfig`
 * applies, drift-corrects and prunes there only; stopping the second fails only that
 * Kustomization (naming the cluster) while the management one keeps reconciling; a new
 * control plane with a rotated kubeconfig Secret recovers it. `fluxless get` shows and
 * filters by cluster.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { getCmd } from '../../shared/cli/commands.js';
import { startControlPlane, type ControlPlane } from '../../shared/devenv/controlplane.js';
import { createKubeClient, KubeApiError, type KubeClient } from '../../shared/kube/client.js';
import { getCondition } from '../../shared/state/records.js';
import { kubeConfigFrom } from '../harness/index.js';
import { configMap, e2e, fleet } from './helpers.js';

const REMOTE_NS = 'edge-apps';

/** The control plane's admin kubeconfig with its cluster named `name`. */
function renamed(cp: ControlPlane, name: string): string {
  const doc = parseYaml(cp.kubeconfig) as { clusters: Array<{ name: string }>; contexts: Array<{ context: { cluster: string } }> };
  doc.clusters[0].name = name;
  doc.contexts[0].context.cluster = name;
  return toYaml(doc);
}

async function putKubeconfigSecret(c: KubeClient, ns: string, kubeconfig: string): Promise<void> {
  const body = { metadata: { name: 'edge-kubeconfig' }, data: { value: Buffer.from(kubeconfig).toString('base64') } };
  try {
    await c.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body });
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
    await c.request('PUT', `/api/v1/namespaces/${ns}/secrets/edge-kubeconfig`, { body });
  }
}

const edgeKs = (ns: string) =>
  [
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    '  name: edge',
    `  namespace: ${ns}`,
    'spec:',
    '  interval: 2s',
    '  prune: true',
    '  path: ./edge',
    '  sourceRef:',
    '    kind: GitRepository',
    '    name: flux-system',
    '  kubeConfig:',
    '    secretRef:',
    '      name: edge-kubeconfig',
    '',
  ].join('\n');

const remoteCm = (name: string, v: string) => configMap(name, { v }).replace('metadata:\n', `metadata:\n  namespace: ${REMOTE_NS}\n`);

test('one serve, two clusters: apply, drift and prune on the remote only; an outage fails only its Kustomization; recovery', async (t) => {
  const x = await e2e(t);
  let second = await startControlPlane({ controllerManager: false });
  let remote = createKubeClient(kubeConfigFrom(second.kubeconfigPath));
  t.after(async () => {
    remote.close();
    await second.stop();
  });
  await putKubeconfigSecret(x.client, x.ns, renamed(second, 'edge-1'));
  await x.repo.commit(
    fleet(x.ns, { 'local.yaml': configMap('local', { v: '1' }) }, {
      'clusters/dev/edge.yaml': edgeKs(x.ns),
      'edge/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${REMOTE_NS}\n`,
      'edge/e1.yaml': remoteCm('e1', '1'),
      'edge/e2.yaml': remoteCm('e2', '1'),
    }),
    'two clusters',
  );
  await x.repo.push();
  const rt = await x.start();
  const rev1 = `main@sha1:${await x.repo.head()}`;
  const readyAt = async (name: string, rev: string) => {
    const r = await x.record('Kustomization', name);
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev;
  };
  await x.waitFor('apps and edge Ready', async () => (await readyAt('apps', rev1)) && (await readyAt('edge', rev1)), 90_000);
  const onRemote = (name: string) => remote.request<{ data: { v: string } }>('GET', `/api/v1/namespaces/${REMOTE_NS}/configmaps/${name}`).catch(() => undefined);
  assert.equal((await onRemote('e1'))?.data.v, '1');
  assert.equal((await onRemote('e2'))?.data.v, '1');
  await assert.rejects(x.client.request('GET', `/api/v1/namespaces/${REMOTE_NS}/configmaps/e1`), (e: unknown) => e instanceof KubeApiError && e.status === 404, 'nothing of edge on the management cluster');
  assert.ok(await x.get('ConfigMap', 'local'), 'apps applies to the management cluster');
  await assert.rejects(remote.request('GET', `/api/v1/namespaces/${x.ns}/configmaps/local`), (e: unknown) => e instanceof KubeApiError && e.status === 404);
  const edge = await x.record('Kustomization', 'edge');
  assert.deepEqual(edge?.status.targetCluster, { name: 'edge-1', server: second.server });

  // fluxless get: a CLUSTER column, and --cluster filters.
  const table = await getCmd(rt.rt, 'all', { namespace: x.ns, output: 'table' });
  assert.match(table.split('\n')[0], /^NAMESPACE\s+NAME\s+CLUSTER\s+REVISION/);
  assert.match(table, /kustomization\/edge\s+edge-1\s/);
  assert.match(table, /kustomization\/apps\s+in-cluster\s/);
  const onEdge = JSON.parse(await getCmd(rt.rt, 'all', { namespace: x.ns, output: 'json', cluster: 'edge-1' })) as Array<{ name: string; cluster: string }>;
  assert.deepEqual(onEdge.map((r) => `${r.name}@${r.cluster}`), ['edge@edge-1']);
  const byServer = JSON.parse(await getCmd(rt.rt, 'kustomizations', { namespace: x.ns, output: 'json', cluster: second.server })) as Array<{ name: string }>;
  assert.deepEqual(byServer.map((r) => r.name), ['edge']);
  const local = JSON.parse(await getCmd(rt.rt, 'kustomizations', { namespace: x.ns, output: 'json', cluster: 'in-cluster' })) as Array<{ name: string }>;
  assert.ok(local.some((r) => r.name === 'apps') && !local.some((r) => r.name === 'edge'));

  // Drift on the remote is corrected there.
  await remote.request('PATCH', `/api/v1/namespaces/${REMOTE_NS}/configmaps/e1`, { body: { data: { v: 'tampered' } }, contentType: 'application/merge-patch+json' });
  await x.waitFor('remote drift corrected', async () => (await onRemote('e1'))?.data.v === '1', 60_000);

  // Prune on the remote.
  await x.repo.commit({ 'edge/e2.yaml': null }, 'drop e2');
  await x.repo.push();
  const rev2 = `main@sha1:${await x.repo.head()}`;
  assert.equal((await x.push(rt)).status, 200);
  await x.waitFor('edge at rev2', () => readyAt('edge', rev2), 60_000);
  assert.equal(await onRemote('e2'), undefined, 'pruned from the remote cluster');
  assert.equal((await onRemote('e1'))?.data.v, '1');

  // The remote goes away: only edge fails, naming the cluster; apps keeps reconciling.
  const server1 = second.server;
  remote.close();
  await second.stop();
  await x.waitFor('edge not Ready, naming the cluster', async () => {
    const c = getCondition(await x.record('Kustomization', 'edge'), 'Ready');
    return c?.status === 'False' && c.message.startsWith(`cluster 'edge-1' (${server1}) is unreachable`);
  }, 60_000);
  const appsBefore = (await x.record('Kustomization', 'apps'))?.status.lastReconciledAt as string;
  await x.waitFor('apps reconciled again, still Ready', async () => {
    const r = await x.record('Kustomization', 'apps');
    return getCondition(r, 'Ready')?.status === 'True' && String(r?.status.lastReconciledAt) > appsBefore;
  }, 60_000);
  const failing = await x.record('Kustomization', 'edge');
  assert.equal(getCondition(failing, 'Ready')?.reason, 'ReconciliationFailed');
  assert.ok(failing?.status.nextRunAt, 'retried on its retry interval');
  assert.equal(failing?.status.lastAppliedRevision, rev2);

  // A new control plane, its kubeconfig rotated into the Secret: edge recovers by itself.
  second = await startControlPlane({ controllerManager: false });
  remote = createKubeClient(kubeConfigFrom(second.kubeconfigPath));
  await putKubeconfigSecret(x.client, x.ns, renamed(second, 'edge-1'));
  await x.waitFor('edge Ready on the new cluster', async () => {
    const r = await x.record('Kustomization', 'edge');
    return getCondition(r, 'Ready')?.status === 'True' && (r?.status.targetCluster as { server?: string } | undefined)?.server === second.server;
  }, 90_000);
  assert.equal((await onRemote('e1'))?.data.v, '1', 'applied to the new cluster');
});
