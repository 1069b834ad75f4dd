/**
 * The HelmRelease kind on the real helm binary and the harness kube-apiserver, with charts
 * made by `helm package` and served by a loopback chart repository: install, a no-op
 * that runs no helm command, an upgrade on a values change from a Secret whose value
 * never shows, `helm list` / `helm history` on our releases, uninstall on removal.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { helmDiffCmd } from '../../shared/cli/helm-diff.js';
import { configureLogging } from '../../shared/util/log.js';
import { getCondition } from '../../shared/state/records.js';
import { testEnv } from '../harness/index.js';
import { packageChart, serveChartRepo, tempDir, writeAppChart, type ChartRepoServer } from '../helm/helpers.js';
import { chartFrom, helmFixture, helmRelease, helmRepository } from './helm-fixture.js';

const run = promisify(execFile);
const CRD_GROUP = `w${Math.random().toString(36).slice(2, 8)}.fluxless.test`;
let repo: ChartRepoServer;
let helmBin = '';

before(async () => {
  helmBin = (await (await testEnv()).tools()).helm;
  const dir = await tempDir();
  const out = path.join(dir, 'repo');
  await mkdir(out);
  const secretTpl = 'apiVersion: v1\nkind: Secret\nmetadata:\n  name: {{ .Release.Name }}-creds\nstringData:\n  password: {{ .Values.password | default "none" | quote }}\n';
  await packageChart(await writeAppChart(path.join(dir, 'v1'), { version: '0.1.0', templates: { 'secret.yaml': secretTpl } }), out);
  await packageChart(await writeAppChart(path.join(dir, 'v2'), { version: '0.2.0', templates: { 'secret.yaml': secretTpl } }), out);
  // 0.3.0 renders, but the API server refuses its Service: the upgrade fails after helm stored the release.
  await packageChart(await writeAppChart(path.join(dir, 'v3'), { version: '0.3.0', values: 'badPort: 99999\n', templates: { 'secret.yaml': secretTpl, 'bad.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-bad\nspec:\n  ports:\n    - port: {{ .Values.badPort }}\n      protocol: TCP\n' } }), out);
  const probe = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-probe\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n    - name: probe\n      image: busybox\n';
  await packageChart(await writeAppChart(path.join(dir, 'probe'), { name: 'probe', version: '1.0.0', templates: { 'probe.yaml': probe } }), out);
  await packageChart(await writeAppChart(path.join(dir, 'bad'), { name: 'bad', version: '0.1.0', templates: { 'broken.yaml': '{{ required "set .Values.must" .Values.must }}\n' } }), out);
  const crd = (desc: string) =>
    `apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.${CRD_GROUP}\nspec:\n  group: ${CRD_GROUP}\n  names: {kind: Widget, plural: widgets, singular: widget}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n      schema:\n        openAPIV3Schema:\n          type: object\n          description: ${desc}\n          x-kubernetes-preserve-unknown-fields: true\n`;
  for (const [v, d] of [['1.0.0', 'first'], ['1.1.0', 'second']] as const) {
    await packageChart(await writeAppChart(path.join(dir, `crd-${v}`), { name: 'widgets', version: v, files: { 'crds/widgets.yaml': crd(d) } }), out);
  }
  repo = await serveChartRepo(out);
  await repo.reindex();
});

async function helm(kubeconfig: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(helmBin, [...args, '--kubeconfig', kubeconfig], { env: { ...process.env, HOME: '/tmp', HELM_CONFIG_HOME: '/tmp/fluxless-test-helm-cfg', HELM_CACHE_HOME: '/tmp/fluxless-test-helm-cache' } });
  return stdout;
}

describe('HelmRelease', () => {
  test('install, no-op without helm, upgrade on a Secret values change (the value never shows), helm list/history, uninstall on removal', async (t) => {
    const f = await helmFixture(t);
    const lines: string[] = [];
    configureLogging({ sink: (l) => lines.push(l) });
    t.after(() => configureLogging({ sink: (l) => process.stderr.write(l + '\n') }));
    await f.define(helmRepository('charts', repo.url));
    assert.equal((await f.once('HelmRepository', 'charts')).ready, true);
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.x'), install: { remediation: { retries: 1 } } }));
    const runs = await f.settle('HelmRelease', 'web');
    // The HelmRelease creates its HelmChart and reconciles it at once: one run installs.
    assert.deepEqual(runs.map((r) => r.key.kind), ['HelmRelease'], JSON.stringify(runs.map((r) => r.result)));
    let hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.status, 'True', getCondition(hr, 'Ready')?.message);
    assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallSucceeded');
    assert.equal(getCondition(hr, 'Released')?.message, `Helm install succeeded for release ${f.ns}/web.v1 with chart app@0.1.0`);
    assert.equal(hr.status.helmChart, `${f.ns}/${f.ns}-web`);
    assert.equal(hr.status.storageNamespace, f.ns);
    assert.equal(hr.status.lastAttemptedReleaseAction, 'install');
    const history = hr.status.history as unknown as Array<Record<string, unknown>>;
    assert.equal(history.length, 1);
    assert.equal(history[0].status, 'deployed');
    assert.equal(history[0].action, 'install');
    assert.equal(history[0].configDigest, hr.status.lastAttemptedConfigDigest);
    const inv = (hr.status.inventory as { entries: Array<{ id: string }> }).entries.map((e) => e.id);
    assert.deepEqual(inv, [`${f.ns}_web-creds__Secret`, `${f.ns}_web__Service`, `${f.ns}_web__ServiceAccount`, `${f.ns}_web_apps_Deployment`].sort());
    const chart = (await f.record('HelmChart', `${f.ns}-web`))!;
    assert.deepEqual(chart.origin, { by: 'HelmRelease', namespace: f.ns, name: 'web' });
    assert.equal(getCondition(chart, 'Ready')?.message, "pulled 'app' chart with version '0.1.0'");
    const deploy = await f.client.request<{ metadata: { labels: Record<string, string> } }>('GET', `/apis/apps/v1/namespaces/${f.ns}/deployments/web`);
    assert.equal(deploy.metadata.labels['helm.toolkit.fluxcd.io/name'], 'web');
    assert.equal(deploy.metadata.labels['helm.toolkit.fluxcd.io/namespace'], f.ns);
    const list = JSON.parse(await helm(f.kubeconfigPath, 'list', '-A', '-o', 'json')) as Array<{ name: string; namespace: string; status: string; chart: string }>;
    assert.ok(list.some((r) => r.name === 'web' && r.namespace === f.ns && r.status === 'deployed' && r.chart === 'app-0.1.0'));

    // No-op: nothing changed, so no helm command runs.
    const helmCalls = await f.countHelm();
    const noop = await f.once('HelmRelease', 'web');
    assert.equal(noop.ready, true);
    assert.deepEqual(helmCalls.calls, []);

    // Values from a Secret: an upgrade, revision 2; the value is in the cluster only.
    const secretValue = 'hunter2-' + Math.random().toString(36).slice(2);
    await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: { metadata: { name: 'web-values' }, stringData: { 'values.yaml': `password: ${secretValue}\n` } } });
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.x'), install: { remediation: { retries: 1 } }, valuesFrom: [{ kind: 'Secret', name: 'web-values' }] }));
    await f.settle('HelmRelease', 'web');
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'UpgradeSucceeded', getCondition(hr, 'Ready')?.message);
    assert.deepEqual(helmCalls.calls, ['upgrade']);
    const creds = await f.client.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${f.ns}/secrets/web-creds`);
    assert.equal(Buffer.from(creds.data.password, 'base64').toString(), secretValue);
    const hist = JSON.parse(await helm(f.kubeconfigPath, 'history', 'web', '-n', f.ns, '-o', 'json')) as Array<{ revision: number; status: string }>;
    assert.deepEqual(hist.map((h) => [h.revision, h.status]), [[1, 'superseded'], [2, 'deployed']]);
    assert.doesNotMatch(JSON.stringify(hr), new RegExp(secretValue));
    assert.doesNotMatch(lines.join('\n'), new RegExp(secretValue));

    // diff helmrelease: a new value in the values Secret shows as a drifted Secret, masked.
    const next = 'swordfish-' + Math.random().toString(36).slice(2);
    await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/secrets/web-values`, { body: { stringData: { 'values.yaml': `password: ${next}\n` } }, contentType: 'application/merge-patch+json' });
    const diff = await helmDiffCmd({ ...f.svc, queue: undefined as never }, f.ns, 'web');
    assert.equal(diff.code, 1);
    assert.match(diff.text, new RegExp(`► Secret/${f.ns}/web-creds drifted`));
    assert.doesNotMatch(diff.text, new RegExp(`${next}|${secretValue}`));
    assert.deepEqual(helmCalls.calls.filter((c) => c !== 'upgrade'), []);

    // Removed from Git: the release is uninstalled and the generated HelmChart removed.
    await f.remove('HelmRelease', 'web');
    await f.settle('HelmRelease', 'web');
    assert.equal(await f.record('HelmRelease', 'web'), undefined);
    assert.equal(await f.record('HelmChart', `${f.ns}-web`), undefined);
    const after = JSON.parse(await helm(f.kubeconfigPath, 'list', '-n', f.ns, '-o', 'json')) as unknown[];
    assert.deepEqual(after, []);
  });

  test('a failing upgrade is rolled back; with retries exhausted the release is Stalled and the last good one kept', async (t) => {
    const f = await helmFixture(t);
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    const spec = (version: string) => ({ chart: chartFrom('charts', 'app', version), timeout: '30s', upgrade: { remediation: { retries: 1 } } });
    await f.define(helmRelease('web', spec('0.1.0')));
    await f.settle('HelmRelease', 'web');
    assert.equal(getCondition(await f.record('HelmRelease', 'web'), 'Ready')?.status, 'True');
    await f.define(helmRelease('web', spec('0.3.0')));
    const runs = await f.settle('HelmRelease', 'web');
    const hr = (await f.record('HelmRelease', 'web'))!;
    const ready = getCondition(hr, 'Ready');
    assert.equal(ready?.status, 'False');
    assert.equal(ready?.reason, 'RollbackSucceeded', ready?.message);
    // The second rollback goes to the revision the first one made.
    assert.equal(getCondition(hr, 'Remediated')?.message, `Helm rollback to previous release ${f.ns}/web.v3 with chart app@0.1.0 succeeded`);
    assert.equal(getCondition(hr, 'Stalled')?.reason, 'RetriesExceeded');
    assert.equal(getCondition(hr, 'Stalled')?.message, 'Failed to upgrade after 2 attempt(s)');
    assert.equal(hr.status.upgradeFailures, 2);
    assert.match(getCondition(hr, 'Released')?.message ?? '', new RegExp(`^Helm upgrade failed for release ${f.ns}/web with chart app@0.3.0: .*99999`));
    // Two upgrades, each rolled back; the first rollback requeued the release.
    assert.equal(runs.filter((r) => r.key.kind === 'HelmRelease').length, 2);
    const hist = JSON.parse(await helm(f.kubeconfigPath, 'history', 'web', '-n', f.ns, '-o', 'json')) as Array<{ revision: number; status: string; chart: string }>;
    assert.deepEqual(hist.map((h) => [h.status, h.chart]), [['superseded', 'app-0.1.0'], ['failed', 'app-0.3.0'], ['superseded', 'app-0.1.0'], ['failed', 'app-0.3.0'], ['deployed', 'app-0.1.0']]);
    const events = (hr.events ?? []).map((e) => e.reason);
    assert.deepEqual(events.filter((r) => r !== 'InstallSucceeded'), ['UpgradeFailed', 'RollbackSucceeded', 'UpgradeFailed', 'RollbackSucceeded']);
    // Stalled: another reconcile runs no helm command.
    const calls = await f.countHelm();
    await f.once('HelmRelease', 'web');
    assert.deepEqual(calls.calls, []);
  });

  test('a failing test hook fails TestSuccess and, with no install retries, stalls the release', async (t) => {
    const f = await helmFixture(t);
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('probe', { chart: chartFrom('charts', 'probe'), test: { enable: true, timeout: '2m' } }));
    const settling = f.settle('HelmRelease', 'probe');
    // No kubelet runs the test Pod: it is failed through the status subresource once helm made it.
    let patched = false;
    for (let i = 0; i < 600 && !patched; i++) {
      const pod = await f.client.request('GET', `/api/v1/namespaces/${f.ns}/pods/probe-probe`).catch(() => undefined);
      if (pod) {
        await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/pods/probe-probe/status`, { body: { status: { phase: 'Failed' } }, contentType: 'application/merge-patch+json' });
        patched = true;
      } else await new Promise((r) => setTimeout(r, 100));
    }
    await settling;
    const hr = (await f.record('HelmRelease', 'probe'))!;
    assert.equal(getCondition(hr, 'Released')?.reason, 'InstallSucceeded');
    assert.equal(getCondition(hr, 'TestSuccess')?.status, 'False');
    assert.match(getCondition(hr, 'TestSuccess')?.message ?? '', new RegExp(`^Helm test failed for release ${f.ns}/probe.v1 with chart probe@1.0.0: `));
    assert.equal(getCondition(hr, 'Ready')?.reason, 'TestFailed');
    assert.equal(getCondition(hr, 'Stalled')?.message, 'Failed to install after 1 attempt(s)');
    const snap = (hr.status.history as unknown as Array<{ testHooks?: Record<string, { phase?: string }> }>)[0];
    assert.equal(snap.testHooks?.['probe-probe']?.phase, 'Failed');
    assert.equal(hr.status.installFailures, 1);
  });

  test('CRDs: Create on install, kept on upgrade by default, replaced with CreateReplace', async (t) => {
    const f = await helmFixture(t);
    const crdPath = `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets.${CRD_GROUP}`;
    t.after(() => f.client.request('DELETE', crdPath).catch(() => undefined));
    const description = async () => (await f.client.request<{ spec: { versions: Array<{ schema: { openAPIV3Schema: { description: string } } }> } }>('GET', crdPath)).spec.versions[0].schema.openAPIV3Schema.description;
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('w', { chart: chartFrom('charts', 'widgets', '1.0.0') }));
    await f.settle('HelmRelease', 'w');
    let hr = (await f.record('HelmRelease', 'w'))!;
    assert.equal(getCondition(hr, 'Ready')?.status, 'True', getCondition(hr, 'Ready')?.message);
    assert.equal(await description(), 'first');
    const crd = await f.client.request<{ metadata: { labels: Record<string, string> } }>('GET', crdPath);
    assert.equal(crd.metadata.labels['helm.toolkit.fluxcd.io/name'], 'w');
    assert.ok((hr.status.inventory as { entries: Array<{ id: string }> }).entries.some((e) => e.id === `_widgets.${CRD_GROUP}_apiextensions.k8s.io_CustomResourceDefinition`));
    await f.define(helmRelease('w', { chart: chartFrom('charts', 'widgets', '1.1.0') }));
    await f.settle('HelmRelease', 'w');
    assert.equal(getCondition(await f.record('HelmRelease', 'w'), 'Ready')?.reason, 'UpgradeSucceeded');
    assert.equal(await description(), 'first');
    await f.define(helmRelease('w', { chart: chartFrom('charts', 'widgets', '1.1.0'), upgrade: { crds: 'CreateReplace' }, install: { crds: 'CreateReplace' } }));
    await f.settle('HelmRelease', 'w');
    hr = (await f.record('HelmRelease', 'w'))!;
    // A new generation with the same chart and values is in sync: CRDs are applied with the next release action.
    await f.define(helmRelease('w', { chart: chartFrom('charts', 'widgets', '1.1.0'), upgrade: { crds: 'CreateReplace' }, values: { replicaCount: 0, bump: 1 } }));
    await f.settle('HelmRelease', 'w');
    assert.equal(await description(), 'second');
  });

  test('drift made with kubectl: corrected under enabled without a new revision, only reported under warn', async (t) => {
    const f = await helmFixture(t);
    const { kubectl } = await (await testEnv()).tools();
    const replicas = async () => (await f.client.request<{ spec: { replicas: number } }>('GET', `/apis/apps/v1/namespaces/${f.ns}/deployments/web`)).spec.replicas;
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), driftDetection: { mode: 'enabled' } }));
    await f.settle('HelmRelease', 'web');
    let hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Drifted')?.reason, 'NoDriftDetected', JSON.stringify(hr.status.conditions));
    await run(kubectl, ['--kubeconfig', f.kubeconfigPath, 'scale', 'deployment/web', '-n', f.ns, '--replicas=2']);
    assert.equal(await replicas(), 2);
    await f.once('HelmRelease', 'web');
    assert.equal(await replicas(), 0);
    hr = (await f.record('HelmRelease', 'web'))!;
    const reasons = (hr.events ?? []).map((e) => e.reason);
    assert.ok(reasons.includes('DriftDetected') && reasons.includes('DriftCorrected'), reasons.join());
    const detected = hr.events!.find((e) => e.reason === 'DriftDetected')!;
    assert.match(detected.message, new RegExp(`^Cluster state of release ${f.ns}/web.v1 has drifted from the desired state:\nDeployment/${f.ns}/web changed \\(0 additions, 1 changes, 0 removals\\)`));
    assert.equal(getCondition(hr, 'Drifted')?.status, 'False');
    assert.equal((JSON.parse(await helm(f.kubeconfigPath, 'history', 'web', '-n', f.ns, '-o', 'json')) as unknown[]).length, 1);

    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), driftDetection: { mode: 'warn' } }));
    await f.settle('HelmRelease', 'web');
    await run(kubectl, ['--kubeconfig', f.kubeconfigPath, 'scale', 'deployment/web', '-n', f.ns, '--replicas=3']);
    await f.once('HelmRelease', 'web');
    assert.equal(await replicas(), 3);
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Drifted')?.status, 'True');
    assert.equal(getCondition(hr, 'Ready')?.status, 'True');
    // ignore rules: the replicas path ignored is no drift.
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), driftDetection: { mode: 'warn', ignore: [{ paths: ['/spec/replicas'], target: { kind: 'Deployment' } }] } }));
    await f.settle('HelmRelease', 'web');
    assert.equal(getCondition(await f.record('HelmRelease', 'web'), 'Drifted')?.status, 'False');
  });

  test('bad input: Ready=False with Flux reasons naming the object and field; nothing installed, the last good release kept', async (t) => {
    const f = await helmFixture(t);
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    // A chart that does not render: nothing is stored, no failure counted for remediation.
    await f.define(helmRelease('bad', { chart: chartFrom('charts', 'bad') }));
    await f.settle('HelmRelease', 'bad');
    let hr = (await f.record('HelmRelease', 'bad'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallFailed');
    assert.match(getCondition(hr, 'Ready')?.message ?? '', new RegExp(`^Helm install failed for release ${f.ns}/bad with chart bad@0.1.0: .*bad/templates/broken.yaml.*set .Values.must`));
    assert.equal(hr.status.installFailures, undefined);
    assert.equal(hr.status.failures, 1);
    assert.deepEqual(JSON.parse(await helm(f.kubeconfigPath, 'list', '-n', f.ns, '--failed', '--pending', '-o', 'json')), []);

    // A good release, then values that are not YAML and a missing valuesFrom object.
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0') }));
    await f.settle('HelmRelease', 'web');
    assert.equal(getCondition(await f.record('HelmRelease', 'web'), 'Ready')?.status, 'True');
    await f.client.request('POST', `/api/v1/namespaces/${f.ns}/configmaps`, { body: { metadata: { name: 'not-yaml' }, data: { 'values.yaml': 'a: b: c\n' } } });
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), valuesFrom: [{ kind: 'ConfigMap', name: 'not-yaml' }] }));
    await f.settle('HelmRelease', 'web');
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'ValuesError');
    assert.match(getCondition(hr, 'Ready')?.message ?? '', new RegExp(`^could not resolve ConfigMap chart values reference '${f.ns}/not-yaml' with key 'values.yaml': `));
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), valuesFrom: [{ kind: 'Secret', name: 'nope', valuesKey: 'v.yaml' }] }));
    await f.settle('HelmRelease', 'web');
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.message, `could not resolve Secret chart values reference '${f.ns}/nope' with key 'v.yaml': secrets "nope" not found`);
    // An unknown chart version: the HelmChart stalls, the release waits on it.
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '9.9.9') }));
    await f.settle('HelmRelease', 'web');
    const chart = (await f.record('HelmChart', `${f.ns}-web`))!;
    assert.equal(getCondition(chart, 'Ready')?.reason, 'InvalidChartReference');
    assert.equal(getCondition(chart, 'Stalled')?.status, 'True');
    assert.equal(getCondition(chart, 'Ready')?.message, "invalid chart reference: failed to get chart version for remote reference: no 'app' chart with version matching '9.9.9' found");
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'SourceNotReady');
    assert.equal(getCondition(hr, 'Ready')?.message, `HelmChart '${f.ns}/${f.ns}-web' is not ready: ${getCondition(chart, 'Ready')?.message}`);
    // An unreachable repository.
    await f.define(helmRepository('gone', 'http://127.0.0.1:1/charts'));
    await f.once('HelmRepository', 'gone');
    const gone = (await f.record('HelmRepository', 'gone'))!;
    assert.equal(getCondition(gone, 'Ready')?.reason, 'Failed');
    assert.match(getCondition(gone, 'Ready')?.message ?? '', /^failed to fetch Helm repository index: .*http:\/\/127\.0\.0\.1:1\/charts\/index\.yaml.*connection refused/);
    await f.define(helmRelease('other', { chart: chartFrom('gone', 'app') }));
    await f.settle('HelmRelease', 'other');
    assert.equal(getCondition(await f.record('HelmChart', `${f.ns}-other`), 'Ready')?.message, "no artifact available for HelmRepository source 'gone'");
    assert.equal(getCondition(await f.record('HelmRelease', 'other'), 'Ready')?.reason, 'SourceNotReady');
    // Through all of it, the good release is the one deployed.
    const hist = JSON.parse(await helm(f.kubeconfigPath, 'history', 'web', '-n', f.ns, '-o', 'json')) as Array<{ status: string }>;
    assert.deepEqual(hist.map((h) => h.status), ['deployed']);
  });
});
