import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getCondition } from '../../shared/state/records.js';
import { cm, fixture, kustomization, rev } from './helpers.js';

test('a plain directory is generated, built, applied; status, inventory and events as Flux writes them', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'apps/a.yaml': cm('a', { k: '1' }), 'apps/nested/b.yml': cm('b', { k: '2' }), 'README.md': '# not yaml' }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { path: './apps', targetNamespace: f.ns }));
  const out = await f.reconcile('apps');
  assert.equal(out.ready, true, out.message);
  assert.equal(out.message, `Applied revision: ${rev(1)}`);
  const rec = await f.record('Kustomization', 'apps');
  const ready = getCondition(rec, 'Ready');
  assert.deepEqual([ready?.status, ready?.reason, ready?.message], ['True', 'ReconciliationSucceeded', `Applied revision: ${rev(1)}`]);
  assert.equal(rec?.status.lastAppliedRevision, rev(1));
  assert.deepEqual(rec?.status.inventory?.entries, [
    { id: `${f.ns}_a__ConfigMap`, v: 'v1' },
    { id: `${f.ns}_b__ConfigMap`, v: 'v1' },
  ]);
  assert.match(rec?.events?.at(-1)?.message ?? '', new RegExp(`ConfigMap/${f.ns}/a created`));
  const live = await f.get('v1', 'ConfigMap', 'a');
  assert.equal(live?.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], 'apps');
  assert.equal(live?.metadata.labels?.['kustomize.toolkit.fluxcd.io/namespace'], f.ns);
  assert.equal(rec?.status.history?.[0].totalReconciliations, 1);
  // Reconciling the same revision again changes nothing and records no event.
  const events = rec?.events?.length;
  const again = await f.reconcile('apps');
  assert.equal(again.ready, true);
  const rec2 = await f.record('Kustomization', 'apps');
  const counts = rec2?.status.history?.[0].metadata ?? {};
  assert.ok(counts.unchanged && !counts.created && !counts.configured, `nothing applied the second time: ${JSON.stringify(counts)}`);
  assert.equal(rec2?.events?.length, events);
  assert.equal(rec2?.status.history?.[0].totalReconciliations, 2);
});

test('prune: an object removed from Git is deleted; one annotated prune: disabled survives', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }), 'b.yaml': cm('b', { k: '1' }), 'keep.yaml': cm('keep', { k: '1' }, '  annotations:\n    kustomize.toolkit.fluxcd.io/prune: disabled') }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns }));
  assert.equal((await f.reconcile('apps')).ready, true);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(2));
  const out = await f.reconcile('apps');
  assert.equal(out.ready, true, out.message);
  assert.equal(await f.get('v1', 'ConfigMap', 'b'), undefined);
  assert.ok(await f.get('v1', 'ConfigMap', 'keep'));
  assert.ok(await f.get('v1', 'ConfigMap', 'a'));
  const rec = await f.record('Kustomization', 'apps');
  assert.deepEqual(rec?.status.inventory?.entries.map((e) => e.id), [`${f.ns}_a__ConfigMap`]);
  assert.match(rec?.events?.at(-1)?.message ?? '', new RegExp(`ConfigMap/${f.ns}/b deleted`));
});

test('a broken manifest fails the Kustomization before anything is applied; the last good state stays', async (t) => {
  const f = await fixture(t);
  const files: Record<string, string> = {};
  for (let i = 0; i < 19; i++) files[`cm-${i}.yaml`] = cm(`cm-${i}`, { v: '1' });
  await f.publish(files, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns }));
  assert.equal((await f.reconcile('apps')).ready, true);
  const bad: Record<string, string> = {};
  for (let i = 0; i < 19; i++) bad[`cm-${i}.yaml`] = cm(`cm-${i}`, { v: '2' });
  bad['deploy.yaml'] = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: three\n  selector: {matchLabels: {app: web}}\n  template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, image: nginx}]}}\n';
  await f.publish(bad, rev(2));
  const out = await f.reconcile('apps');
  assert.equal(out.ready, false);
  assert.equal(out.reason, 'ReconciliationFailed');
  assert.match(out.message, new RegExp(`Deployment/${f.ns}/web: `));
  const live = (await f.get('v1', 'ConfigMap', 'cm-3')) as unknown as { data: { v: string } };
  assert.equal(live.data.v, '1', 'no object of the broken revision was applied');
  const rec = await f.record('Kustomization', 'apps');
  assert.equal(rec?.status.lastAppliedRevision, rev(1));
  assert.equal(rec?.status.lastAttemptedRevision, rev(2));
  assert.equal(getCondition(rec, 'Ready')?.reason, 'ReconciliationFailed');
  // A YAML syntax error is a build failure.
  await f.publish({ 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n' }, rev(3));
  const out3 = await f.reconcile('apps');
  assert.equal(out3.reason, 'BuildFailed');
  assert.match(out3.message, /a\.yaml/);
});

