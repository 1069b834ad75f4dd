/**
 * Impersonation (spec.serviceAccountName, lockdown.defaultServiceAccount) on the real API
 * server with RBAC: the tenant's account, bound only in its namespace, applies there; an
 * object outside it fails the revision with the API server's RBAC message and nothing of
 * that revision is applied (the batch dry-run runs as the tenant); dry-runs, applies,
 * health reads and prune deletes all carry Impersonate-User; substituteFrom is read as
 * Fluxless (as Flux reads it); a deleted Kustomization whose account is gone prunes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { registerEventSink } from '../../shared/reconcile/events.js';
import { getCondition } from '../../shared/state/records.js';
import { cm, kustomization, rev } from '../reconcile/helpers.js';
import { createOrKeep, isDiscovery, tenantFixture } from './helpers.js';

const clusterRole = (name: string) =>
  `apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: ${name}\nrules:\n- apiGroups: [""]\n  resources: ["configmaps"]\n  verbs: ["get"]\n`;

const deployment = (name: string) =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  replicas: 0',
    '  selector: { matchLabels: { app: x } }',
    '  template:',
    '    metadata: { labels: { app: x } }',
    '    spec: { containers: [{ name: c, image: "registry.invalid/x:1" }] }',
    '',
  ].join('\n');

test('a tenant account bound in its namespace: outside it the revision fails with the RBAC message and nothing is applied', async (t) => {
  const f = await tenantFixture(t);
  await f.tenantAccount('dev-team');
  const crName = `fluxless-tenant-${f.ns}`;
  await f.publish({ 'a.yaml': cm('a', { k: '1' }), 'cr.yaml': clusterRole(crName), 'kustomization.yaml': 'resources: [a.yaml, cr.yaml]\n' }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'dev-team', { targetNamespace: f.ns, serviceAccountName: 'dev-team' }));
  const out = await f.run('dev-team');
  assert.equal(out.ready, false);
  assert.equal(out.reason, 'ReconciliationFailed');
  assert.match(out.message, new RegExp(`ClusterRole/${crName}: .*User "system:serviceaccount:${f.ns}:dev-team" cannot .* resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`));
  assert.match(out.message, /nothing was applied/);
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined, 'the namespaced object of the failed revision is not applied either');
  assert.equal(await f.get('rbac.authorization.k8s.io/v1', 'ClusterRole', crName, ''), undefined);
  const rec = await f.record('Kustomization', 'dev-team');
  assert.equal(getCondition(rec, 'Ready')?.status, 'False');
  assert.equal(rec?.status.targetCluster, undefined, 'the management cluster is not recorded as a target');
  // The dry-run that refused the batch ran as the tenant.
  const dryRuns = f.rec.seen.filter((s) => s.query?.dryRun === 'All');
  assert.ok(dryRuns.length > 0);
  assert.ok(dryRuns.every((s) => s.impersonate === `system:serviceaccount:${f.ns}:dev-team`), JSON.stringify(dryRuns));
});

test('every call of the reconcile is impersonated (GET, dry-run, apply, health, prune); substituteFrom is not', async (t) => {
  const f = await tenantFixture(t);
  await f.tenantAccount('dev-team');
  await createOrKeep(f.client, `/api/v1/namespaces/${f.ns}/configmaps`, { metadata: { name: 'vars' }, data: { greeting: 'hello' } });
  const user = `system:serviceaccount:${f.ns}:dev-team`;
  await f.publish({ 'a.yaml': cm('a', { k: '${greeting}' }), 'b.yaml': cm('b', { k: '2' }), 'd.yaml': deployment('web'), 'kustomization.yaml': 'resources: [a.yaml, b.yaml, d.yaml]\n' }, rev(1));
  await f.defineTenantKs(
    kustomization(f.ns, 'dev-team', {
      targetNamespace: f.ns,
      serviceAccountName: 'dev-team',
      wait: true,
      timeout: '60s',
      postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'vars' }] },
    }),
  );
  const first = await f.run('dev-team');
  assert.equal(first.ready, true, first.message);
  assert.equal(((await f.get('v1', 'ConfigMap', 'a'))?.data as { k?: string } | undefined)?.k, 'hello');
  await f.publish({ 'a.yaml': cm('a', { k: '${greeting}' }), 'd.yaml': deployment('web'), 'kustomization.yaml': 'resources: [a.yaml, d.yaml]\n' }, rev(2));
  f.rec.seen.length = 0;
  const second = await f.run('dev-team');
  assert.equal(second.ready, true, second.message);
  assert.equal(await f.get('v1', 'ConfigMap', 'b'), undefined, 'pruned');
  const deletes = f.rec.seen.filter((s) => s.method === 'DELETE');
  assert.ok(deletes.some((s) => s.path.endsWith('/configmaps/b')), 'the prune went through the recorded client');
  const sub = f.rec.seen.filter((s) => s.path === `/api/v1/namespaces/${f.ns}/configmaps/vars`);
  assert.equal(sub.length, 1);
  assert.equal(sub[0].impersonate, undefined, 'substituteFrom is read with Fluxless own credentials, as Flux does');
  const others = f.rec.seen.filter((s) => !isDiscovery(s.path) && s !== sub[0]);
  assert.ok(others.length >= 3);
  assert.deepEqual(others.filter((s) => s.impersonate !== user), [], 'every other request impersonates the tenant');
  assert.ok(others.some((s) => s.method === 'GET' && s.path.includes('/deployments')), 'health reads impersonate too');
});

test('defaultServiceAccount: a Kustomization without serviceAccountName runs as <ns>:default, the bootstrap root does not', async (t) => {
  const f = await tenantFixture(t, { defaultServiceAccount: 'default' });
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'tenant', { targetNamespace: f.ns }));
  const out = await f.run('tenant');
  assert.equal(out.ready, false);
  assert.match(out.message, new RegExp(`User "system:serviceaccount:${f.ns}:default" cannot`));
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined);
  // The fixture's define() marks the definition as the bootstrap root: Fluxless's own identity.
  await f.define(kustomization(f.ns, 'root', { targetNamespace: f.ns }));
  const root = await f.run('root');
  assert.equal(root.ready, true, root.message);
  assert.equal(((await f.get('v1', 'ConfigMap', 'a'))?.data as { k?: string } | undefined)?.k, '1');
});

test("a deleted Kustomization whose account is gone: nothing is pruned, an error event lists what is left, the record goes", async (t) => {
  const f = await tenantFixture(t);
  await f.tenantAccount('dev-team');
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'dev-team', { targetNamespace: f.ns, serviceAccountName: 'dev-team' }));
  assert.equal((await f.run('dev-team')).ready, true);
  const events: string[] = [];
  registerEventSink(f.state, async ({ event }) => {
    events.push(`${event.severity} ${event.reason}: ${event.message}`);
  });
  await f.client.request('DELETE', `/api/v1/namespaces/${f.ns}/serviceaccounts/dev-team`);
  await f.state.update({ kind: 'Kustomization', namespace: f.ns, name: 'dev-team' }, (cur) => (cur ? { ...(cur as object), deleted: true } : undefined));
  const out = await f.run('dev-team');
  assert.equal(out.reason, 'Finalized');
  assert.equal(await f.record('Kustomization', 'dev-team'), undefined);
  assert.ok(await f.get('v1', 'ConfigMap', 'a'), 'not pruned: the account to impersonate is gone');
  assert.deepEqual(events, [`error PruneFailed: unable to prune objects: \nConfigMap/${f.ns}/a`]);
});

test('definitions (Flux objects in the build) are authorized as the tenant: its namespace yes, another namespace no', async (t) => {
  const f = await tenantFixture(t);
  await f.tenantAccount('dev-team');
  const ks = (name: string, ns?: string) =>
    [
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      `  name: ${name}`,
      ...(ns ? [`  namespace: ${ns}`] : []),
      'spec:',
      '  interval: 5m',
      '  prune: true',
      '  serviceAccountName: kustomize-controller',
      '  sourceRef: { kind: GitRepository, name: repo }',
      '',
    ].join('\n');
  await f.publish({ 'a.yaml': cm('a', { k: '1' }), 'own.yaml': ks('own') }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'dev-team', { serviceAccountName: 'dev-team', targetNamespace: f.ns }));
  const good = await f.run('dev-team');
  assert.equal(good.ready, true, good.message);
  assert.ok((await f.record('Kustomization', 'own'))?.object, 'the tenant defined a Kustomization in its own namespace');

  // The platform's namespace (no targetNamespace to rewrite it): refused before anything of the revision is applied.
  const platform = `${f.ns}-platform`;
  await f.publish({ 'a.yaml': cm('a', { k: '2' }, `  namespace: ${f.ns}`), 'own.yaml': ks('own', f.ns), 'evil.yaml': ks('evil', platform) }, rev(2));
  await f.defineTenantKs(kustomization(f.ns, 'dev-team', { serviceAccountName: 'dev-team' }));
  const bad = await f.run('dev-team');
  assert.equal(bad.ready, false);
  assert.match(bad.message, new RegExp(`Kustomization/${platform}/evil: kustomizations.kustomize.toolkit.fluxcd.io "evil" is forbidden: User "system:serviceaccount:${f.ns}:dev-team" cannot create resource "kustomizations" in API group "kustomize.toolkit.fluxcd.io" in the namespace "${platform}"`));
  assert.equal(await f.record('Kustomization', 'evil', platform), undefined, 'no definition in the other namespace');
  assert.equal(((await f.get('v1', 'ConfigMap', 'a'))?.data as { k?: string } | undefined)?.k, '1', 'nothing of the refused revision applied');
});
