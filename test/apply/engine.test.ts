import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ApplyEngine, ValidationFailedError } from '../../shared/apply/engine.js';
import { renderDiff } from '../../shared/apply/diff.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { testEnv } from '../harness/index.js';
import { configMap, deployment, engineFor } from './helpers.js';

const run = promisify(execFile);

test('creates, then leaves unchanged objects untouched (no write), then configures a change', async (t) => {
  const { engine, client, ns } = await engineFor(t);
  const objs = [configMap(ns, 'a', { k: '1' }), deployment(ns, 'web'), { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: ns } }];
  const first = await engine.applyAll(objs);
  assert.deepEqual(first.map((e) => `${e.subject} ${e.action}`), [
    `ServiceAccount/${ns}/sa created`,
    `ConfigMap/${ns}/a created`,
    `Deployment/${ns}/web created`,
  ]);
  // Let the Deployment controller finish writing to the Deployment (revision annotation,
  // observedGeneration) so the no-op below measures our calls, not a moving object.
  for (let i = 0; i < 100; i++) {
    const d = await engine.get(objs[1]);
    if ((d?.status as { observedGeneration?: number } | undefined)?.observedGeneration === d?.metadata.generation) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const before = await engine.get(objs[0]);
  const calls = client.requestCount;
  const second = await engine.applyAll(objs);
  assert.ok(second.every((e) => e.action === 'unchanged'), JSON.stringify(second));
  assert.ok(client.requestCount - calls <= 2 * objs.length, `no-op took ${client.requestCount - calls} calls for ${objs.length} objects`);
  const after = await engine.get(objs[0]);
  assert.equal(after?.metadata.resourceVersion, before?.metadata.resourceVersion, 'no write for an unchanged object');
  const third = await engine.applyAll([configMap(ns, 'a', { k: '2' }), objs[1], objs[2]], { withChanges: true });
  const cm = third.find((e) => e.subject === `ConfigMap/${ns}/a`)!;
  assert.equal(cm.action, 'configured');
  assert.match(renderDiff(cm.changes ?? []), /data\.k: 1 -> 2/);
  assert.equal(((await engine.get(objs[0])) as unknown as { data: { k: string } }).data.k, '2');
});

test('a CRD and its custom resources in one batch', async (t) => {
  const { engine, ns } = await engineFor(t);
  const group = `${ns}.fluxless.test`;
  const crd: KubeObject = {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `widgets.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } } } },
        },
      ],
    },
  };
  t.after(async () => {
    await engine.client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${group}`).catch(() => undefined);
  });
  const widget = (name: string, size: number): KubeObject => ({ apiVersion: `${group}/v1`, kind: 'Widget', metadata: { name, namespace: ns }, spec: { size } });
  const res = await engine.applyAll([widget('w1', 1), crd, widget('w2', 2)]);
  assert.deepEqual(res.map((e) => e.action), ['created', 'created', 'created']);
  assert.equal(res[0].subject, `CustomResourceDefinition/widgets.${group}`);
  const live = await engine.get(widget('w2', 0));
  assert.equal((live?.spec as { size: number }).size, 2);
  // A bad custom resource fails validation after the CRD stage, listing the object.
  await assert.rejects(engine.applyAll([crd, widget('bad', 'big' as unknown as number)]), (err: unknown) => {
    assert.ok(err instanceof ValidationFailedError);
    assert.match(err.message, new RegExp(`Widget/${ns}/bad: .*size`));
    return true;
  });
});

test('one broken manifest among 20 leaves the cluster untouched and names the object', async (t) => {
  const { engine, ns } = await engineFor(t);
  const objs: KubeObject[] = [];
  for (let i = 0; i < 19; i++) objs.push(configMap(ns, `cm-${i}`, { i: String(i) }));
  const broken = deployment(ns, 'broken');
  (broken.spec as { replicas: unknown }).replicas = 'three';
  objs.splice(7, 0, broken);
  await assert.rejects(engine.applyAll(objs), (err: unknown) => {
    assert.ok(err instanceof ValidationFailedError);
    assert.equal(err.failures.length, 1);
    assert.equal(err.failures[0].subject, `Deployment/${ns}/broken`);
    return true;
  });
  const list = await engine.client.request<{ items: unknown[] }>('GET', `/api/v1/namespaces/${ns}/configmaps`, { query: { labelSelector: '' } });
  // Only the namespace's root CA ConfigMap (made by the controller manager) may exist.
  const names = (list.items as KubeObject[]).map((o) => o.metadata.name).filter((n) => n.startsWith('cm-'));
  assert.deepEqual(names, []);
});

