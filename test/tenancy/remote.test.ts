/**
 * A Kustomization with spec.kubeConfig, reconciled directly (the multi-cluster e2e runs the
 * same through serve): its kubeconfig Secret is read on every reconcile with Flux's
 * messages, the target cluster is recorded in the status, and Flux objects in its build are
 * applied to that cluster as objects (as Flux does), never turned into local definitions.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { testEnv } from '../harness/index.js';
import { cm, kustomization, rev } from '../reconcile/helpers.js';
import { tenantFixture } from './helpers.js';

async function kubeconfigSecret(ns: string, clusterName: string): Promise<Record<string, unknown>> {
  const doc = parseYaml(readFileSync((await (await testEnv()).cluster()).kubeconfigPath, 'utf8')) as { clusters: Array<{ name: string }>; contexts: Array<{ context: { cluster: string } }> };
  doc.clusters[0].name = clusterName;
  doc.contexts[0].context.cluster = clusterName;
  return { metadata: { name: 'kc', namespace: ns }, data: { 'value.yaml': Buffer.from(toYaml(doc)).toString('base64') } };
}

test("a missing kubeconfig Secret: Ready=False with Flux's message, retried; once it exists the target is recorded", async (t) => {
  const f = await tenantFixture(t);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'edge', { targetNamespace: f.ns, kubeConfig: { secretRef: { name: 'kc' } } }));
  const out = await f.run('edge');
  assert.equal(out.reason, 'ReconciliationFailed');
  assert.equal(out.message, `unable to read KubeConfig secret '${f.ns}/kc' error: secrets "kc" not found`);
  assert.equal(out.transientError, undefined);
  assert.ok((await f.record('Kustomization', 'edge'))?.status.nextRunAt, 'retried at the retry interval');

  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: await kubeconfigSecret(f.ns, 'edge-same') });
  const ok = await f.run('edge');
  assert.equal(ok.ready, true, ok.message);
  const rec = await f.record('Kustomization', 'edge');
  assert.equal((rec?.status.targetCluster as { name: string }).name, 'edge-same');
  assert.ok(await f.get('v1', 'ConfigMap', 'a'));
});

test('Flux objects in the build of a remote Kustomization are applied to that cluster, not defined here', async (t) => {
  const f = await tenantFixture(t);
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: await kubeconfigSecret(f.ns, 'spoke') });
  const gitRepo = `apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: spoke-apps\nspec:\n  interval: 1m\n  url: https://example.com/apps.git\n`;
  await f.publish({ 'a.yaml': cm('a', { k: '1' }), 'repo.yaml': gitRepo }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'hub', { targetNamespace: f.ns, kubeConfig: { secretRef: { name: 'kc' } } }));
  const out = await f.run('hub');
  assert.equal(out.ready, false);
  // The spoke (here: a cluster without Flux's CRDs) is asked to take the GitRepository.
  assert.match(out.message, /GitRepository\/.*spoke-apps: .*no matches for kind "GitRepository"/);
  assert.equal(await f.record('GitRepository', 'spoke-apps'), undefined, 'no local definition');
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined, 'nothing of the revision applied');
});

test('deleting a remote Kustomization whose kubeconfig Secret is gone waits (retried) until the Secret is back, then prunes', async (t) => {
  const f = await tenantFixture(t);
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: await kubeconfigSecret(f.ns, 'edge') });
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'edge', { targetNamespace: f.ns, kubeConfig: { secretRef: { name: 'kc' } } }));
  assert.equal((await f.run('edge')).ready, true);
  await f.client.request('DELETE', `/api/v1/namespaces/${f.ns}/secrets/kc`);
  await f.state.update({ kind: 'Kustomization', namespace: f.ns, name: 'edge' }, (cur) => (cur ? { ...(cur as object), deleted: true } : undefined));
  const blocked = await f.run('edge');
  assert.equal(blocked.reason, 'ReconciliationFailed');
  assert.equal(blocked.message, `unable to read KubeConfig secret '${f.ns}/kc' error: secrets "kc" not found`);
  assert.ok(await f.record('Kustomization', 'edge'), 'the record stays until it can be finalized');
  assert.ok(await f.get('v1', 'ConfigMap', 'a'));
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: await kubeconfigSecret(f.ns, 'edge') });
  const done = await f.run('edge');
  assert.equal(done.reason, 'Finalized');
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined, 'pruned on the target');
});
