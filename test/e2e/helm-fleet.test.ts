/**
 * End to end: a fleet laid out like Flux's flux2-kustomize-helm-example (an infrastructure
 * Kustomization with a HelmRepository and a HelmRelease, apps depending on it with their
 * own HelmRepository and a HelmRelease that depends on the infrastructure one), reconciled
 * by the local runtime from a git server; the CLI's views (`get helmreleases`, `get
 * sources helm|chart`, `tree`, `diff helmrelease`) on it; removing the app's HelmRelease
 * from Git uninstalls it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { helmDiffCmd } from '../../shared/cli/helm-diff.js';
import { getCmd, treeCmd } from '../../shared/cli/commands.js';
import { kindByWord } from '../../shared/kinds/registry.js';
import { getCondition } from '../../shared/state/records.js';
import { testEnv } from '../harness/index.js';
import { packageChart, serveChartRepo, tempDir, writeAppChart } from '../helm/helpers.js';
import { e2e, fleet } from './helpers.js';

const run = promisify(execFile);

function ks(ns: string, name: string, p: string, extra: string[] = []): string {
  return ['apiVersion: kustomize.toolkit.fluxcd.io/v1', 'kind: Kustomization', 'metadata:', `  name: ${name}`, `  namespace: ${ns}`, 'spec:', '  interval: 1h', '  prune: true', `  path: ${p}`, '  sourceRef:', '    kind: GitRepository', '    name: flux-system', ...extra, ''].join('\n');
}

function helmRepo(ns: string, name: string, url: string): string {
  return ['apiVersion: source.toolkit.fluxcd.io/v1', 'kind: HelmRepository', 'metadata:', `  name: ${name}`, `  namespace: ${ns}`, 'spec:', '  interval: 1h', `  url: ${url}`, ''].join('\n');
}

function release(ns: string, name: string, repo: string, extra: string[] = []): string {
  return [
    'apiVersion: helm.toolkit.fluxcd.io/v2',
    'kind: HelmRelease',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    'spec:',
    '  interval: 1h',
    '  chart:',
    '    spec:',
    '      chart: app',
    "      version: '0.1.x'",
    '      sourceRef:',
    '        kind: HelmRepository',
    `        name: ${repo}`,
    ...extra,
    '',
  ].join('\n');
}

test('a Flux helm-example fleet reaches Ready; get, tree and diff see the releases; removal from Git uninstalls', async (t) => {
  const env = await testEnv();
  const cluster = await env.cluster();
  // helm needs the cluster's kubeconfig: the runtime finds it by the client's server.
  const prev = process.env.FLUXLESS_KUBECONFIG;
  process.env.FLUXLESS_KUBECONFIG = cluster.kubeconfigPath;
  t.after(() => {
    if (prev === undefined) delete process.env.FLUXLESS_KUBECONFIG;
    else process.env.FLUXLESS_KUBECONFIG = prev;
  });
  const dir = await tempDir();
  const out = path.join(dir, 'repo');
  await mkdir(out);
  await packageChart(await writeAppChart(path.join(dir, 'app'), { version: '0.1.0' }), out);
  const charts = await serveChartRepo(out);
  await charts.reindex();

  const x = await e2e(t);
  const ns = x.ns;
  await x.repo.commit(
    {
      'clusters/dev/receiver.yaml': fleet(ns, {})['clusters/dev/receiver.yaml'],
      'clusters/dev/infrastructure.yaml': ks(ns, 'infra-controllers', './infrastructure/controllers', ['  wait: true']),
      'clusters/dev/apps.yaml': ks(ns, 'apps', './apps/dev', ['  dependsOn:', '    - name: infra-controllers']),
      'infrastructure/controllers/repository.yaml': helmRepo(ns, 'infra-charts', charts.url),
      'infrastructure/controllers/release.yaml': release(ns, 'infra', 'infra-charts', ['  values:', '    service:', '      port: 81']),
      'apps/dev/repository.yaml': helmRepo(ns, 'podinfo', charts.url),
      'apps/dev/release.yaml': release(ns, 'podinfo', 'podinfo', ['  dependsOn:', '    - name: infra']),
      // wait: true on a HelmRelease that cannot become Ready (no such chart version).
      'clusters/dev/broken.yaml': ks(ns, 'broken', './broken', ['  wait: true', '  timeout: 5s']),
      'broken/release.yaml': release(ns, 'broken', 'infra-charts').replace("version: '0.1.x'", "version: '9.9.x'"),
    },
    'helm fleet',
  );
  await x.repo.push();
  const local = await x.start();
  await x.waitFor('both HelmReleases Ready', async () => {
    const a = await x.record('HelmRelease', 'infra');
    const b = await x.record('HelmRelease', 'podinfo');
    return getCondition(a, 'Ready')?.status === 'True' && getCondition(b, 'Ready')?.status === 'True';
  }, 120_000);
  await x.waitFor('apps Ready', async () => getCondition(await x.record('Kustomization', 'apps'), 'Ready')?.status === 'True', 60_000);
  // wait: true waited for the HelmRepository and the HelmRelease (from their records), as
  // Flux's kstatus waits for their Ready condition: Healthy, and Ready only after the release.
  const infraKs = (await x.record('Kustomization', 'infra-controllers'))!;
  assert.equal(getCondition(infraKs, 'Ready')?.status, 'True');
  assert.equal(getCondition(infraKs, 'Healthy')?.status, 'True', JSON.stringify(infraKs.status.conditions));
  const infra = (await x.record('HelmRelease', 'infra'))!;
  assert.ok(getCondition(infra, 'Ready')!.lastTransitionTime! <= getCondition(infraKs, 'Ready')!.lastTransitionTime!, 'the Kustomization was Ready after its HelmRelease');
  await x.waitFor('broken health check failed', async () => getCondition(await x.record('Kustomization', 'broken'), 'Ready')?.reason === 'HealthCheckFailed', 60_000);
  const broken = getCondition(await x.record('Kustomization', 'broken'), 'Ready')!;
  assert.equal(broken.status, 'False');
  assert.match(broken.message, new RegExp(`^health check failed after .*HelmRelease/${ns}/broken`));
  assert.equal(getCondition(infra, 'Ready')?.message, `Helm install succeeded for release ${ns}/infra.v1 with chart app@0.1.0`);
  const svc = await x.client.request<{ spec: { ports: Array<{ port: number }> } }>('GET', `/api/v1/namespaces/${ns}/services/infra`);
  assert.equal(svc.spec.ports[0].port, 81);
  const { helm } = await env.tools();
  const listed = JSON.parse((await run(helm, ['list', '-n', ns, '-o', 'json', '--kubeconfig', cluster.kubeconfigPath], { env: { ...process.env, HOME: dir } })).stdout) as Array<{ name: string }>;
  assert.deepEqual(listed.map((r) => r.name).sort(), ['infra', 'podinfo']);

  // The CLI's views, from the kinds' names, sources and children.
  const rt = local.rt;
  const hrs = JSON.parse(await getCmd(rt, 'hr', { namespace: ns, output: 'json' })) as Array<{ name: string; ready: string; revision: string }>;
  assert.deepEqual(hrs.filter((r) => r.name !== 'broken').map((r) => [r.name, r.ready, r.revision]).sort(), [['infra', 'True', '0.1.0'], ['podinfo', 'True', '0.1.0']]);
  const helmSources = JSON.parse(await getCmd(rt, 'sources helm', { namespace: ns, output: 'json' })) as Array<{ name: string }>;
  assert.deepEqual(helmSources.map((r) => r.name).sort(), ['infra-charts', 'podinfo']);
  const chartSources = JSON.parse(await getCmd(rt, 'sources chart', { namespace: ns, output: 'json' })) as Array<{ name: string; revision: string }>;
  assert.deepEqual(chartSources.filter((r) => r.name !== `${ns}-broken`).map((r) => [r.name, r.revision]).sort(), [[`${ns}-infra`, '0.1.0'], [`${ns}-podinfo`, '0.1.0']]);
  assert.equal(kindByWord('helmreleases')?.kind, 'HelmRelease');
  const tree = await treeCmd(rt, kindByWord('ks')!, ns, 'apps');
  assert.ok(tree.includes(`├── HelmRelease/${ns}/podinfo\n│   ├── Service/${ns}/podinfo\n│   ├── ServiceAccount/${ns}/podinfo\n│   └── Deployment/${ns}/podinfo`), tree);
  const clean = await helmDiffCmd(rt, ns, 'podinfo');
  assert.deepEqual(clean, { code: 0, text: '' });
  const { kubectl } = await env.tools();
  await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath, 'scale', 'deployment/podinfo', '-n', ns, '--replicas=2']);
  const drifted = await helmDiffCmd(rt, ns, 'podinfo');
  assert.equal(drifted.code, 1);
  assert.match(drifted.text, new RegExp(`► Deployment/${ns}/podinfo drifted\\n  ~ spec.replicas: 2 -> 0`));

  // The app's HelmRelease leaves Git: uninstalled, its generated HelmChart removed.
  await x.repo.commit({ 'apps/dev/release.yaml': null }, 'remove podinfo');
  await x.repo.push();
  assert.equal((await x.push(local)).status, 200);
  await x.waitFor('podinfo finalized', async () => (await x.record('HelmRelease', 'podinfo')) === undefined, 60_000);
  // The generated HelmChart is marked deleted with the uninstall and finalized by its own reconcile.
  await x.waitFor('the generated HelmChart removed', async () => (await x.record('HelmChart', `${ns}-podinfo`)) === undefined, 30_000);
  const after = JSON.parse((await run(helm, ['list', '-n', ns, '-o', 'json', '--kubeconfig', cluster.kubeconfigPath], { env: { ...process.env, HOME: dir } })).stdout) as Array<{ name: string }>;
  assert.deepEqual(after.map((r) => r.name), ['infra']);
});