test('immutable field change: fails with a readable error without force, recreated with force', async (t) => {
  const { engine, ns } = await engineFor(t);
  await engine.applyAll([deployment(ns, 'web', { selector: 'one' })]);
  const changed = deployment(ns, 'web', { selector: 'two' });
  await assert.rejects(engine.applyAll([changed]), (err: unknown) => {
    assert.ok(err instanceof ValidationFailedError);
    assert.match(err.message, new RegExp(`Deployment/${ns}/web: .*immutable`));
    assert.match(err.message, /spec\.force/);
    return true;
  });
  const uid1 = (await engine.get(changed))?.metadata.uid;
  const forced = new ApplyEngine(engine.client, { force: true, waitIntervalMs: 100 });
  const res = await forced.applyAll([changed]);
  assert.equal(res[0].action, 'created');
  const live = await engine.get(changed);
  assert.notEqual(live?.metadata.uid, uid1, 'a new object');
  assert.deepEqual((live?.spec as { selector: unknown }).selector, { matchLabels: { app: 'two' } });
  // The annotation does the same per object.
  const annotated = deployment(ns, 'web', { selector: 'three' });
  annotated.metadata.annotations = { 'kustomize.toolkit.fluxcd.io/force': 'Enabled' };
  const res2 = await engine.applyAll([annotated]);
  assert.equal(res2[0].action, 'created');
});

