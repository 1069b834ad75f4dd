import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { getCondition } from '../../shared/state/records.js';
import { testEnv } from '../harness/index.js';
import { configMap, e2e, fleet } from './helpers.js';

const run = promisify(execFile);

test('push + signed webhook: applied, pruned, broken manifest refused, drift corrected', async (t) => {
  const x = await e2e(t);
  await x.repo.commit(fleet(x.ns, { 'a.yaml': configMap('a', { v: '1' }), 'b.yaml': configMap('b', { v: '1' }) }), 'first');
  await x.repo.push();
  const rt = await x.start();
  const rev1 = `main@sha1:${await x.repo.head()}`;
  await x.waitFor('apps Ready at the first revision', async () => {
    const r = await x.record('Kustomization', 'apps');
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev1;
  });
  assert.ok(await x.get('ConfigMap', 'a'));
  assert.ok(await x.get('ConfigMap', 'b'));

  // Change a, delete b, push, send the webhook.
  await x.repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }), 'apps/b.yaml': null }, 'second');
  await x.repo.push();
  const rev2 = `main@sha1:${await x.repo.head()}`;
  const res = await x.push(rt);
  assert.equal(res.status, 200, await res.text());
  await x.waitFor('apps at the second revision', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev2, 30_000);
  assert.equal(((await x.get('ConfigMap', 'a')) as unknown as { data: { v: string } }).data.v, '2');
  assert.equal(await x.get('ConfigMap', 'b'), undefined, 'b pruned');

  // A broken manifest: Ready=False with the reason, the cluster unchanged.
  await x.repo.commit({ 'apps/a.yaml': configMap('a', { v: '3' }), 'apps/bad.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: many\n' }, 'broken');
  await x.repo.push();
  const rev3 = `main@sha1:${await x.repo.head()}`;
  assert.equal((await x.push(rt)).status, 200);
  await x.waitFor('apps failed at the broken revision', async () => {
    const r = await x.record('Kustomization', 'apps');
    return r?.status.lastAttemptedRevision === rev3 && getCondition(r, 'Ready')?.status === 'False';
  }, 30_000);
  const failed = await x.record('Kustomization', 'apps');
  assert.equal(getCondition(failed, 'Ready')?.reason, 'ReconciliationFailed');
  assert.match(getCondition(failed, 'Ready')?.message ?? '', new RegExp(`Deployment/${x.ns}/bad`));
  assert.equal(failed?.status.lastAppliedRevision, rev2);
  assert.equal(((await x.get('ConfigMap', 'a')) as unknown as { data: { v: string } }).data.v, '2', 'nothing of the broken revision applied');

  // Fix it, then drift: a kubectl edit is corrected by the next drift check.
  await x.repo.commit({ 'apps/bad.yaml': null }, 'fix');
  await x.repo.push();
  const rev4 = `main@sha1:${await x.repo.head()}`;
  assert.equal((await x.push(rt)).status, 200);
  await x.waitFor('apps at the fixed revision', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev4, 30_000);
  const { kubectl } = await (await testEnv()).tools();
  await run(kubectl, ['--kubeconfig', x.cfg.cluster.kubeconfig!, '-n', x.ns, 'patch', 'configmap', 'a', '--type=merge', '-p', '{"data":{"v":"tampered"}}']);
  await x.waitFor('drift corrected', async () => ((await x.get('ConfigMap', 'a')) as unknown as { data: { v: string } }).data.v === '3', 30_000);
});

test('a restart picks the queue up again and converges; a bad webhook changes nothing', async (t) => {
  const x = await e2e(t);
  await x.repo.commit(fleet(x.ns, { 'a.yaml': configMap('a', { v: '1' }) }), 'first');
  await x.repo.push();
  const first = await x.start();
  // Stop at once: whatever was queued or in flight must survive the restart.
  await first.stop();
  const rt = await x.start();
  const rev = `main@sha1:${await x.repo.head()}`;
  await x.waitFor('apps Ready after restart', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev);
  const wrong = await fetch(rt.url + '/hook/' + 'f'.repeat(64), { method: 'POST', body: '{}' });
  assert.equal(wrong.status, 404);
  const unsigned = await x.push(rt);
  assert.equal(unsigned.status, 200);
  const forged = await fetch(rt.url + (await import('../../shared/receivers/signature.js')).webhookPath(x.token, 'github', x.ns), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=' + '0'.repeat(64) },
    body: '{}',
  });
  assert.equal(forged.status, 401);
  assert.match(await forged.text(), /signature/i);
});

test('polling: a source without webhooks is fetched when its interval is due, and its Kustomizations follow', async (t) => {
  const x = await e2e(t, { FLUXLESS_SOURCE_INTERVAL: '1s' });
  await x.repo.commit(fleet(x.ns, { 'a.yaml': configMap('a', { v: '1' }) }), 'first');
  await x.repo.push();
  await x.start();
  const rev1 = `main@sha1:${await x.repo.head()}`;
  await x.waitFor('first revision applied', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev1);
  await x.repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }) }, 'second');
  await x.repo.push();
  const rev2 = `main@sha1:${await x.repo.head()}`;
  // No webhook: the scheduler polls the source.
  await x.waitFor('second revision applied by polling', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev2, 30_000);
  assert.equal(((await x.get('ConfigMap', 'a')) as unknown as { data: { v: string } }).data.v, '2');
  const src = await x.record('GitRepository', 'flux-system');
  assert.equal(src?.status.artifact?.revision, rev2);
});
