/**
 * Flux's lockdown flags as Fluxless settings: noCrossNamespaceRefs refuses a sourceRef to
 * another namespace (AccessDenied, stalled, no retry scheduled; dependsOn across namespaces
 * still works, as in Flux), noRemoteBases keeps remote bases out of the build even when
 * render.allowRemoteBases is on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config/config.js';
import { reconcileSettings } from '../../shared/runtime/factory.js';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { cm, kustomization, rev } from '../reconcile/helpers.js';
import { tenantFixture } from './helpers.js';
import { helmReleaseKind } from '../../shared/kinds/helmrelease/reconciler.js';
import { log } from '../../shared/util/log.js';

test('noCrossNamespaceRefs: a source in another namespace is AccessDenied and stalled; dependsOn across namespaces still works', async (t) => {
  const f = await tenantFixture(t, { noCrossNamespaceRefs: true });
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'thief', { targetNamespace: f.ns, sourceRef: { kind: 'GitRepository', name: 'repo', namespace: 'flux-system' } }));
  const out = await f.run('thief');
  assert.equal(out.reason, 'AccessDenied');
  assert.equal(out.message, "can't access 'GitRepository/flux-system/repo', cross-namespace references have been blocked");
  assert.equal(out.transientError, undefined);
  const rec = await f.record('Kustomization', 'thief');
  assert.equal(getCondition(rec, 'Stalled')?.status, 'True');
  assert.equal(getCondition(rec, 'Ready')?.reason, 'AccessDenied');
  assert.equal(rec?.status.nextRunAt, undefined, 'terminal: no retry until the definition changes');
  assert.equal(rec?.events?.at(-1)?.severity, 'error');
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined);

  // A dependency in another namespace is allowed (Flux does not check dependsOn).
  const other = `${f.ns}-dep`;
  await f.state.update<ObjectRecord>({ kind: 'Kustomization', namespace: other, name: 'infra' }, () => ({
    object: kustomization(other, 'infra', {}),
    status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'ReconciliationSucceeded', message: '', lastTransitionTime: new Date().toISOString() }] },
  }));
  await f.defineTenantKs(kustomization(f.ns, 'app', { targetNamespace: f.ns, dependsOn: [{ name: 'infra', namespace: other }] }));
  const app = await f.run('app');
  assert.equal(app.ready, true, app.message);
});

test('noRemoteBases: remote bases are refused even with render.allowRemoteBases; without the lockdown they reach the remote checks', async (t) => {
  const files = { 'kustomization.yaml': 'resources:\n- https://127.0.0.1:1/org/repo//deploy?ref=v1\n' };
  const locked = await tenantFixture(t, { noRemoteBases: true });
  locked.svc.settings.allowRemoteBases = true;
  await locked.publish(files, rev(1));
  await locked.defineTenantKs(kustomization(locked.ns, 'remote', { targetNamespace: locked.ns }));
  const out = await locked.run('remote');
  assert.equal(out.reason, 'BuildFailed');
  assert.match(out.message, /is a remote reference, and remote bases are disabled/);

  const open = await tenantFixture(t, { noRemoteBases: false });
  open.svc.settings.allowRemoteBases = true;
  await open.publish(files, rev(1));
  await open.defineTenantKs(kustomization(open.ns, 'remote', { targetNamespace: open.ns }));
  const out2 = await open.run('remote');
  assert.equal(out2.reason, 'BuildFailed');
  assert.doesNotMatch(out2.message, /remote bases are disabled/, 'allowRemoteBases reaches the build when the lockdown is off');
});

test('the lockdown settings come from fluxless.yaml and the environment, as Flux flags', () => {
  const cfg = loadConfig({
    env: { FLUXLESS_SOURCE_URL: 'https://example.com/fleet.git', FLUXLESS_NO_CROSS_NAMESPACE_REFS: 'true', FLUXLESS_DEFAULT_SERVICE_ACCOUNT: 'default', FLUXLESS_NO_REMOTE_BASES: 'true' },
    dataDir: '/tmp/fluxless-lockdown-test',
  });
  assert.deepEqual(cfg.lockdown, { defaultServiceAccount: 'default', noCrossNamespaceRefs: true, noRemoteBases: true });
  const s = reconcileSettings(cfg);
  assert.equal(s.defaultServiceAccount, 'default');
  assert.equal(s.noCrossNamespaceRefs, true);
  assert.equal(s.noRemoteBases, true);
  assert.throws(() => loadConfig({ env: { FLUXLESS_SOURCE_URL: 'https://example.com/fleet.git', FLUXLESS_DEFAULT_SERVICE_ACCOUNT: 'Not_Valid' }, dataDir: '/tmp/x' }), /lockdown\.defaultServiceAccount \(FLUXLESS_DEFAULT_SERVICE_ACCOUNT\) 'Not_Valid' is not a valid ServiceAccount name/);
  const off = reconcileSettings(loadConfig({ env: { FLUXLESS_SOURCE_URL: 'https://example.com/fleet.git' }, dataDir: '/tmp/x' }));
  assert.equal(off.noCrossNamespaceRefs, false);
  assert.equal(off.defaultServiceAccount, undefined);
});

test('a Kustomization without kubeConfig, serviceAccountName or decryption costs nothing extra: no Secret, account or access review, no impersonation', async (t) => {
  const f = await tenantFixture(t);
  await f.publish({ 'a.yaml': cm('a', { k: '1' }) }, rev(1));
  await f.defineTenantKs(kustomization(f.ns, 'plain', { targetNamespace: f.ns }));
  assert.equal((await f.run('plain')).ready, true);
  f.rec.seen.length = 0;
  assert.equal((await f.run('plain')).ready, true);
  const extra = f.rec.seen.filter((s) => /\/secrets|\/serviceaccounts|selfsubjectaccessreviews/.test(s.path) || s.impersonate);
  assert.deepEqual(extra, []);
  assert.ok(f.rec.seen.length > 0, 'the no-op check still runs');
  assert.equal((await f.record('Kustomization', 'plain'))?.status.targetCluster, undefined);
});

test('noCrossNamespaceRefs: a HelmRelease whose chart source is in another namespace is AccessDenied and stalled, and no HelmChart is made there', async (t) => {
  const f = await tenantFixture(t, { noCrossNamespaceRefs: true });
  const hr = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', metadata: { name, namespace: f.ns, generation: 1 }, spec: { interval: '10m', ...spec } });
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['template', { chart: { spec: { chart: 'app', sourceRef: { kind: 'HelmRepository', name: 'charts', namespace: 'flux-system' } } } }, "can't access 'HelmRepository/flux-system/charts', cross-namespace references have been blocked"],
    ['chartref', { chartRef: { kind: 'OCIRepository', name: 'app', namespace: 'flux-system' } }, "can't access 'OCIRepository/flux-system/app', cross-namespace references have been blocked"],
  ];
  for (const [name, spec, message] of cases) {
    const key = { kind: 'HelmRelease', namespace: f.ns, name };
    await f.state.update<ObjectRecord>(key, () => ({ object: hr(name, spec) as ObjectRecord['object'], status: {} }));
    const rec = (await f.record('HelmRelease', name))!;
    const out = await helmReleaseKind.reconcile(f.svc, { key, record: rec, reason: 'test', log: log.child({ test: name }) });
    assert.equal(out.reason, 'AccessDenied', out.message);
    assert.equal(out.message, message);
    const after = await f.record('HelmRelease', name);
    assert.equal(getCondition(after, 'Stalled')?.status, 'True', name);
  }
  const charts = await f.state.list({ kind: 'HelmChart', namespace: 'flux-system' });
  assert.ok(!charts.some((k) => k.name === `${f.ns}-template`), 'no HelmChart generated in the other namespace');
});