test('drift made with another field manager is corrected, and kept under ssa: Merge', async (t) => {
  const { engine, ns } = await engineFor(t);
  const { kubeconfigPath } = await (await testEnv()).cluster();
  const { kubectl } = await (await testEnv()).tools();
  const cm = configMap(ns, 'drift', { color: 'blue' });
  await engine.applyAll([cm]);
  await run(kubectl, ['--kubeconfig', kubeconfigPath, '-n', ns, 'patch', 'configmap', 'drift', '--type=merge', '-p', '{"data":{"color":"red","extra":"x"}}']);
  const res = await engine.applyAll([cm]);
  assert.equal(res[0].action, 'configured');
  const live = (await engine.get(cm)) as { data: Record<string, string> } & KubeObject;
  assert.equal(live.data.color, 'blue', 'our field is restored');
  assert.equal(live.data.extra, undefined, 'kubectl edits are undone, as Flux does (kubectl managers are taken over)');
  // A field set by another controller (not kubectl) is left alone: server-side apply semantics.
  await engine.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/drift`, {
    body: { data: { owner: 'other-controller' } },
    contentType: 'application/merge-patch+json',
    query: { fieldManager: 'other-controller' },
  });
  assert.equal((await engine.applyAll([cm]))[0].action, 'unchanged');
  const live3 = (await engine.get(cm)) as { data: Record<string, string> } & KubeObject;
  assert.equal(live3.data.owner, 'other-controller');

  const merged = configMap(ns, 'merged', { color: 'blue' }, { annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'Merge' } });
  await engine.applyAll([merged]);
  await run(kubectl, ['--kubeconfig', kubeconfigPath, '-n', ns, 'patch', 'configmap', 'merged', '--type=merge', '-p', '{"data":{"extra":"kept"}}']);
  await engine.applyAll([merged]);
  const live2 = (await engine.get(merged)) as { data: Record<string, string> } & KubeObject;
  assert.equal(live2.data.extra, 'kept');
});

test('objects created by kubectl apply are taken over: last-applied annotation removed, fields owned by us', async (t) => {
  const { engine, ns } = await engineFor(t);
  const { kubeconfigPath } = await (await testEnv()).cluster();
  const { kubectl } = await (await testEnv()).tools();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-takeover-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'cm.json');
  writeFileSync(file, JSON.stringify(configMap(ns, 'legacy', { a: '1', b: '2' })));
  await run(kubectl, ['--kubeconfig', kubeconfigPath, 'apply', '-f', file]);
  const before = await engine.get({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'legacy', namespace: ns } });
  assert.ok(before?.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']);
  const res = await engine.applyAll([configMap(ns, 'legacy', { a: '1' })]);
  assert.equal(res[0].action, 'configured');
  const live = (await engine.get(before!)) as KubeObject & { data: Record<string, string> };
  assert.equal(live.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration'], undefined);
  assert.deepEqual(live.data, { a: '1' }, 'b was kubectl-owned, taken over, and removed because Git no longer has it');
  const managers = (live.metadata.managedFields ?? []).map((m) => m.manager);
  assert.ok(!managers.includes('kubectl-client-side-apply') && !managers.includes('kubectl'), managers.join(','));
});

test('Secret changes are diffed without ever showing a value', async (t) => {
  const { engine, ns } = await engineFor(t);
  const secret = (v: string): KubeObject => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: ns }, stringData: { password: v, user: 'admin' } });
  const first = await engine.applyAll([secret('hunter2')], { withChanges: true });
  const firstText = JSON.stringify(first);
  assert.doesNotMatch(firstText, /hunter2|aHVudGVyMg/);
  const res = await engine.applyAll([secret('s3cret-value')], { diffOnly: true });
  assert.equal(res[0].action, 'configured');
  const text = renderDiff(res[0].changes ?? []) + JSON.stringify(res);
  assert.doesNotMatch(text, /s3cret-value|czNjcmV0LXZhbHVl|hunter2|aHVudGVyMg|admin|YWRtaW4=/);
  assert.match(text, /\*\*\* \(before\)/);
  assert.match(text, /\*\*\* \(after\)/);
  // diffOnly wrote nothing
  const live = (await engine.get(secret('')) ) as KubeObject & { data: Record<string, string> };
  assert.equal(Buffer.from(live.data.password, 'base64').toString(), 'hunter2');
});

test('ssa annotations: IfNotPresent creates only, Ignore and reconcile: disabled are skipped', async (t) => {
  const { engine, ns } = await engineFor(t);
  const ifnp = configMap(ns, 'once', { v: '1' }, { annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' } });
  assert.equal((await engine.applyAll([ifnp]))[0].action, 'created');
  const changed = configMap(ns, 'once', { v: '2' }, { annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'IfNotPresent' } });
  assert.equal((await engine.applyAll([changed]))[0].action, 'skipped');
  assert.equal(((await engine.get(changed)) as unknown as { data: { v: string } }).data.v, '1');
  const ignored = configMap(ns, 'ignored', { v: '1' }, { annotations: { 'kustomize.toolkit.fluxcd.io/ssa': 'Ignore' } });
  const disabled = configMap(ns, 'disabled', { v: '1' }, { labels: { 'kustomize.toolkit.fluxcd.io/reconcile': 'disabled' } });
  const res = await engine.applyAll([ignored, disabled]);
  assert.deepEqual(res.map((e) => e.action), ['skipped', 'skipped']);
  assert.equal(await engine.get(ignored), undefined);
});

test('prune deletes in reverse order only owned objects; prune: disabled survives', async (t) => {
  const { engine, ns } = await engineFor(t);
  const owner = { 'kustomize.toolkit.fluxcd.io/name': 'app', 'kustomize.toolkit.fluxcd.io/namespace': ns };
  const owned = configMap(ns, 'owned', { a: '1' }, { labels: owner });
  const keep = configMap(ns, 'keep', { a: '1' }, { labels: owner, annotations: { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' } });
  const foreign = configMap(ns, 'foreign', { a: '1' });
  await engine.applyAll([owned, keep, foreign]);
  const refs = ['owned', 'keep', 'foreign'].map((name) => ({ group: '', kind: 'ConfigMap', namespace: ns, name, version: 'v1' }));
  const { entries, failed } = await engine.deleteAll(refs, { ownerLabels: owner });
  assert.deepEqual(failed, []);
  const byName = Object.fromEntries(entries.map((e) => [e.ref.name, e.action]));
  assert.deepEqual(byName, { owned: 'deleted', keep: 'skipped', foreign: 'skipped' });
  assert.equal(await engine.get(owned), undefined);
  assert.ok(await engine.get(keep));
  assert.ok(await engine.get(foreign));
});

test('Service and container ports without protocol apply (protocol defaults to TCP, as Flux normalizes)', async (t) => {
  const { engine, ns } = await engineFor(t);
  const svc: KubeObject = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'web', namespace: ns }, spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] } };
  const d = deployment(ns, 'web');
  ((d.spec as { template: { spec: { containers: Array<Record<string, unknown>> } } }).template.spec.containers[0]).ports = [{ containerPort: 8080 }];
  const res = await engine.applyAll([svc, d]);
  assert.deepEqual(res.map((e) => e.action), ['created', 'created']);
  assert.deepEqual((await engine.applyAll([svc, d])).map((e) => e.action), ['unchanged', 'unchanged']);
});

test('a large batch under one abort signal: no MaxListenersExceededWarning for its concurrent requests', async (t) => {
  const signal = new AbortController().signal;
  const { engine, ns } = await engineFor(t, { signal });
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const objs = Array.from({ length: 40 }, (_, i) => configMap(ns, `many-${i}`, { i: String(i) }));
  const applied = await engine.applyAll(objs);
  assert.equal(applied.filter((e) => e.action === 'created').length, 40);
  // Warnings are emitted on the next tick.
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning')), []);
});