test('postBuild substitution: defaults, substituteFrom ConfigMap and Secret, strict failure, opt-out', async (t) => {
  const f = await fixture(t);
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/configmaps`, { body: { metadata: { name: 'vars' }, data: { COLOR: 'blue', SIZE: 'small' } } });
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: { metadata: { name: 'secret-vars' }, stringData: { SIZE: 'large' } } });
  await f.publish(
    {
      'a.yaml': cm('a', { color: '${COLOR}', size: '${SIZE}', region: '${REGION:=eu-west-1}', literal: '$${COLOR}', inline: '${INLINE}' }),
      'raw.yaml': cm('raw', { v: '${NOT_SUBSTITUTED}' }, '  labels:\n    kustomize.toolkit.fluxcd.io/substitute: disabled'),
    },
    rev(1),
  );
  await f.define(
    kustomization(f.ns, 'apps', {
      targetNamespace: f.ns,
      postBuild: {
        substitute: { INLINE: 'from-spec' },
        substituteFrom: [
          { kind: 'ConfigMap', name: 'vars' },
          { kind: 'Secret', name: 'secret-vars' },
          { kind: 'ConfigMap', name: 'missing', optional: true },
        ],
      },
    }),
  );
  const out = await f.reconcile('apps');
  assert.equal(out.ready, true, out.message);
  const a = (await f.get('v1', 'ConfigMap', 'a')) as unknown as { data: Record<string, string> };
  assert.deepEqual(a.data, { color: 'blue', size: 'large', region: 'eu-west-1', literal: '${COLOR}', inline: 'from-spec' });
  const raw = (await f.get('v1', 'ConfigMap', 'raw')) as unknown as { data: Record<string, string> };
  assert.equal(raw.data.v, '${NOT_SUBSTITUTED}');
  await f.publish({ 'a.yaml': cm('a', { v: '${UNSET_VAR}' }) }, rev(2));
  const out2 = await f.reconcile('apps');
  assert.equal(out2.reason, 'BuildFailed');
  assert.match(out2.message, /variable not set \(strict mode\): "UNSET_VAR"/);
  assert.match(out2.message, new RegExp(`ConfigMap/${f.ns}/a`));
});

test('dependsOn: waits for the dependency to be ready at the same revision', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'infra/ns.yaml': cm('infra', { k: '1' }), 'apps/app.yaml': cm('app', { k: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'infra', { path: './infra', targetNamespace: f.ns }));
  await f.define(kustomization(f.ns, 'apps', { path: './apps', targetNamespace: f.ns, dependsOn: [{ name: 'infra' }] }));
  const blocked = await f.reconcile('apps');
  assert.equal(blocked.reason, 'DependencyNotReady');
  assert.equal(blocked.message, `dependency '${f.ns}/infra' is not ready`);
  const blockedRec = await f.record('Kustomization', 'apps');
  assert.equal(Date.parse(blockedRec!.status.nextRunAt!) - Date.parse(blockedRec!.status.lastReconciledAt!), 30_000, 'retried after 30 s, as Flux');
  assert.equal(await f.get('v1', 'ConfigMap', 'app'), undefined);
  assert.equal((await f.reconcile('infra')).ready, true);
  assert.equal((await f.reconcile('apps')).ready, true);
  // A new revision: infra has not applied it yet, so apps waits again.
  await f.publish({ 'infra/ns.yaml': cm('infra', { k: '2' }), 'apps/app.yaml': cm('app', { k: '2' }) }, rev(2));
  const again = await f.reconcile('apps');
  assert.equal(again.reason, 'DependencyNotReady');
  assert.match(again.message, /revision is not up to date/);
});

test('health: wait: true passes for a Deployment scaled to 0; a failing health check times out with the object named', async (t) => {
  const f = await fixture(t);
  const deploy = (name: string, replicas: number) =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: ${name}\nspec:\n  replicas: ${replicas}\n  selector: {matchLabels: {app: ${name}}}\n  template:\n    metadata: {labels: {app: ${name}}}\n    spec: {containers: [{name: main, image: nginx:1.27}]}\n`;
  await f.publish({ 'web.yaml': deploy('web', 0) }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns, wait: true, timeout: '30s' }));
  const out = await f.reconcile('apps');
  assert.equal(out.ready, true, out.message);
  assert.equal(getCondition(await f.record('Kustomization', 'apps'), 'Healthy')?.status, 'True');
  // No scheduler or kubelet here: a Deployment with 1 replica never becomes available.
  await f.publish({ 'web.yaml': deploy('web', 0), 'stuck.yaml': deploy('stuck', 1) }, rev(2));
  await f.define(
    kustomization(f.ns, 'apps', {
      targetNamespace: f.ns,
      timeout: '3s',
      healthChecks: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'stuck', namespace: f.ns }],
    }),
  );
  const out2 = await f.reconcile('apps');
  assert.equal(out2.reason, 'HealthCheckFailed');
  assert.match(out2.message, new RegExp(`Deployment/${f.ns}/stuck`));
  const rec = await f.record('Kustomization', 'apps');
  assert.equal(getCondition(rec, 'Healthy')?.status, 'False');
});

