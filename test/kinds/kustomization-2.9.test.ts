/**
 * Flux 2.9 Kustomization fields against the real API server (the reconcile fixture runs
 * the Kustomization kind directly): healthCheckExprs on a custom resource whose status the
 * test writes through the status subresource, dependsOn readyExpr, spec.ignore with
 * fields another manager owns, strict substitution and substituteStrategy,
 * ignoreMissingComponents, deletionPolicy WaitForTermination, the config watch label,
 * status.history, and CEL errors that stall the object before anything is applied.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { KustomizationGates } from '../../shared/kinds/kustomization/gates.js';
import { watchedConfigWakes } from '../../shared/kinds/kustomization/watch.js';
import type { KubeObject } from '../../shared/kube/object.js';
import type { ReconcileSettings } from '../../shared/reconcile/contract.js';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { cm, fixture, kustomization, rev, type Fixture } from '../reconcile/helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function gates(f: Fixture): ReconcileSettings & KustomizationGates {
  return f.svc.settings as ReconcileSettings & KustomizationGates;
}

/** A namespaced CRD with a status subresource in a group unique to the test, deleted afterwards. */
async function widgetCrd(t: TestContext, f: Fixture, kind: string): Promise<string> {
  const group = `${f.ns}.fluxless.test`;
  const plural = `${kind.toLowerCase()}s`;
  const name = `${plural}.${group}`;
  await f.client.request('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', {
    body: {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name },
      spec: {
        group,
        scope: 'Namespaced',
        names: { plural, singular: kind.toLowerCase(), kind, listKind: `${kind}List` },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true }, status: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } } } },
          },
        ],
      },
    },
  });
  t.after(() => f.client.request('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`).catch(() => undefined));
  await until(`CRD ${name} established`, async () => {
    const crd = await f.client.request<{ status?: { conditions?: Array<{ type: string; status: string }> } }>('GET', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`);
    return crd.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True');
  });
  return group;
}

async function setStatus(f: Fixture, group: string, plural: string, name: string, status: Record<string, unknown>): Promise<void> {
  await f.client.request('PATCH', `/apis/${group}/v1/namespaces/${f.ns}/${plural}/${name}/status`, { body: { status }, contentType: 'application/merge-patch+json' });
}

const customResource = (group: string, kind: string, name: string) => `apiVersion: ${group}/v1\nkind: ${kind}\nmetadata:\n  name: ${name}\nspec:\n  size: 1\n`;

function deployment(name: string, image: string, replicas = 1): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    `  replicas: ${replicas}`,
    `  selector: {matchLabels: {app: ${name}}}`,
    '  template:',
    `    metadata: {labels: {app: ${name}}}`,
    `    spec: {containers: [{name: main, image: "${image}"}]}`,
    '',
  ].join('\n');
}

test('healthCheckExprs decide Ready and Failed for custom resources (kind entry beats the group entry, empty kind covers the group)', async (t) => {
  const f = await fixture(t);
  const group = await widgetCrd(t, f, 'Widget');
  await widgetCrd(t, f, 'Gadget');
  await f.publish({ 'w.yaml': customResource(group, 'Widget', 'w'), 'g.yaml': customResource(group, 'Gadget', 'g') }, rev(1));
  await f.define(
    kustomization(f.ns, 'apps', {
      targetNamespace: f.ns,
      wait: true,
      timeout: '60s',
      healthCheckExprs: [
        { apiVersion: `${group}/v1`, current: 'status.ok == true' },
        { apiVersion: `${group}/v1`, kind: 'Widget', current: "status.phase == 'Ready'", failed: "status.phase == 'Failed'" },
      ],
    }),
  );
  let settled = false;
  const pending = f.reconcile('apps').finally(() => (settled = true));
  await until('the Widget and Gadget applied', async () => (await f.get(`${group}/v1`, 'Widget', 'w')) && (await f.get(`${group}/v1`, 'Gadget', 'g')));
  // Without a status the expressions cannot be evaluated: the health check keeps waiting.
  await setStatus(f, group, 'gadgets', 'g', { ok: true });
  await setStatus(f, group, 'widgets', 'w', { phase: 'Pending' });
  await sleep(600);
  assert.equal(settled, false, 'Pending is neither Current nor Failed');
  await setStatus(f, group, 'widgets', 'w', { phase: 'Ready' });
  const out = await pending;
  assert.equal(out.ready, true, out.message);
  const rec = await f.record('Kustomization', 'apps');
  assert.equal(getCondition(rec, 'Healthy')?.status, 'True');

  // Failed per the expression: the next reconcile fails fast.
  await setStatus(f, group, 'widgets', 'w', { phase: 'Failed' });
  const failed = await f.reconcile('apps');
  assert.equal(failed.reason, 'HealthCheckFailed');
  assert.match(failed.message, new RegExp(`^health check failed after .*: failed early due to stalled resources: \\[Widget/${f.ns}/w status: 'Failed'\\]$`));
  assert.equal(getCondition(await f.record('Kustomization', 'apps'), 'Healthy')?.status, 'False');
});

test('healthCheckExprs: an observedGeneration behind metadata.generation is InProgress whatever the expressions say', async (t) => {
  const f = await fixture(t);
  const group = await widgetCrd(t, f, 'Widget');
  await f.publish({ 'w.yaml': customResource(group, 'Widget', 'w') }, rev(1));
  await f.define(
    kustomization(f.ns, 'apps', {
      targetNamespace: f.ns,
      timeout: '3s',
      healthChecks: [{ apiVersion: `${group}/v1`, kind: 'Widget', name: 'w', namespace: f.ns }],
      healthCheckExprs: [{ apiVersion: `${group}/v1`, kind: 'Widget', current: "status.phase == 'Ready'" }],
    }),
  );
  const pending = f.reconcile('apps');
  await until('the Widget applied', () => f.get(`${group}/v1`, 'Widget', 'w'));
  await setStatus(f, group, 'widgets', 'w', { phase: 'Ready', observedGeneration: 0 });
  const out = await pending;
  assert.equal(out.reason, 'HealthCheckFailed');
  assert.match(out.message, new RegExp(`timeout waiting for: \\[Widget/${f.ns}/w status: 'InProgress'\\]`));
});

test('readyExpr replaces the built-in dependency check (AdditiveCELDependencyCheck adds it back); self and dep are the Flux objects', async (t) => {
  const f = await fixture(t);
  const broken = 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: many\n';
  await f.publish({ 'infra/a.yaml': cm('infra', { v: '1' }), 'infra/bad.yaml': broken, 'apps/a.yaml': cm('app-a', { v: '1' }), 'apps2/b.yaml': cm('app-b', { v: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'infra', { path: './infra', targetNamespace: f.ns }));
  assert.equal((await f.reconcile('infra')).reason, 'ReconciliationFailed');

  await f.define(
    kustomization(f.ns, 'apps', {
      path: './apps',
      targetNamespace: f.ns,
      dependsOn: [{ name: 'infra', readyExpr: "dep.status.conditions.exists(c, c.type == 'Ready' && c.status == 'True')" }],
    }),
  );
  const gated = await f.reconcile('apps');
  assert.equal(gated.reason, 'DependencyNotReady');
  assert.equal(gated.message, `dependency '${f.ns}/infra' is not ready according to readyExpr eval`);
  assert.equal(await f.get('v1', 'ConfigMap', 'app-a'), undefined);

  // An expression that holds lets the dependent through although infra is not Ready.
  await f.define(
    kustomization(f.ns, 'apps2', {
      path: './apps2',
      targetNamespace: f.ns,
      dependsOn: [{ name: 'infra', readyExpr: `dep.status.lastAttemptedRevision == '${rev(1)}' && self.metadata.name == 'apps2'` }],
    }),
  );
  const through = await f.reconcile('apps2');
  assert.equal(through.ready, true, through.message);
  gates(f).additiveCELDependencyCheck = true;
  const additive = await f.reconcile('apps2');
  assert.equal(additive.reason, 'DependencyNotReady');
  assert.equal(additive.message, `dependency '${f.ns}/infra' is not ready`);
  gates(f).additiveCELDependencyCheck = undefined;

  // infra fixed: the readyExpr holds, apps proceeds.
  await f.publish({ 'infra/a.yaml': cm('infra', { v: '1' }), 'apps/a.yaml': cm('app-a', { v: '1' }), 'apps2/b.yaml': cm('app-b', { v: '1' }) }, rev(2));
  assert.equal((await f.reconcile('infra')).ready, true);
  const now = await f.reconcile('apps');
  assert.equal(now.ready, true, now.message);
  assert.ok(await f.get('v1', 'ConfigMap', 'app-a'));
});

test('a bad CEL expression stalls the Kustomization with the field, the expression and its position; nothing is applied', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('never', { v: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'dep', { targetNamespace: f.ns }));
  await f.define(kustomization(f.ns, 'bad-ready', { targetNamespace: f.ns, dependsOn: [{ name: 'dep', readyExpr: 'dep.status.(' }] }));
  const out = await f.reconcile('bad-ready');
  assert.equal(out.reason, 'InvalidCELExpression');
  assert.match(out.message, /^Reconciliation failed terminally due to configuration error: Kustomization [^:]+\/bad-ready: spec\.dependsOn\[0\]\.readyExpr: invalid CEL expression "dep\.status\.\(" at 1:\d+: /);
  const rec = await f.record('Kustomization', 'bad-ready');
  assert.equal(getCondition(rec, 'Stalled')?.reason, 'InvalidCELExpression');

  await f.define(
    kustomization(f.ns, 'bad-health', { targetNamespace: f.ns, wait: true, healthCheckExprs: [{ apiVersion: 'apps/v1', kind: 'Deployment', current: "status.readyReplicas ==" }] }),
  );
  const health = await f.reconcile('bad-health');
  assert.equal(health.reason, 'InvalidCELExpression');
  assert.match(health.message, /spec\.healthCheckExprs\[0\]\.current: invalid CEL expression "status\.readyReplicas ==" at 1:\d+/);
  await f.define(
    kustomization(f.ns, 'dup-health', {
      targetNamespace: f.ns,
      wait: true,
      healthCheckExprs: [
        { apiVersion: 'apps/v1', kind: 'Deployment', current: 'true' },
        { apiVersion: 'apps/v2', kind: 'Deployment', current: 'true' },
      ],
    }),
  );
  assert.match((await f.reconcile('dup-health')).message, /spec\.healthCheckExprs\[1\]: duplicate custom health check for Deployment\.apps/);
  assert.equal(await f.get('v1', 'ConfigMap', 'never'), undefined, 'nothing applied');

  // A Kustomization that went bad is still pruned when it is deleted (Flux finalizes before compiling CEL).
  await f.publish({ 'a.yaml': cm('kept', { v: '1' }) }, rev(2));
  await f.define(kustomization(f.ns, 'was-good', { targetNamespace: f.ns }));
  assert.equal((await f.reconcile('was-good')).ready, true);
  await f.define({ ...kustomization(f.ns, 'was-good', { targetNamespace: f.ns, wait: true, healthCheckExprs: [{ apiVersion: 'v1', kind: 'ConfigMap', current: '(' }] }), metadata: { name: 'was-good', namespace: f.ns, generation: 2 } });
  assert.equal((await f.reconcile('was-good')).reason, 'InvalidCELExpression');
  assert.ok(await f.get('v1', 'ConfigMap', 'kept'), 'a stalled Kustomization leaves the cluster as it was');
  await f.state.update<ObjectRecord>({ kind: 'Kustomization', namespace: f.ns, name: 'was-good' }, (cur) => (cur ? { ...cur, deleted: true } : undefined));
  assert.equal((await f.reconcile('was-good')).reason, 'Finalized');
  assert.equal(await f.get('v1', 'ConfigMap', 'kept'), undefined, 'pruned on deletion');

  // Every 2.9 field is supported or refused by name.
  await f.define(kustomization(f.ns, 'meta', { targetNamespace: f.ns, buildMetadata: ['originAnnotations'] }));
  assert.match((await f.reconcile('meta')).message, /spec\.buildMetadata: .*not supported yet/);
  await f.define(kustomization(f.ns, 'ign', { targetNamespace: f.ns, ignore: [{ paths: ['spec/replicas'] }] }));
  const ign = await f.reconcile('ign');
  assert.equal(ign.reason, 'InvalidSpec');
  assert.match(ign.message, /spec\.ignore\[0\]\.paths\[0\]: 'spec\/replicas' is not a JSON pointer/);
});

test('spec.ignore: a field another manager owns survives a drift check (no write) and a new revision; others are corrected', async (t) => {
  const f = await fixture(t);
  const files = (image: string) => ({ 'web.yaml': deployment('web', image), 'api.yaml': deployment('api', image), 'other.yaml': deployment('other', image) });
  await f.publish(files('nginx:1'), rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns, ignore: [{ paths: ['/spec/replicas'], target: { kind: 'Deployment', name: 'web|api' } }] }));
  assert.equal((await f.reconcile('apps')).ready, true);
  type Deploy = KubeObject & { spec: { replicas: number; template: { spec: { containers: Array<{ image: string }> } } } };
  const live = async (name: string) => (await f.get('apps/v1', 'Deployment', name)) as Deploy;
  assert.equal((await live('web')).spec.replicas, 1, 'created with the replicas from Git');

  // An HPA-like controller server-side applies spec.replicas on web and other.
  for (const name of ['web', 'other']) {
    await f.client.request('PATCH', `/apis/apps/v1/namespaces/${f.ns}/deployments/${name}`, {
      query: { fieldManager: 'hpa-like', force: true },
      body: { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: f.ns }, spec: { replicas: 3 } },
      contentType: 'application/apply-patch+yaml',
    });
  }
  // A scale-subresource update (Update operation) on api.
  await f.client.request('PATCH', `/apis/apps/v1/namespaces/${f.ns}/deployments/api/scale`, {
    query: { fieldManager: 'autoscaler' },
    body: { spec: { replicas: 5 } },
    contentType: 'application/merge-patch+json',
  });
  const appliedAt = (o: Deploy) => (o.metadata.managedFields ?? []).find((m) => m.manager === 'fluxless' && !m.subresource)?.time;
  const webApplied = appliedAt(await live('web'));

  // Drift check at the same revision: web and api untouched (no write), other corrected.
  const drift = await f.reconcile('apps');
  assert.equal(drift.ready, true, drift.message);
  const rec = await f.record('Kustomization', 'apps');
  assert.equal(rec?.events?.at(-1)?.message, `Deployment/${f.ns}/other configured`, 'only other was written');
  assert.equal(rec?.status.history?.[0].metadata?.configured, '1');
  assert.equal((await live('web')).spec.replicas, 3);
  assert.equal(appliedAt(await live('web')), webApplied, 'no apply for a change only in ignored paths');
  assert.equal((await live('api')).spec.replicas, 5);
  assert.equal((await live('other')).spec.replicas, 1, 'no ignore rule for other: reverted');

  // A new revision changes the image: web and api are applied, their replicas left alone.
  await f.publish(files('nginx:2'), rev(2));
  const next = await f.reconcile('apps');
  assert.equal(next.ready, true, next.message);
  const web = await live('web');
  assert.equal(web.spec.template.spec.containers[0].image, 'nginx:2');
  assert.equal(web.spec.replicas, 3);
  const owners = (o: Deploy) =>
    (o.metadata.managedFields ?? [])
      .filter((m) => !m.subresource && (m.fieldsV1 as { 'f:spec'?: Record<string, unknown> } | undefined)?.['f:spec']?.['f:replicas'] !== undefined)
      .map((m) => m.manager)
      .sort();
  assert.deepEqual(owners(web), ['hpa-like'], 'the other Apply owner keeps spec.replicas; Fluxless let go');
  const api = await live('api');
  assert.equal(api.spec.template.spec.containers[0].image, 'nginx:2');
  assert.equal(api.spec.replicas, 5, 'sole Apply owner: the live value is adopted');
  assert.deepEqual(owners(api), ['fluxless']);
  assert.equal((await live('other')).spec.template.spec.containers[0].image, 'nginx:2');
});

test('postBuild: strict substitution names the missing variable; the gate opts out; substituteStrategy Always', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('a', { name: '${name}', other: '${missing}', d: '${dflt:=fallback}' }) }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns, postBuild: { substitute: { name: 'x' } } }));
  const out = await f.reconcile('apps');
  assert.equal(out.reason, 'BuildFailed');
  assert.match(out.message, new RegExp(`post build failed for 'ConfigMap/${f.ns}/a': envsubst error: variable substitution failed: variable not set \\(strict mode\\): "missing"`));
  assert.equal(await f.get('v1', 'ConfigMap', 'a'), undefined);

  gates(f).strictPostBuildSubstitutions = false;
  const lax = await f.reconcile('apps');
  assert.equal(lax.ready, true, lax.message);
  assert.deepEqual((await f.get('v1', 'ConfigMap', 'a'))?.data, { name: 'x', other: '', d: 'fallback' });
  gates(f).strictPostBuildSubstitutions = undefined;

  // No variables at all: WithVariables (default) leaves the text alone, Always substitutes.
  await f.publish({ 'b.yaml': cm('b', { d: '${dflt:=fallback}' }) }, rev(2));
  await f.define(kustomization(f.ns, 'plain', { targetNamespace: f.ns, postBuild: { substitute: {} } }));
  assert.equal((await f.reconcile('plain')).ready, true);
  assert.deepEqual((await f.get('v1', 'ConfigMap', 'b'))?.data, { d: '${dflt:=fallback}' });
  await f.define({ ...kustomization(f.ns, 'plain', { targetNamespace: f.ns, postBuild: { substituteStrategy: 'Always' } }), metadata: { name: 'plain', namespace: f.ns, generation: 2 } });
  assert.equal((await f.reconcile('plain')).ready, true);
  assert.deepEqual((await f.get('v1', 'ConfigMap', 'b'))?.data, { d: 'fallback' });
  await f.define(kustomization(f.ns, 'odd', { targetNamespace: f.ns, postBuild: { substituteStrategy: 'Sometimes' } }));
  assert.match((await f.reconcile('odd')).message, /spec\.postBuild\.substituteStrategy: 'Sometimes' must be WithVariables or Always/);
});

test('ignoreMissingComponents drops components that do not exist; without it the build names the missing one', async (t) => {
  const f = await fixture(t);
  await f.publish(
    {
      'app/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [a.yaml]\n',
      'app/a.yaml': cm('a', { v: '1' }),
      'app/components/label/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nlabels:\n  - pairs: {tier: web}\n',
    },
    rev(1),
  );
  await f.define(kustomization(f.ns, 'strict', { path: './app', targetNamespace: f.ns, components: ['./components/label', './components/missing'] }));
  const out = await f.reconcile('strict');
  assert.equal(out.reason, 'BuildFailed');
  assert.match(out.message, /components\/missing/);
  await f.define(kustomization(f.ns, 'lenient', { path: './app', targetNamespace: f.ns, components: ['./components/label', './components/missing'], ignoreMissingComponents: true }));
  const ok = await f.reconcile('lenient');
  assert.equal(ok.ready, true, ok.message);
  assert.equal((await f.get('v1', 'ConfigMap', 'a'))?.metadata.labels?.tier, 'web');
});

test('deletionPolicy WaitForTermination: finalize returns only once the deleted objects are gone', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('held', { v: '1' }, '  finalizers: ["fluxless.test/hold"]') }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns, deletionPolicy: 'WaitForTermination', timeout: '60s' }));
  assert.equal((await f.reconcile('apps')).ready, true);
  await f.state.update<ObjectRecord>({ kind: 'Kustomization', namespace: f.ns, name: 'apps' }, (cur) => (cur ? { ...cur, deleted: true } : undefined));
  const order: string[] = [];
  const fin = f.reconcile('apps').then((r) => {
    order.push('finalized');
    return r;
  });
  await until('the object terminating', async () => (await f.get('v1', 'ConfigMap', 'held'))?.metadata.deletionTimestamp);
  order.push('terminating');
  await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/configmaps/held`, { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' });
  order.push('finalizer removed');
  const res = await fin;
  assert.equal(res.reason, 'Finalized');
  assert.deepEqual(order, ['terminating', 'finalizer removed', 'finalized']);
  assert.equal(await f.get('v1', 'ConfigMap', 'held'), undefined);
  assert.equal(await f.record('Kustomization', 'apps'), undefined);
});

test('the watch label: a change to a labelled substituteFrom ConfigMap wakes its Kustomization on the next tick; unlabelled ones wait for the interval', async (t) => {
  const f = await fixture(t);
  const mk = (name: string, v: string, watched: boolean) =>
    f.client.request('POST', `/api/v1/namespaces/${f.ns}/configmaps`, {
      body: { metadata: { name, ...(watched ? { labels: { 'reconcile.fluxcd.io/watch': 'Enabled' } } : {}) }, data: { v } },
    });
  await mk('watched', 'one', true);
  await mk('plain', 'one', false);
  await f.publish({ 'a.yaml': cm('out', { w: '${v}' }) }, rev(1));
  await f.define(kustomization(f.ns, 'w', { targetNamespace: f.ns, postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'watched' }, { kind: 'ConfigMap', name: 'later', optional: true }] } }));
  await f.define(kustomization(f.ns, 'p', { targetNamespace: f.ns, postBuild: { substituteFrom: [{ kind: 'ConfigMap', name: 'plain' }] } }));
  assert.equal((await f.reconcile('w')).ready, true);
  assert.equal((await f.reconcile('p')).ready, true);
  const mine = async () => (await watchedConfigWakes(f.svc)).filter((w) => w.key.namespace === f.ns);
  assert.deepEqual(await mine(), [], 'nothing changed');

  await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/configmaps/watched`, { body: { data: { v: 'two' } }, contentType: 'application/merge-patch+json' });
  await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/configmaps/plain`, { body: { data: { v: 'two' } }, contentType: 'application/merge-patch+json' });
  const woken = await mine();
  assert.deepEqual(woken.map((w) => w.key.name), ['w']);
  assert.equal(woken[0].reason, 'config');
  assert.equal((await f.reconcile('w')).ready, true);
  assert.equal(((await f.get('v1', 'ConfigMap', 'out'))?.data as { w?: string } | undefined)?.w, 'two');
  assert.deepEqual(await mine(), [], 'the reconcile recorded the new version');

  // An optional object created later with the label wakes it too.
  await mk('later', 'three', true);
  assert.deepEqual((await mine()).map((w) => w.key.name), ['w']);
});

