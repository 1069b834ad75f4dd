/**
 * More of the HelmRelease state machine on the real helm binary and kube-apiserver: the
 * RetryOnFailure strategy (retried by upgrade after its interval, never uninstalled),
 * a pending release unlocked, a release target change (uninstall, then install under the
 * new name), dependsOn between HelmReleases (the dependency wakes its dependent), and the
 * poller wait: a Deployment that never becomes available fails the release (marked failed
 * in Helm's storage) unless a healthCheckExprs entry says it is healthy.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { encodeReleasePayload, listReleases } from '../../shared/helm/storage.js';
import { getCondition } from '../../shared/state/records.js';
import { testEnv } from '../harness/index.js';
import { packageChart, serveChartRepo, tempDir, writeAppChart, type ChartRepoServer } from '../helm/helpers.js';
import { chartFrom, helmFixture, helmRelease, helmRepository } from './helm-fixture.js';

const run = promisify(execFile);
let repo: ChartRepoServer;
let helmBin = '';

before(async () => {
  helmBin = (await (await testEnv()).tools()).helm;
  const dir = await tempDir();
  const out = path.join(dir, 'repo');
  await mkdir(out);
  await packageChart(await writeAppChart(path.join(dir, 'v1'), { version: '0.1.0' }), out);
  await packageChart(await writeAppChart(path.join(dir, 'v3'), { version: '0.3.0', values: 'badPort: 99999\n', templates: { 'bad.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-bad\nspec:\n  ports:\n    - port: {{ .Values.badPort }}\n      protocol: TCP\n' } }), out);
  // One replica: without a kubelet it never becomes available.
  await packageChart(await writeAppChart(path.join(dir, 'busy'), { name: 'busy', version: '1.0.0', values: 'replicaCount: 1\n' }), out);
  repo = await serveChartRepo(out);
  await repo.reindex();
});

async function helmHistory(kubeconfig: string, name: string, ns: string): Promise<Array<{ revision: number; status: string; chart: string }>> {
  const { stdout } = await run(helmBin, ['history', name, '-n', ns, '-o', 'json', '--kubeconfig', kubeconfig], { env: { ...process.env, HOME: '/tmp' } }).catch(() => ({ stdout: '[]' }));
  return JSON.parse(stdout) as Array<{ revision: number; status: string; chart: string }>;
}

describe('HelmRelease lifecycle', () => {
  test('RetryOnFailure: a failed install is retried by upgrade after the retry interval, never uninstalled; success clears the counters', async (t) => {
    const f = await helmFixture(t, 'hrretry');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    const spec = (v: string) => ({ chart: chartFrom('charts', 'app', v), install: { strategy: { name: 'RetryOnFailure', retryInterval: '2m' } }, upgrade: { strategy: { name: 'RetryOnFailure', retryInterval: '2m' } } });
    await f.define(helmRelease('web', spec('0.3.0')));
    const t0 = Date.now();
    await f.settle('HelmRelease', 'web');
    let hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallFailed');
    assert.equal(getCondition(hr, 'Reconciling')?.reason, 'ProgressingWithRetry');
    assert.equal(getCondition(hr, 'Reconciling')?.message, 'retrying after 2m0s');
    assert.equal(getCondition(hr, 'Stalled'), undefined);
    const next = Date.parse(hr.status.nextRunAt!) - t0;
    assert.ok(next > 60_000 && next < 5 * 60_000, `next run in ${next} ms`);
    // The retry (the schedule's run): an upgrade of the failed release, not an uninstall.
    await f.once('HelmRelease', 'web');
    assert.deepEqual((await helmHistory(f.kubeconfigPath, 'web', f.ns)).map((h) => h.status), ['failed', 'failed']);
    await f.define(helmRelease('web', spec('0.1.0')));
    await f.settle('HelmRelease', 'web');
    hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'UpgradeSucceeded');
    assert.equal(hr.status.failures, undefined);
    assert.equal(hr.status.upgradeFailures, undefined);
  });

  test('a release stuck pending is unlocked, then upgraded', async (t) => {
    const f = await helmFixture(t, 'hrlock');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0') }));
    await f.settle('HelmRelease', 'web');
    // Simulate an interrupted helm: the stored revision says pending-upgrade.
    const rel = (await listReleases(f.client, f.ns, 'web')).latest()!;
    const raw = structuredClone(rel.raw);
    (raw.info as Record<string, unknown>).status = 'pending-upgrade';
    await f.client.request('PATCH', `/api/v1/namespaces/${f.ns}/secrets/${rel.secretName}`, {
      body: { metadata: { labels: { status: 'pending-upgrade' } }, data: { release: Buffer.from(encodeReleasePayload(raw)).toString('base64') } },
      contentType: 'application/merge-patch+json',
    });
    await f.settle('HelmRelease', 'web');
    const hr = (await f.record('HelmRelease', 'web'))!;
    const unlocked = hr.events!.find((e) => e.reason === 'PendingRelease');
    assert.equal(unlocked?.message, `Unlocked Helm release ${f.ns}/web.v1 with chart app@0.1.0 in pending-upgrade state`);
    assert.equal(getCondition(hr, 'Ready')?.reason, 'UpgradeSucceeded', getCondition(hr, 'Ready')?.message);
    const hist = await helmHistory(f.kubeconfigPath, 'web', f.ns);
    // The unlocked (failed) revision is superseded by the upgrade.
    assert.deepEqual(hist.map((h) => h.status), ['superseded', 'deployed']);
  });

  test('a new release name uninstalls the old release and installs the new one', async (t) => {
    const f = await helmFixture(t, 'hrname');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), releaseName: 'first' }));
    await f.settle('HelmRelease', 'web');
    assert.equal((await helmHistory(f.kubeconfigPath, 'first', f.ns)).length, 1);
    await f.define(helmRelease('web', { chart: chartFrom('charts', 'app', '0.1.0'), releaseName: 'second' }));
    const runs = await f.settle('HelmRelease', 'web');
    assert.equal(runs.length, 2, 'uninstall, then a requeue installs');
    assert.deepEqual(await helmHistory(f.kubeconfigPath, 'first', f.ns), []);
    const hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.message, `Helm install succeeded for release ${f.ns}/second.v1 with chart app@0.1.0`);
  });

  test('dependsOn: the dependent waits, and is woken when its dependency becomes Ready', async (t) => {
    const f = await helmFixture(t, 'hrdeps');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('b', { chart: chartFrom('charts', 'app', '0.1.0'), dependsOn: [{ name: 'a' }] }));
    await f.once('HelmRelease', 'b');
    let b = (await f.record('HelmRelease', 'b'))!;
    assert.equal(getCondition(b, 'Ready')?.reason, 'DependencyNotReady');
    assert.equal(getCondition(b, 'Ready')?.message, `unable to get '${f.ns}/a' dependency: helmreleases.helm.toolkit.fluxcd.io "a" not found`);
    await f.define(helmRelease('a', { chart: chartFrom('charts', 'app', '0.1.0') }));
    const runs = await f.settle('HelmRelease', 'a');
    assert.deepEqual(runs.map((r) => `${r.key.kind}/${r.key.name}`), ['HelmRelease/a', 'HelmRelease/b']);
    b = (await f.record('HelmRelease', 'b'))!;
    assert.equal(getCondition(b, 'Ready')?.reason, 'InstallSucceeded');
    // commonMetadata on a new generation: the release is upgraded with the labels on its objects.
    await f.define(helmRelease('a', { chart: chartFrom('charts', 'app', '0.1.0'), commonMetadata: { labels: { team: 'platform' } } }));
    await f.settle('HelmRelease', 'a', { skip: (k) => k.name === 'b' });
    const a = (await f.record('HelmRelease', 'a'))!;
    assert.equal(getCondition(a, 'Ready')?.reason, 'UpgradeSucceeded');
    assert.match(String(a.status.observedCommonMetadataDigest), /^sha256:[0-9a-f]{64}$/);
    const sa = await f.client.request<{ metadata: { labels: Record<string, string> } }>('GET', `/api/v1/namespaces/${f.ns}/serviceaccounts/a`);
    assert.equal(sa.metadata.labels.team, 'platform');
    assert.equal(sa.metadata.labels['helm.toolkit.fluxcd.io/name'], 'a');
  });

  test('the poller wait: an unavailable Deployment fails the release in storage; healthCheckExprs can judge it healthy', async (t) => {
    const f = await helmFixture(t, 'hrwait');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    await f.define(helmRelease('busy', { chart: chartFrom('charts', 'busy'), timeout: '3s' }));
    await f.settle('HelmRelease', 'busy');
    let hr = (await f.record('HelmRelease', 'busy'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallFailed');
    assert.match(getCondition(hr, 'Ready')?.message ?? '', new RegExp(`health check failed after .*: timeout waiting for: \\[.*Deployment/${f.ns}/busy status: 'InProgress'`));
    assert.equal(getCondition(hr, 'Stalled')?.reason, 'RetriesExceeded');
    assert.deepEqual((await helmHistory(f.kubeconfigPath, 'busy', f.ns)).map((h) => h.status), ['failed']);

    await f.define(helmRelease('ok', { chart: chartFrom('charts', 'busy'), timeout: '1m', healthCheckExprs: [{ apiVersion: 'apps/v1', kind: 'Deployment', current: 'status.observedGeneration == metadata.generation' }] }));
    await f.settle('HelmRelease', 'ok');
    hr = (await f.record('HelmRelease', 'ok'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallSucceeded', getCondition(hr, 'Ready')?.message);
    // A bad expression is Flux's terminal InvalidCELExpression.
    await f.define(helmRelease('cel', { chart: chartFrom('charts', 'busy'), healthCheckExprs: [{ apiVersion: 'apps/v1', kind: 'Deployment', current: 'status.(' }] }));
    await f.once('HelmRelease', 'cel');
    hr = (await f.record('HelmRelease', 'cel'))!;
    assert.equal(getCondition(hr, 'Stalled')?.reason, 'InvalidCELExpression');
    assert.match(getCondition(hr, 'Ready')?.message ?? '', /^Reconciliation failed terminally due to configuration error: .*spec\.healthCheckExprs\[0\]\.current/);
  });
});
