/**
 * applyAll's `likelyNew` hint (objects not in the last inventory: dry-run straight away,
 * no GET) and `observed()`, against the real kube-apiserver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ApplyEngine } from '../../shared/apply/engine.js';
import { renderDiff } from '../../shared/apply/diff.js';
import type { KubeObject, ObjectRef } from '../../shared/kube/object.js';
import { refOf } from '../../shared/kube/object.js';
import { configMap, engineFor } from './helpers.js';

type WithData = KubeObject & { data?: Record<string, string> };

const serviceAccount = (ns: string, name: string): KubeObject => ({ apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name, namespace: ns } });

/** Resolves the REST mappings of the kinds used here, so request counts measure only applyAll. */
async function warmMapper(engine: ApplyEngine, ns: string): Promise<void> {
  await engine.applyAll([configMap(ns, 'warm-up', { w: '1' }), serviceAccount(ns, 'warm-up')]);
}

test('likelyNew: new objects are created with a dry-run and an apply each, no GET', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  await warmMapper(engine, ns);
  const objs = [configMap(ns, 'a', { k: 'a' }), configMap(ns, 'b', { k: 'b' }), configMap(ns, 'c', { k: 'c' }), serviceAccount(ns, 'sa')];
  const hinted: string[] = [];
  const calls = client.requestCount;
  const res = await engine.applyAll(objs, {
    likelyNew: (ref) => {
      hinted.push(`${ref.group}|${ref.kind}|${ref.namespace}|${ref.name}`);
      return true;
    },
  });
  const used = client.requestCount - calls;
  assert.deepEqual(res.map((e) => `${e.subject} ${e.action}`), [
    `ServiceAccount/${ns}/sa created`,
    `ConfigMap/${ns}/a created`,
    `ConfigMap/${ns}/b created`,
    `ConfigMap/${ns}/c created`,
  ]);
  assert.equal(used, 2 * objs.length, `${used} API calls for ${objs.length} new objects`);
  assert.deepEqual(hinted.sort(), [`|ConfigMap|${ns}|a`, `|ConfigMap|${ns}|b`, `|ConfigMap|${ns}|c`, `|ServiceAccount|${ns}|sa`]);
  // Really in the cluster, with the desired content.
  for (const o of objs) {
    const live = (await engine.get(o)) as WithData | undefined;
    assert.ok(live?.metadata.uid, `${o.metadata.name} exists`);
    assert.deepEqual(live.data, (o as WithData).data);
  }
});

test('likelyNew without the hint for some objects: hinted ones skip the GET, others take the usual path', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  await warmMapper(engine, ns);
  const existing = configMap(ns, 'old', { k: '1' });
  await engine.applyAll([existing]);
  const fresh = [configMap(ns, 'new-1', { k: '1' }), configMap(ns, 'new-2', { k: '2' })];
  const calls = client.requestCount;
  const res = await engine.applyAll([existing, ...fresh], { likelyNew: (ref) => ref.name.startsWith('new-') });
  const used = client.requestCount - calls;
  assert.deepEqual(res.map((e) => `${e.ref.name} ${e.action}`), ['new-1 created', 'new-2 created', 'old unchanged']);
  // new: dry-run + apply; unchanged: GET + dry-run.
  assert.equal(used, 2 * 3, `${used} API calls`);
  for (const o of fresh) assert.ok((await engine.get(o))?.metadata.uid);
});

test('likelyNew on objects that already exist: identical ones stay unchanged, changed ones are configured', async (t) => {
  const { engine, ns } = await engineFor(t);
  const objs = [configMap(ns, 'same', { k: '1' }), configMap(ns, 'changed', { k: '1', gone: 'x' }), serviceAccount(ns, 'sa')];
  await engine.applyAll(objs);
  const before = new Map<string, WithData>();
  for (const o of objs) before.set(o.metadata.name, (await engine.get(o)) as WithData);

  const next = [objs[0]!, configMap(ns, 'changed', { k: '2' }), objs[2]!];
  const res = await engine.applyAll(next, { likelyNew: () => true, withChanges: true });
  assert.deepEqual(res.map((e) => `${e.subject} ${e.action}`), [
    `ServiceAccount/${ns}/sa unchanged`,
    `ConfigMap/${ns}/changed configured`,
    `ConfigMap/${ns}/same unchanged`,
  ]);
  const changed = res.find((e) => e.ref.name === 'changed')!;
  assert.match(renderDiff(changed.changes ?? []), /data\.k: 1 -> 2/, 'the diff is against the live object, not against nothing');

  const same = (await engine.get(objs[0]!)) as WithData;
  assert.equal(same.metadata.resourceVersion, before.get('same')!.metadata.resourceVersion, 'no write for the identical object');
  assert.equal(same.metadata.uid, before.get('same')!.metadata.uid);
  // (The ServiceAccount's resourceVersion is not compared: the token controller of
  // kube-controller-manager 1.20 writes its `secrets` a moment after creation.)
  const live = (await engine.get(next[1]!)) as WithData;
  assert.deepEqual(live.data, { k: '2' }, 'the configured object has the new content (our removed key is gone)');
  assert.equal(live.metadata.uid, before.get('changed')!.metadata.uid, 'configured in place, not recreated');
});