test('suspend: nothing is applied', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns, suspend: true }));
  const out = await f.reconcile('apps');
  assert.equal(out.reason, 'Suspended');
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined);
});

test('unsupported or invalid spec fields fail with a message naming the field', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { decryption: { provider: 'vault' } }));
  const out = await f.reconcile('apps');
  assert.equal(out.reason, 'InvalidSpec');
  assert.match(out.message, /spec\.decryption\.provider: 'vault' is not supported: the only provider is sops/);
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined, 'nothing is applied');
  assert.equal(getCondition(await f.record('Kustomization', 'apps'), 'Stalled')?.status, 'True');
  await f.define(kustomization(f.ns, 'apps', { interval: 'ten minutes' }));
  assert.match((await f.reconcile('apps')).message, /spec\.interval: invalid duration 'ten minutes'/);
});

test('fleet recursion: Flux objects in a build become definitions; removing one prunes what it applied', async (t) => {
  const f = await fixture(t);
  const child = (name: string) =>
    `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: ${f.ns}\nspec:\n  interval: 5m\n  prune: true\n  path: ./apps/${name}\n  targetNamespace: ${f.ns}\n  sourceRef:\n    kind: GitRepository\n    name: repo\n`;
  await f.publish(
    {
      'clusters/dev/apps.yaml': child('frontend'),
      'clusters/dev/more.yaml': child('backend'),
      'apps/frontend/cm.yaml': cm('frontend', { k: '1' }),
      'apps/backend/cm.yaml': cm('backend', { k: '1' }),
    },
    rev(1),
  );
  await f.define(kustomization(f.ns, 'root', { path: './clusters/dev' }));
  const root = await f.reconcile('root');
  assert.equal(root.ready, true, root.message);
  assert.deepEqual(root.wake.map((w) => w.key.name).sort(), ['backend', 'frontend'], 'the new definitions are woken');
  const inv = (await f.record('Kustomization', 'root'))?.status.inventory?.entries.map((e) => e.id);
  assert.deepEqual(inv, [`${f.ns}_backend_kustomize.toolkit.fluxcd.io_Kustomization`, `${f.ns}_frontend_kustomize.toolkit.fluxcd.io_Kustomization`]);
  // The Kustomization objects were not sent to the cluster (Flux's CRDs are not even installed here).
  for (const name of ['frontend', 'backend']) assert.equal((await f.reconcile(name)).ready, true);
  assert.ok(await f.get('v1', 'ConfigMap', 'backend'));
  // Remove backend from Git.
  await f.publish({ 'clusters/dev/apps.yaml': child('frontend'), 'apps/frontend/cm.yaml': cm('frontend', { k: '1' }), 'apps/backend/cm.yaml': cm('backend', { k: '1' }) }, rev(2));
  const root2 = await f.reconcile('root');
  assert.deepEqual(root2.wake.filter((w) => w.dedupKey === 'finalize').map((w) => w.key.name), ['backend'], 'the removed definition is woken to finalize');
  const fin = await f.reconcile('backend');
  assert.equal(fin.reason, 'Finalized');
  assert.equal(await f.get('v1', 'ConfigMap', 'backend'), undefined, 'pruned with its Kustomization');
  assert.equal(await f.record('Kustomization', 'backend'), undefined);
  assert.ok(await f.get('v1', 'ConfigMap', 'frontend'));
});
