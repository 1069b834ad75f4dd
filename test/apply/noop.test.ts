/**
 * applyAll's `lastApplied` (issue 17 point 3): a no-op costs one read per kind and
 * namespace, and a change by anyone (another field manager, a deletion, Git) is still
 * found and corrected, against the real kube-apiserver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppliedStamp, ChangeEntry } from '../../shared/apply/engine.js';
import { appliedHash } from '../../shared/apply/engine.js';
import { inventoryId, type KubeObject, type ObjectRef } from '../../shared/kube/object.js';
import { configMap, deployment, engineFor } from './helpers.js';

type WithData = KubeObject & { data?: Record<string, string> };

/** What a reconciler keeps in its inventory between runs. */
function inventory() {
  const stamps = new Map<string, AppliedStamp>();
  return {
    stamps,
    lastApplied: (ref: ObjectRef) => stamps.get(inventoryId(ref)),
    keep(entries: ChangeEntry[]) {
      for (const e of entries) if (e.stamp) stamps.set(inventoryId(e.ref), e.stamp);
    },
  };
}

const owner = { 'kustomize.toolkit.fluxcd.io/name': 'app', 'kustomize.toolkit.fluxcd.io/namespace': 'flux-system' };

function objects(ns: string, k = '1'): KubeObject[] {
  return [
    configMap(ns, 'a', { k }, { labels: owner }),
    configMap(ns, 'b', { k: 'b' }, { labels: owner }),
    configMap(ns, 'c', { k: 'c' }, { labels: owner }),
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: ns, labels: owner }, stringData: { password: 'pw' } },
    {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: ns, labels: owner },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    },
  ];
}

async function live(engine: { get(o: KubeObject): Promise<KubeObject | undefined> }, o: KubeObject): Promise<WithData | undefined> {
  return (await engine.get(o)) as WithData | undefined;
}

test('stamps are returned per object; an unchanged set costs one read per kind and namespace and writes nothing', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  const inv = inventory();
  const objs = objects(ns);
  const first = await engine.applyAll(objs, { lastApplied: inv.lastApplied });
  assert.ok(first.every((e) => e.action === 'created'));
  for (const [i, e] of first.entries()) {
    const o = objs.find((x) => x.kind === e.ref.kind && x.metadata.name === e.ref.name)!;
    const l = await live(engine, o);
    assert.equal(e.stamp?.resourceVersion, l?.metadata.resourceVersion, `${e.subject}: the live resourceVersion after the apply (${i})`);
    assert.match(e.stamp?.hash ?? '', /^[0-9a-f]{32}$/);
  }
  inv.keep(first);
  const before = new Map(await Promise.all(objs.map(async (o) => [o.metadata.name, (await live(engine, o))!.metadata.resourceVersion] as const)));

  const calls = client.requestCount;
  const second = await engine.applyAll(objs, { lastApplied: inv.lastApplied });
  const used = client.requestCount - calls;
  assert.deepEqual(second.map((e) => `${e.subject} ${e.action}`), [
    `ConfigMap/${ns}/a unchanged`,
    `ConfigMap/${ns}/b unchanged`,
    `ConfigMap/${ns}/c unchanged`,
    `Secret/${ns}/s unchanged`,
    `Service/${ns}/web unchanged`,
  ]);
  // ConfigMaps: one LIST; the lone Secret and the lone Service: one GET each.
  assert.equal(used, 3, `${used} API calls for ${objs.length} unchanged objects`);
  for (const o of objs) assert.equal((await live(engine, o))!.metadata.resourceVersion, before.get(o.metadata.name), `no write to ${o.metadata.name}`);
  assert.deepEqual(second.map((e) => e.stamp), first.map((e) => e.stamp), 'the same stamps again');
  // The health check's first look still works without another request.
  assert.equal(engine.observed({ group: '', kind: 'ConfigMap', namespace: ns, name: 'b' })?.metadata.resourceVersion, before.get('b'));
});

test('a field changed by another manager moves the resourceVersion: found with a dry-run and corrected', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  const inv = inventory();
  const objs = objects(ns);
  inv.keep(await engine.applyAll(objs, { lastApplied: inv.lastApplied }));
  // Another controller takes our field over (its own Update), and adds one of its own elsewhere.
  await engine.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, {
    body: { data: { k: 'hijacked' } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'other-controller' },
  });
  await engine.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/b`, {
    body: { metadata: { labels: { 'other.example.com/seen': 'yes' } } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'other-controller' },
  });
  const calls = client.requestCount;
  const res = await engine.applyAll(objs, { lastApplied: inv.lastApplied });
  const used = client.requestCount - calls;
  assert.deepEqual(res.map((e) => `${e.ref.name} ${e.action}`), ['a configured', 'b unchanged', 'c unchanged', 's unchanged', 'web unchanged']);
  assert.equal((await live(engine, objs[0]!))!.data?.k, '1', 'our value is back');
  // 3 reads, a dry-run each for a and b (the LIST stood in for their GETs), a's write.
  assert.equal(used, 3 + 2 + 1, `${used} API calls`);
  inv.keep(res);
  const b = (await live(engine, objs[1]!))!;
  assert.equal(inv.stamps.get(inventoryId({ group: '', kind: 'ConfigMap', namespace: ns, name: 'b' }))?.resourceVersion, b.metadata.resourceVersion, 'b is re-stamped at its new resourceVersion');
  // Now stable again: back to one read per kind and namespace.
  const calls2 = client.requestCount;
  const again = await engine.applyAll(objs, { lastApplied: inv.lastApplied });
  assert.ok(again.every((e) => e.action === 'unchanged'));
  assert.equal(client.requestCount - calls2, 3);
});

test('changed in Git, deleted from the cluster, or annotated: the usual path decides', async (t) => {
  const { engine, ns } = await engineFor(t);
  const inv = inventory();
  inv.keep(await engine.applyAll(objects(ns), { lastApplied: inv.lastApplied }));
  await engine.client.request('DELETE', `/api/v1/namespaces/${ns}/configmaps/c`);
  await engine.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/b`, {
    body: { metadata: { annotations: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' } } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'kubectl-annotate' },
  });
  const next = objects(ns, '2'); // a changes in Git
  (next[1] as WithData).data = { k: 'b-changed' }; // b changes too, but is disabled in the cluster
  const res = await engine.applyAll(next, { lastApplied: inv.lastApplied, withChanges: true });
  assert.deepEqual(res.map((e) => `${e.ref.name} ${e.action}`), ['a configured', 'b skipped', 'c created', 's unchanged', 'web unchanged']);
  assert.equal((await live(engine, next[0]!))!.data?.k, '2');
  assert.equal((await live(engine, next[1]!))!.data?.k, 'b', 'reconcile: disabled is honoured');
  assert.ok(await live(engine, next[2]!), 'c is back');
  const a = res[0]!;
  assert.equal(a.stamp?.hash, appliedHash('fluxless', next[0]!), 'the stamp carries the new desired hash');
  assert.notEqual(a.stamp?.hash, inv.stamps.get(inventoryId(a.ref))?.hash);
});

