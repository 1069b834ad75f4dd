/**
 * HelmRelease targets on the real components: a second control plane started here (no
 * controller manager) named by `spec.kubeConfig`, and the harness cluster with RBAC for
 * `spec.serviceAccountName` / `defaultServiceAccount`. A remote release is installed,
 * drift-corrected, upgraded and uninstalled in the second cluster only (`helm list` there
 * sees it, the management cluster has nothing), `fluxless get --cluster` finds it; helm
 * gets the remote kubeconfig as a 0600 file in a private directory for one command; a
 * tenant account with only a namespaced Role cannot release a cluster-scoped object (the
 * RBAC message, nothing installed) but releases a namespaced chart, locally and on the
 * remote, and a HelmRelease deleted after its account keeps its release (as Flux); a
 * stopped remote cluster fails only its HelmRelease, naming the cluster, retried and never
 * dead-lettered, and its deletion waits for it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { getCmd } from '../../shared/cli/commands.js';
import { helmDiffCmd } from '../../shared/cli/helm-diff.js';
import { startControlPlane, type ControlPlane } from '../../shared/devenv/controlplane.js';
import { defaultLauncher } from '../../shared/helm/launcher.js';
import { HelmRunner } from '../../shared/helm/runner.js';
import { offlineHelmRunner } from '../../shared/kinds/helmrelease/runner.js';
import { createKubeClient, KubeApiError, type KubeClient } from '../../shared/kube/client.js';
import type { TenancySettings } from '../../shared/kube/tenancy.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { getCondition } from '../../shared/state/records.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { atEnd, packageChart, serveChartRepo, tempDir, type ChartRepoServer } from '../helm/helpers.js';
import { chartFrom, helmFixture, helmRelease, helmRepository, type HelmFixture } from '../kinds/helm-fixture.js';
import { createOrKeep } from './helpers.js';

const run = promisify(execFile);
let helmBin = '';
let repo: ChartRepoServer;
let second: ControlPlane;
let secondStopped = false;
let remote: KubeClient;

/** A chart of a ConfigMap (and `extra` templates), values `greeting: hello`. */
async function writeChart(dir: string, name: string, version: string, extra: Record<string, string> = {}): Promise<string> {
  const root = path.join(dir, `${name}-${version}`, name);
  await mkdir(path.join(root, 'templates'), { recursive: true });
  await writeFile(path.join(root, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${version}\n`);
  await writeFile(path.join(root, 'values.yaml'), 'greeting: hello\n');
  await writeFile(path.join(root, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\ndata:\n  greeting: {{ .Values.greeting | quote }}\n');
  for (const [f, content] of Object.entries(extra)) await writeFile(path.join(root, 'templates', f), content);
  return root;
}

before(async () => {
  helmBin = (await (await testEnv()).tools()).helm;
  const dir = await tempDir();
  const out = path.join(dir, 'repo');
  await mkdir(out);
  await packageChart(await writeChart(dir, 'cfg', '0.1.0'), out);
  await packageChart(await writeChart(dir, 'cfg', '0.2.0'), out);
  const clusterRole = 'apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: {{ .Release.Namespace }}-{{ .Release.Name }}\nrules: []\n';
  await packageChart(await writeChart(dir, 'wide', '0.1.0', { 'clusterrole.yaml': clusterRole }), out);
  repo = await serveChartRepo(out);
  await repo.reindex();
  second = await startControlPlane({ controllerManager: false });
  remote = createKubeClient(kubeConfigFrom(second.kubeconfigPath));
});

after(async () => {
  remote?.close();
  if (second && !secondStopped) await second.stop();
});

/** The second control plane's admin kubeconfig with its cluster named `name`. */
function renamed(name: string): string {
  const doc = parseYaml(second.kubeconfig) as { clusters: Array<{ name: string }>; contexts: Array<{ context: { cluster: string } }> };
  doc.clusters[0].name = name;
  doc.contexts[0].context.cluster = name;
  return toYaml(doc);
}

async function helm(kubeconfig: string, ...args: string[]): Promise<string> {
  const { stdout } = await run(helmBin, [...args, '--kubeconfig', kubeconfig], { env: { ...process.env, HOME: '/tmp', HELM_CONFIG_HOME: '/tmp/fluxless-test-helm-cfg', HELM_CACHE_HOME: '/tmp/fluxless-test-helm-cache' } });
  return stdout;
}

/** `helm list` in a namespace (helm 4 lists every status): name, status and chart of each release. */
async function releases(kubeconfig: string, ns: string): Promise<string[]> {
  const list = JSON.parse(await helm(kubeconfig, 'list', '-n', ns, '-o', 'json')) as Array<{ name: string; status: string; chart: string }>;
  return list.map((r) => `${r.name} ${r.status} ${r.chart}`).sort();
}

async function exists(c: KubeClient, p: string): Promise<boolean> {
  try {
    await c.request('GET', p);
    return true;
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return false;
    throw err;
  }
}

/** The fixture's namespace on the second cluster too, the kubeconfig Secret (cluster `edge-1`) and the chart repository. */
async function remoteFixture(t: Parameters<typeof helmFixture>[0], prefix: string): Promise<HelmFixture> {
  const f = await helmFixture(t, prefix);
  await createOrKeep(remote, '/api/v1/namespaces', { metadata: { name: f.ns } });
  await f.define(helmRepository('charts', repo.url));
  assert.equal((await f.once('HelmRepository', 'charts')).ready, true);
  return f;
}

async function putKubeconfigSecret(f: HelmFixture, name: string): Promise<void> {
  await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: { metadata: { name }, data: { value: Buffer.from(renamed('edge-1')).toString('base64') } } });
}

/** ServiceAccount `name` with only a namespaced Role (everything in `ns`, nothing cluster-wide). */
async function namespacedAccount(c: KubeClient, ns: string, name: string): Promise<void> {
  await createOrKeep(c, `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } });
  await createOrKeep(c, `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { metadata: { name: `${name}-all` }, rules: [{ apiGroups: ['*'], resources: ['*'], verbs: ['*'] }] });
  await createOrKeep(c, `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    metadata: { name: `${name}-all` },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${name}-all` },
    subjects: [{ kind: 'ServiceAccount', name, namespace: ns }],
  });
}

test('helm gets a remote kubeconfig as a 0600 file in a private 0700 directory for one command, removed after, never in errors', async () => {
  const seen: Array<{ file: string; mode: number; dirMode: number; env?: string }> = [];
  const base = defaultLauncher();
  const runner = await HelmRunner.create({
    launcher: (file, args, opts) => {
      const i = args.indexOf('--kubeconfig');
      if (i >= 0) {
        const p = args[i + 1];
        seen.push({ file: p, mode: statSync(p).mode & 0o777, dirMode: statSync(path.dirname(p)).mode & 0o777, env: opts.env.KUBECONFIG });
      }
      return base(file, args, opts);
    },
  });
  atEnd(() => runner.close());
  const kc = kubeConfigFrom(second.kubeconfigPath);
  assert.deepEqual(await runner.history('nothing', 'default', { kubeConfig: kc }), []);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].mode, 0o600);
  assert.equal(seen[0].dirMode, 0o700);
  assert.equal(seen[0].env, seen[0].file);
  assert.ok(seen[0].file.startsWith(runner.home + path.sep), 'inside the runner home');
  assert.equal(existsSync(seen[0].file), false, 'removed after the command');
  const err = await runner.status('nothing', 'default', { kubeConfig: kc }).then(() => undefined, (e: unknown) => e as Error);
  assert.ok(err, 'helm status of a missing release fails');
  assert.doesNotMatch(err.message, new RegExp(`${seen[0].file}|${second.token}`));
  assert.equal(existsSync(seen[1].file), false);
});

test('spec.kubeConfig: released into the second cluster only (install, drift, upgrade, uninstall on deletion); get --cluster finds it', async (t) => {
  const f = await remoteFixture(t, 'hrkc');
  const spec = (version: string) => ({ chart: chartFrom('charts', 'cfg', version), kubeConfig: { secretRef: { name: 'edge-kc' } }, driftDetection: { mode: 'enabled' } });
  await f.define(helmRelease('web', spec('0.1.0')));

  // The Secret is not there yet: helm-controller's RESTClientError, retried, nothing released.
  const missing = await f.once('HelmRelease', 'web');
  assert.equal(missing.reason, 'RESTClientError');
  assert.equal(missing.message, `could not get KubeConfig secret '${f.ns}/edge-kc': secrets "edge-kc" not found`);
  assert.equal(missing.transientError, undefined);
  assert.ok((await f.record('HelmRelease', 'web'))?.status.nextRunAt, 'retried');

  await putKubeconfigSecret(f, 'edge-kc');
  await f.settle('HelmRelease', 'web');
  let hr = (await f.record('HelmRelease', 'web'))!;
  assert.equal(getCondition(hr, 'Ready')?.reason, 'InstallSucceeded', getCondition(hr, 'Ready')?.message);
  assert.deepEqual(hr.status.targetCluster, { name: 'edge-1', server: second.server });
  assert.deepEqual(await releases(second.kubeconfigPath, f.ns), ['web deployed cfg-0.1.0']);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), [], 'nothing released on the management cluster');
  assert.ok(await exists(remote, `/api/v1/namespaces/${f.ns}/configmaps/web-cfg`));
  assert.equal(await exists(f.client, `/api/v1/namespaces/${f.ns}/configmaps/web-cfg`), false);
  const home = (await offlineHelmRunner(f.svc)).home;
  assert.deepEqual((await readdir(path.join(home, 'tmp'))).filter((e) => e.startsWith('kube-')), [], 'no kubeconfig file left behind');

  // fluxless get: the release is on edge-1, not on the management cluster.
  const rt = { ...f.svc, queue: undefined as never } as Runtime;
  const onEdge = JSON.parse(await getCmd(rt, 'helmreleases', { namespace: f.ns, output: 'json', cluster: 'edge-1' })) as Array<{ name: string; cluster: string }>;
  assert.deepEqual(onEdge.map((r) => `${r.name}@${r.cluster}`), ['web@edge-1']);
  assert.deepEqual(JSON.parse(await getCmd(rt, 'helmreleases', { namespace: f.ns, output: 'json', cluster: 'in-cluster' })), []);

  // fluxless diff helmrelease compares with the release's own cluster: nothing, then the drift.
  assert.deepEqual(await helmDiffCmd(rt, f.ns, 'web'), { code: 0, text: '' });
  // Drift on the remote is detected and corrected there.
  await remote.request('PATCH', `/api/v1/namespaces/${f.ns}/configmaps/web-cfg`, { body: { data: { greeting: 'tampered' } }, contentType: 'application/merge-patch+json' });
  const drift = await helmDiffCmd(rt, f.ns, 'web');
  assert.equal(drift.code, 1);
  assert.match(drift.text, new RegExp(`► ConfigMap/${f.ns}/web-cfg drifted`));
  assert.equal((await f.once('HelmRelease', 'web')).ready, true);
  const cm = await remote.request<{ data: { greeting: string } }>('GET', `/api/v1/namespaces/${f.ns}/configmaps/web-cfg`);
  assert.equal(cm.data.greeting, 'hello');
  hr = (await f.record('HelmRelease', 'web'))!;
  assert.ok((hr.events ?? []).some((e) => e.reason === 'DriftCorrected'), JSON.stringify(hr.events?.map((e) => e.reason)));

  // Upgrade there.
  await f.define(helmRelease('web', spec('0.2.0')));
  await f.settle('HelmRelease', 'web');
  hr = (await f.record('HelmRelease', 'web'))!;
  assert.equal(getCondition(hr, 'Ready')?.reason, 'UpgradeSucceeded', getCondition(hr, 'Ready')?.message);
  const hist = JSON.parse(await helm(second.kubeconfigPath, 'history', 'web', '-n', f.ns, '-o', 'json')) as Array<{ revision: number; status: string; chart: string }>;
  assert.deepEqual(hist.map((h) => `${h.revision} ${h.status} ${h.chart}`), ['1 superseded cfg-0.1.0', '2 deployed cfg-0.2.0']);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), []);

  // Removed from Git: uninstalled from the second cluster.
  await f.remove('HelmRelease', 'web');
  await f.settle('HelmRelease', 'web');
  assert.equal(await f.record('HelmRelease', 'web'), undefined);
  assert.deepEqual(await releases(second.kubeconfigPath, f.ns), []);
  assert.equal(await exists(remote, `/api/v1/namespaces/${f.ns}/configmaps/web-cfg`), false);
});

test('serviceAccountName: a namespaced Role cannot release a cluster-scoped object (RBAC message, nothing installed) but releases a namespaced chart; defaultServiceAccount applies; a deleted account skips the uninstall', async (t) => {
  const f = await helmFixture(t, 'hrsa');
  await namespacedAccount(f.client, f.ns, 'dev-team');
  await f.define(helmRepository('charts', repo.url));
  assert.equal((await f.once('HelmRepository', 'charts')).ready, true);
  const user = `system:serviceaccount:${f.ns}:dev-team`;
  const rbac = new RegExp(`User "${user}" cannot \\w+ resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope`);

  await f.define(helmRelease('wide', { chart: chartFrom('charts', 'wide', '0.1.0'), serviceAccountName: 'dev-team' }));
  await f.settle('HelmRelease', 'wide');
  const wide = (await f.record('HelmRelease', 'wide'))!;
  const ready = getCondition(wide, 'Ready');
  assert.equal(ready?.status, 'False');
  assert.match(ready?.message ?? '', rbac);
  assert.equal(wide.status.targetCluster, undefined, 'the management cluster is not recorded as a target');
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), [], 'no release stored');
  assert.equal(await exists(f.client, `/apis/rbac.authorization.k8s.io/v1/clusterroles/${f.ns}-wide`), false);
  assert.equal(await exists(f.client, `/api/v1/namespaces/${f.ns}/configmaps/wide-cfg`), false, 'nothing of the chart installed');

  await f.define(helmRelease('app', { chart: chartFrom('charts', 'cfg', '0.1.0'), serviceAccountName: 'dev-team' }));
  await f.settle('HelmRelease', 'app');
  const app = (await f.record('HelmRelease', 'app'))!;
  assert.equal(getCondition(app, 'Ready')?.reason, 'InstallSucceeded', getCondition(app, 'Ready')?.message);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), ['app deployed cfg-0.1.0']);
  await f.remove('HelmRelease', 'app');
  await f.settle('HelmRelease', 'app');
  assert.equal(await f.record('HelmRelease', 'app'), undefined);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), [], 'uninstalled as the account');

  // defaultServiceAccount: a HelmRelease without serviceAccountName runs as <ns>:dev-team.
  f.svc.settings = { ...f.svc.settings, defaultServiceAccount: 'dev-team' } as typeof f.svc.settings & TenancySettings;
  await f.define(helmRelease('wide2', { chart: chartFrom('charts', 'wide', '0.1.0') }));
  await f.settle('HelmRelease', 'wide2');
  const wide2 = (await f.record('HelmRelease', 'wide2'))!;
  assert.equal(getCondition(wide2, 'Ready')?.status, 'False');
  assert.match(getCondition(wide2, 'Ready')?.message ?? '', rbac);
  assert.equal(await exists(f.client, `/apis/rbac.authorization.k8s.io/v1/clusterroles/${f.ns}-wide2`), false);

  // Deleted after its account was: helm-controller skips the uninstall and lets it go.
  await f.define(helmRelease('kept', { chart: chartFrom('charts', 'cfg', '0.1.0'), serviceAccountName: 'dev-team' }));
  await f.settle('HelmRelease', 'kept');
  assert.equal(getCondition(await f.record('HelmRelease', 'kept'), 'Ready')?.status, 'True');
  await f.client.request('DELETE', `/api/v1/namespaces/${f.ns}/serviceaccounts/dev-team`);
  await f.remove('HelmRelease', 'kept');
  const fin = await f.once('HelmRelease', 'kept');
  assert.equal(fin.reason, 'Finalized');
  assert.match(fin.message, /ServiceAccount 'dev-team' is gone: the release was not uninstalled/);
  assert.equal(await f.record('HelmRelease', 'kept'), undefined);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), ['kept deployed cfg-0.1.0']);
});

test('kubeConfig with serviceAccountName: the account of the second cluster, with its RBAC', async (t) => {
  const f = await remoteFixture(t, 'hrkcsa');
  await putKubeconfigSecret(f, 'edge-kc');
  await namespacedAccount(remote, f.ns, 'dev-team');
  const spec = (chart: string) => ({ chart: chartFrom('charts', chart, '0.1.0'), kubeConfig: { secretRef: { name: 'edge-kc' } }, serviceAccountName: 'dev-team' });

  await f.define(helmRelease('wide', spec('wide')));
  await f.settle('HelmRelease', 'wide');
  const wide = (await f.record('HelmRelease', 'wide'))!;
  assert.equal(getCondition(wide, 'Ready')?.status, 'False');
  assert.match(getCondition(wide, 'Ready')?.message ?? '', new RegExp(`User "system:serviceaccount:${f.ns}:dev-team" cannot \\w+ resource "clusterroles"`));
  assert.deepEqual(await releases(second.kubeconfigPath, f.ns), []);
  assert.equal(await exists(remote, `/apis/rbac.authorization.k8s.io/v1/clusterroles/${f.ns}-wide`), false);

  await f.define(helmRelease('app', spec('cfg')));
  await f.settle('HelmRelease', 'app');
  const app = (await f.record('HelmRelease', 'app'))!;
  assert.equal(getCondition(app, 'Ready')?.reason, 'InstallSucceeded', getCondition(app, 'Ready')?.message);
  assert.deepEqual(await releases(second.kubeconfigPath, f.ns), ['app deployed cfg-0.1.0']);
  assert.deepEqual(await releases(f.kubeconfigPath, f.ns), []);
});

test('the second cluster stopped: Ready=False naming it, retried and never transient; the deletion waits for it', async (t) => {
  const f = await remoteFixture(t, 'hrdown');
  await putKubeconfigSecret(f, 'edge-kc');
  await f.define(helmRelease('web', { chart: chartFrom('charts', 'cfg', '0.1.0'), kubeConfig: { secretRef: { name: 'edge-kc' } } }));
  await f.settle('HelmRelease', 'web');
  assert.equal(getCondition(await f.record('HelmRelease', 'web'), 'Ready')?.status, 'True');

  const server = second.server;
  remote.close();
  await second.stop();
  secondStopped = true;
  const named = new RegExp(`cluster 'edge-1' \\(${server.replace(/[.]/g, '\\.')}\\) is unreachable`);
  const out = await f.once('HelmRelease', 'web');
  assert.equal(out.ready, false);
  assert.match(out.message, named);
  assert.equal(out.transientError, undefined, 'not redelivered (never dead-lettered)');
  const rec = await f.record('HelmRelease', 'web');
  assert.equal(getCondition(rec, 'Ready')?.status, 'False');
  assert.match(getCondition(rec, 'Ready')?.message ?? '', named);
  assert.ok(rec?.status.nextRunAt, 'retried on schedule');
  assert.deepEqual(rec?.status.targetCluster, { name: 'edge-1', server });

  await f.remove('HelmRelease', 'web');
  const fin = await f.once('HelmRelease', 'web');
  assert.equal(fin.reason, 'UninstallFailed');
  assert.match(fin.message, named);
  assert.equal(fin.transientError, undefined);
  const kept = await f.record('HelmRelease', 'web');
  assert.ok(kept, 'the record stays until the release can be uninstalled');
  assert.ok(kept.status.nextRunAt, 'the deletion is retried on schedule');
});
