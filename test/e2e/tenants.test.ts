/**
 * A multi-tenant fleet laid out like fluxcd/flux2-multi-tenancy, through `fluxless serve`
 * with Flux's lockdown (noCrossNamespaceRefs, noRemoteBases, defaultServiceAccount: default):
 * the platform admin's `tenants` Kustomization (running as `kustomize-controller`, bound to
 * cluster-admin as Flux's install binds it) creates, per tenant, a Namespace, a
 * ServiceAccount, a RoleBinding to cluster-admin in that namespace only, a GitRepository and
 * a Kustomization with serviceAccountName and targetNamespace. Each tenant applies in its
 * namespace; a tenant cannot write outside it (RBAC, nothing of the revision applied), cannot
 * build from another namespace's source, and cannot use a remote base.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stringify as toYaml } from 'yaml';
import { KubeApiError } from '../../shared/kube/client.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import { getCondition, readRecord } from '../../shared/state/records.js';
import { createTestRepo } from '../harness/git-server.js';
import { testEnv } from '../harness/index.js';
import { configMap, e2e } from './helpers.js';

const yamls = (...docs: unknown[]) => docs.map((d) => toYaml(d)).join('---\n');

/** tenants/base/<team>: rbac.yaml and sync.yaml as in flux2-multi-tenancy (plus targetNamespace). */
function tenantBase(team: string, ns: string, url: string): Record<string, string> {
  const labels = { 'toolkit.fluxcd.io/tenant': team };
  return {
    [`tenants/base/${team}/kustomization.yaml`]: toYaml({ apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization', namespace: ns, resources: ['rbac.yaml', 'sync.yaml'] }),
    [`tenants/base/${team}/rbac.yaml`]: yamls(
      { apiVersion: 'v1', kind: 'Namespace', metadata: { labels, name: ns } },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { labels, name: team, namespace: ns } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { labels, name: 'gotk-reconciler', namespace: ns },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [
          { kind: 'User', name: `gotk:${ns}:reconciler` },
          { kind: 'ServiceAccount', name: team, namespace: ns },
        ],
      },
    ),
    [`tenants/base/${team}/sync.yaml`]: yamls(
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: team, namespace: ns }, spec: { interval: '2s', url, ref: { branch: 'main' } } },
      {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: team, namespace: ns },
        spec: { serviceAccountName: team, targetNamespace: ns, interval: '2s', sourceRef: { kind: 'GitRepository', name: team }, prune: true },
      },
    ),
    [`tenants/dev/${team}-patch.yaml`]: toYaml({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: team, namespace: ns }, spec: { path: './dev' } }),
  };
}

const ks = (name: string, spec: Record<string, unknown>) => toYaml({ apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name }, spec: { interval: '2s', prune: true, ...spec } });