test('likelyNew on an existing ssa: IfNotPresent object still skips it', async (t) => {
  const { engine, ns } = await engineFor(t);
  const annotations = { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' };
  await engine.applyAll([configMap(ns, 'once', { v: '1' }, { annotations })]);
  const res = await engine.applyAll([configMap(ns, 'once', { v: '2' }, { annotations })], { likelyNew: () => true });
  assert.equal(res[0]!.action, 'skipped');
  assert.equal(((await engine.get(configMap(ns, 'once', {}))) as WithData).data?.v, '1');
});

test('likelyNew with diffOnly reports created objects and writes nothing', async (t) => {
  const { engine, ns } = await engineFor(t);
  const cm = configMap(ns, 'planned', { k: 'v' });
  const res = await engine.applyAll([cm], { likelyNew: () => true, diffOnly: true });
  assert.equal(res[0]!.action, 'created');
  assert.match(renderDiff(res[0]!.changes ?? []), /\+ data: \{"k":"v"\}/);
  assert.equal(await engine.get(cm), undefined);
});

test('observed() returns what applyAll last saw live: created, configured and unchanged objects', async (t) => {
  const { engine, ns } = await engineFor(t);
  const ref = (o: KubeObject): ObjectRef => refOf(o);
  const a = configMap(ns, 'a', { k: '1' });
  const b = configMap(ns, 'b', { k: '1' });
  assert.equal(engine.observed(ref(a)), undefined, 'nothing seen before the first apply');

  await engine.applyAll([a, b], { likelyNew: () => true });
  for (const o of [a, b]) {
    const seen = engine.observed(ref(o)) as WithData | undefined;
    const live = (await engine.get(o)) as WithData;
    assert.ok(seen?.metadata.uid, `observed ${o.metadata.name} has a uid`);
    assert.equal(seen.metadata.uid, live.metadata.uid);
    assert.equal(seen.metadata.resourceVersion, live.metadata.resourceVersion);
    assert.deepEqual(seen.data, { k: '1' });
  }

  // Another controller adds a field to a (not ours: a stays unchanged for us, but the live
  // object moved on); b changes in Git (configured: the apply response).
  await engine.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, {
    body: { data: { other: 'x' } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'other-controller' },
  });
  const res = await engine.applyAll([a, configMap(ns, 'b', { k: '2' })], { likelyNew: () => false });
  assert.deepEqual(res.map((e) => `${e.ref.name} ${e.action}`), ['a unchanged', 'b configured']);
  const seenB = engine.observed(ref(b)) as WithData;
  const liveB = (await engine.get(b)) as WithData;
  assert.deepEqual(seenB.data, { k: '2' });
  assert.equal(seenB.metadata.resourceVersion, liveB.metadata.resourceVersion);
  const seenA = engine.observed(ref(a)) as WithData;
  const liveA = (await engine.get(a)) as WithData;
  assert.equal(seenA.metadata.uid, liveA.metadata.uid);
  assert.equal(seenA.metadata.resourceVersion, liveA.metadata.resourceVersion, 'the unchanged object as read in this apply, not a stale copy');
  assert.deepEqual(seenA.data, { k: '1', other: 'x' });

  // Keyed by group/kind/namespace/name: another namespace or kind is not the same object.
  assert.equal(engine.observed({ ...ref(a), namespace: `${ns}-other` }), undefined);
  assert.equal(engine.observed({ ...ref(a), kind: 'Secret' }), undefined);
});