test('status.history: Flux snapshots (digest of the build, revision metadata); failures before the build add none', async (t) => {
  const f = await fixture(t);
  await f.publish({ 'a.yaml': cm('a', { v: '1' }) }, rev(1));
  await f.define(kustomization(f.ns, 'apps', { targetNamespace: f.ns }));
  await f.reconcile('apps');
  await f.reconcile('apps');
  let h = (await f.record('Kustomization', 'apps'))?.status.history ?? [];
  assert.equal(h.length, 1);
  assert.match(h[0].digest, /^sha256:[0-9a-f]{64}$/);
  assert.equal(h[0].lastReconciledStatus, 'ReconciliationSucceeded');
  assert.equal(h[0].totalReconciliations, 2);
  assert.equal(h[0].metadata?.revision, rev(1));
  assert.match(h[0].lastReconciledDuration, /^\d+(\.\d+)?(ms|s|m)/);
  // A new revision with the same build is the same snapshot; a different build a new one.
  await f.publish({ 'a.yaml': cm('a', { v: '1' }), 'README.md': 'docs' }, rev(2));
  await f.reconcile('apps');
  h = (await f.record('Kustomization', 'apps'))?.status.history ?? [];
  assert.equal(h.length, 1);
  assert.equal(h[0].metadata?.revision, rev(2));
  await f.publish({ 'a.yaml': cm('a', { v: '2' }) }, rev(3));
  await f.reconcile('apps');
  h = (await f.record('Kustomization', 'apps'))?.status.history ?? [];
  assert.equal(h.length, 2);
  assert.equal(h[0].metadata?.revision, rev(3));
  // A build failure adds no snapshot.
  await f.publish({ 'a.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: [oops\n' }, rev(4));
  assert.equal((await f.reconcile('apps')).reason, 'BuildFailed');
  assert.equal((await f.record('Kustomization', 'apps'))?.status.history?.length, 2);
});