test('flux2-multi-tenancy under lockdown: tenants apply in their namespace only, no cross-namespace source, no remote base', async (t) => {
  const x = await e2e(t, { FLUXLESS_NO_CROSS_NAMESPACE_REFS: 'true', FLUXLESS_NO_REMOTE_BASES: 'true', FLUXLESS_DEFAULT_SERVICE_ACCOUNT: 'default' });
  const env = await testEnv();
  const dev = `${x.ns}-dev`;
  const ops = `${x.ns}-ops`;
  const crb = `fluxless-${x.ns}-kustomize-controller`;
  t.after(async () => {
    for (const n of [dev, ops]) await x.client.request('DELETE', `/api/v1/namespaces/${n}`).catch(() => undefined);
    await x.client.request('DELETE', `/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/${crb}`).catch(() => undefined);
  });
  // What Flux's install provides: the kustomize-controller account, cluster-admin.
  await x.client.request('POST', `/api/v1/namespaces/${x.ns}/serviceaccounts`, { body: { metadata: { name: 'kustomize-controller' } } });
  await x.client.request('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
    body: { metadata: { name: crb }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [{ kind: 'ServiceAccount', name: 'kustomize-controller', namespace: x.ns }] },
  });

  const devRepo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  const opsRepo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  t.after(async () => {
    await devRepo.cleanup().catch(() => undefined);
    await opsRepo.cleanup().catch(() => undefined);
  });
  await devRepo.commit({ 'dev/kustomization.yaml': 'resources: [app.yaml]\n', 'dev/app.yaml': configMap('dev-app', { v: '1' }) }, 'dev-team');
  await devRepo.push();
  await opsRepo.commit(
    {
      'dev/kustomization.yaml': 'resources: [app.yaml, sneaky.yaml, remote.yaml]\n',
      'dev/app.yaml': configMap('ops-app', { v: '1' }),
      // Another namespace's source (the platform's own repository).
      'dev/sneaky.yaml': ks('sneaky', { path: './', sourceRef: { kind: 'GitRepository', name: 'flux-system', namespace: x.ns } }),
      // A remote base.
      'dev/remote.yaml': ks('remote', { path: './remote', sourceRef: { kind: 'GitRepository', name: 'ops-team' } }),
      'remote/kustomization.yaml': 'resources:\n- https://github.com/fluxcd/flux2-multi-tenancy//tenants/base/dev-team?ref=main\n',
    },
    'ops-team',
  );
  await opsRepo.push();

  await x.repo.commit(
    {
      'clusters/dev/tenants.yaml': toYaml({
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: 'tenants', namespace: x.ns },
        spec: { interval: '2s', serviceAccountName: 'kustomize-controller', sourceRef: { kind: 'GitRepository', name: 'flux-system' }, path: './tenants/dev', prune: true },
      }),
      ...tenantBase('dev-team', dev, devRepo.url),
      ...tenantBase('ops-team', ops, opsRepo.url),
      'tenants/dev/kustomization.yaml': toYaml({
        apiVersion: 'kustomize.config.k8s.io/v1beta1',
        kind: 'Kustomization',
        resources: ['../base/dev-team', '../base/ops-team'],
        patches: [{ path: 'dev-team-patch.yaml' }, { path: 'ops-team-patch.yaml' }],
      }),
    },
    'platform',
  );
  await x.repo.push();
  await x.start();

  const reader = createRuntime(x.cfg);
  t.after(() => reader.client.close());
  const recordIn = (ns: string, name: string) => readRecord(reader.state, { kind: 'Kustomization', namespace: ns, name });
  const ready = async (ns: string, name: string) => getCondition(await recordIn(ns, name), 'Ready');
  const cmIn = (ns: string, name: string) => x.client.request<{ data: { v: string } }>('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`).catch(() => undefined);

  await x.waitFor('both tenants Ready', async () => (await ready(dev, 'dev-team'))?.status === 'True' && (await ready(ops, 'ops-team'))?.status === 'True', 120_000);
  assert.equal((await cmIn(dev, 'dev-app'))?.data.v, '1');
  assert.equal((await cmIn(ops, 'ops-app'))?.data.v, '1');
  assert.equal((await ready(x.ns, 'tenants'))?.status, 'True');

  // A source in another namespace: AccessDenied, stalled.
  await x.waitFor('sneaky refused', async () => (await ready(ops, 'sneaky'))?.reason === 'AccessDenied', 60_000);
  const sneaky = await recordIn(ops, 'sneaky');
  assert.equal(getCondition(sneaky, 'Ready')?.message, `can't access 'GitRepository/${x.ns}/flux-system', cross-namespace references have been blocked`);
  assert.equal(getCondition(sneaky, 'Stalled')?.status, 'True');
  // A remote base: refused by the build.
  await x.waitFor('remote refused', async () => (await ready(ops, 'remote'))?.reason === 'BuildFailed', 60_000);
  assert.match((await ready(ops, 'remote'))?.message ?? '', /is a remote reference, and remote bases are disabled/);

  // Outside its namespace: the RBAC answer, and nothing of that revision is applied.
  const cr = `fluxless-${x.ns}-escape`;
  await devRepo.commit({
    'dev/kustomization.yaml': 'resources: [app.yaml, cr.yaml]\n',
    'dev/app.yaml': configMap('dev-app', { v: '2' }),
    'dev/cr.yaml': toYaml({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRole', metadata: { name: cr }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] }),
  }, 'escape');
  await devRepo.push();
  await x.waitFor('dev-team refused by RBAC', async () => {
    const c = await ready(dev, 'dev-team');
    return c?.status === 'False' && c.message.includes(`User "system:serviceaccount:${dev}:dev-team" cannot`);
  }, 90_000);
  assert.match((await ready(dev, 'dev-team'))?.message ?? '', new RegExp(`ClusterRole/${cr}: .*cannot .* resource "clusterroles" .* at the cluster scope`));
  assert.equal((await cmIn(dev, 'dev-app'))?.data.v, '1', 'nothing of the refused revision applied');
  await assert.rejects(x.client.request('GET', `/apis/rbac.authorization.k8s.io/v1/clusterroles/${cr}`), (e: unknown) => e instanceof KubeApiError && e.status === 404);
  assert.equal((await ready(ops, 'ops-team'))?.status, 'True', 'the other tenant is unaffected');
});