test('without lastApplied nothing changes: no stamps, GET + dry-run per object', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  const objs = objects(ns);
  const first = await engine.applyAll(objs);
  assert.ok(first.every((e) => e.stamp === undefined));
  const calls = client.requestCount;
  const res = await engine.applyAll(objs);
  assert.ok(res.every((e) => e.action === 'unchanged' && e.stamp === undefined));
  assert.equal(client.requestCount - calls, 2 * objs.length);
});

test('a Deployment whose controller wrote only its status is still settled by the read; a spec or label change by another manager is still found', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  const inv = inventory();
  const web = { ...deployment(ns, 'web'), metadata: { name: 'web', namespace: ns, labels: owner } };
  inv.keep(await engine.applyAll([web], { lastApplied: inv.lastApplied }));
  const path = `/apis/apps/v1/namespaces/${ns}/deployments/web`;
  const stamp = () => inv.stamps.get(inventoryId({ group: 'apps', kind: 'Deployment', namespace: ns, name: 'web' }))!;
  assert.equal(stamp().generation, 1);
  // The deployment controller annotates its first rollout (a metadata write: a dry-run, then a new stamp).
  for (let i = 0; !(await engine.get(web))?.metadata.annotations?.['deployment.kubernetes.io/revision']; i++) {
    assert.ok(i < 300, 'the deployment controller annotated the rollout');
    await new Promise((r) => setTimeout(r, 100));
  }
  inv.keep(await engine.applyAll([web], { lastApplied: inv.lastApplied }));

  // A status write (what the controller does all the time) moves the resourceVersion only.
  const rvBefore = stamp().resourceVersion;
  await engine.client.request('PATCH', `${path}/status`, {
    body: { status: { conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'status written by a test' }] } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'kube-controller-manager' },
  });
  const moved = (await engine.get(web))!;
  assert.notEqual(moved.metadata.resourceVersion, rvBefore);
  let calls = client.requestCount;
  const settled = await engine.applyAll([web], { lastApplied: inv.lastApplied });
  assert.deepEqual(settled.map((e) => e.action), ['unchanged']);
  assert.equal(client.requestCount - calls, 1, 'one GET, no dry-run');
  inv.keep(settled);
  // Re-stamped at the resourceVersion it read: the one after the test's status write, or a
  // later one when the deployment controller wrote status again in between (etcd revisions).
  const now = (await engine.get(web))!;
  const stamped = BigInt(stamp().resourceVersion);
  assert.ok(stamped >= BigInt(moved.metadata.resourceVersion!) && stamped <= BigInt(now.metadata.resourceVersion!), `re-stamped at the new resourceVersion (${stamped}, read ${moved.metadata.resourceVersion}, now ${now.metadata.resourceVersion})`);

  // Another manager changes the spec: the generation moves, the dry-run finds it, we correct it.
  await engine.client.request('PATCH', path, { body: { spec: { replicas: 3 } }, contentType: 'application/merge-patch+json', query: { fieldManager: 'other-controller' } });
  const fixed = await engine.applyAll([web], { lastApplied: inv.lastApplied });
  assert.deepEqual(fixed.map((e) => e.action), ['configured']);
  assert.equal(((await engine.get(web)) as KubeObject & { spec: { replicas: number } }).spec.replicas, 0);
  inv.keep(fixed);

  // Another manager removes our label (no generation bump): found by the metadata hash, corrected.
  await engine.client.request('PATCH', path, {
    body: [{ op: 'remove', path: '/metadata/labels/kustomize.toolkit.fluxcd.io~1name' }],
    contentType: 'application/json-patch+json',
    query: { fieldManager: 'other-controller' },
  });
  calls = client.requestCount;
  const relabelled = await engine.applyAll([web], { lastApplied: inv.lastApplied });
  assert.deepEqual(relabelled.map((e) => e.action), ['configured']);
  assert.ok(client.requestCount - calls >= 2, 'a dry-run was made');
  assert.equal((await engine.get(web))!.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], 'app');
});
