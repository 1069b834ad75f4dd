/**
 * The HelmRepository and HelmChart kinds against a loopback chart repository (charts made
 * with `helm package`, indexed with `helm repo index`) and real stores: the index
 * artifact and its revision, an unchanged index stores nothing, `type: oci` holds data
 * only; a chart from a GitRepository path packaged with a dependency resolved from the
 * declared HelmRepository, values files and the Revision strategy; one download per chart
 * digest for many HelmCharts; and a HelmRelease installing from that HelmChart (chartRef).
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { readChartArchive } from '../../shared/helm/chart-archive.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { packageChart, serveChartRepo, tempDir, writeAppChart, writeLibChart, type ChartRepoServer } from '../helm/helpers.js';
import { helmFixture, helmRelease, helmRepository, type HelmFixture } from './helm-fixture.js';

let repo: ChartRepoServer;
let indexBytes: Buffer;
const LIB_VERSION = '1.0.0';

before(async () => {
  const dir = await tempDir();
  const out = path.join(dir, 'repo');
  await mkdir(out);
  await packageChart(await writeLibChart(path.join(dir, 'lib'), 'lib', LIB_VERSION), out);
  await packageChart(await writeAppChart(path.join(dir, 'a1'), { version: '0.1.0' }), out);
  await packageChart(await writeAppChart(path.join(dir, 'a2'), { version: '0.2.0' }), out);
  await packageChart(await writeAppChart(path.join(dir, 'a3'), { version: '0.3.0-rc.1' }), out);
  await packageChart(await writeAppChart(path.join(dir, 'once'), { name: 'once', version: '4.0.0' }), out);
  repo = await serveChartRepo(out);
  await repo.reindex();
  indexBytes = await readFile(path.join(out, 'index.yaml'));
});

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

function helmChart(name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmChart', metadata: { name }, spec: { interval: '10m', ...spec } };
}

/** Stores files as the artifact of GitRepository <ns>/repo at `revision`. */
async function gitSource(f: HelmFixture, files: Record<string, string>, revision: string): Promise<void> {
  const dir = await tempDir('fluxless-gitsrc-');
  for (const [p, c] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, p)), { recursive: true });
    await writeFile(path.join(dir, p), c);
  }
  const art = await buildArtifact(dir);
  const key = { kind: 'GitRepository', namespace: f.ns, name: 'repo' };
  const stored = await f.artifacts.put(key, revision, art.tarGz);
  await f.state.update<ObjectRecord>(key, () => ({
    object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'repo', namespace: f.ns, generation: 1 }, spec: { url: 'https://example.invalid/repo.git', interval: '1m', ref: { branch: 'main' } } },
    status: { observedGeneration: 1, conditions: [{ type: 'Ready', status: 'True', reason: 'Succeeded', message: 'ok', lastTransitionTime: new Date().toISOString(), observedGeneration: 1 }], artifact: { revision, digest: stored.digest, key: stored.key, size: stored.size, lastUpdateTime: stored.lastUpdateTime } },
  }));
}

describe('HelmRepository', () => {
  test('index artifact: revision is the sha256 of the served bytes; an unchanged index stores nothing; type oci holds data only', async (t) => {
    const f = await helmFixture(t, 'hrepo');
    await f.define(helmRepository('charts', repo.url));
    const first = await f.once('HelmRepository', 'charts');
    assert.equal(first.ready, true, first.message);
    const rec = (await f.record('HelmRepository', 'charts'))!;
    const a = rec.status.artifact!;
    assert.equal(a.revision, sha256(indexBytes));
    assert.notEqual(a.digest, a.revision);
    assert.equal(getCondition(rec, 'Ready')?.message, `stored artifact: revision '${a.revision}'`);
    assert.equal(getCondition(rec, 'ArtifactInStorage')?.reason, 'Succeeded');
    assert.match(rec.events?.at(-1)?.message ?? '', new RegExp(`^stored fetched index of size .*B from '${repo.url}/'$`));
    const stored = JSON.parse((await f.artifacts.get(a.key, a.digest)).toString()) as { entries: Record<string, unknown[]> };
    assert.deepEqual(Object.keys(stored.entries).sort(), ['app', 'lib', 'once']);
    await f.once('HelmRepository', 'charts');
    assert.equal((await f.artifacts.list({ kind: 'HelmRepository', namespace: f.ns, name: 'charts' })).length, 1);
    assert.equal((await f.record('HelmRepository', 'charts'))!.events?.length, 1);

    await f.define(helmRepository('oci', 'oci://registry.example.com/charts', { type: 'oci' }));
    await f.once('HelmRepository', 'oci');
    const oci = (await f.record('HelmRepository', 'oci'))!;
    assert.equal(oci.status.artifact, undefined);
    assert.equal(getCondition(oci, 'Ready'), undefined);
    assert.equal(oci.status.observedGeneration, 1);
  });
});

describe('HelmChart', () => {
  test('semver ranges select from the index; pre-releases only when asked; a chart version is downloaded once for many HelmCharts', async (t) => {
    const f = await helmFixture(t, 'hchart');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    for (const [name, version, expected] of [['star', '*', '0.2.0'], ['range', '<0.2.0', '0.1.0'], ['pre', '>=0.3.0-0', '0.3.0-rc.1']] as const) {
      await f.define(helmChart(name, { chart: 'app', version, sourceRef: { kind: 'HelmRepository', name: 'charts' } }));
      const r = await f.once('HelmChart', name);
      assert.equal(r.ready, true, r.message);
      const rec = (await f.record('HelmChart', name))!;
      assert.equal(rec.status.artifact?.revision, expected);
      assert.equal(getCondition(rec, 'Ready')?.reason, 'ChartPullSucceeded');
      assert.equal(rec.status.observedChartName, 'app');
      assert.equal(rec.status.observedSourceArtifactRevision, (await f.record('HelmRepository', 'charts'))!.status.artifact?.revision);
    }
    const before = repo.requests.filter((r) => r.path.endsWith('once-4.0.0.tgz')).length;
    for (const name of ['once-a', 'once-b', 'once-c']) {
      await f.define(helmChart(name, { chart: 'once', sourceRef: { kind: 'HelmRepository', name: 'charts' } }));
      assert.equal((await f.once('HelmChart', name)).ready, true);
    }
    assert.equal(repo.requests.filter((r) => r.path.endsWith('once-4.0.0.tgz')).length - before, 1);
    // A second reconcile of the same version downloads nothing and stores nothing.
    const count = repo.requests.length;
    await f.once('HelmChart', 'once-a');
    assert.equal(repo.requests.filter((r) => r.path.endsWith('.tgz')).length, repo.requests.filter((r, i) => i < count && r.path.endsWith('.tgz')).length);
  });

  test('a chart from a GitRepository path: packaged with its dependency from the declared HelmRepository, values files, Revision strategy; a HelmRelease installs it', async (t) => {
    const f = await helmFixture(t, 'hgit');
    await f.define(helmRepository('charts', repo.url));
    await f.once('HelmRepository', 'charts');
    const commit = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
    const appDir = await tempDir('fluxless-webchart-');
    const web = await writeAppChart(appDir, { name: 'web', version: '0.5.0', dependencies: [{ name: 'lib', version: '^1.0.0', repository: repo.url }] });
    const files: Record<string, string> = {};
    for (const rel of ['Chart.yaml', 'values.yaml', 'templates/deployment.yaml', 'templates/service.yaml', 'templates/serviceaccount.yaml']) files[`charts/web/${rel}`] = await readFile(path.join(web, rel), 'utf8');
    files['charts/web/values-prod.yaml'] = 'service:\n  port: 8080\n';
    await gitSource(f, files, `main@sha1:${commit}`);
    await f.define(helmChart('web', { chart: './charts/web', sourceRef: { kind: 'GitRepository', name: 'repo' }, reconcileStrategy: 'Revision', valuesFiles: ['charts/web/values.yaml', 'charts/web/values-prod.yaml'] }));
    const r = await f.once('HelmChart', 'web');
    assert.equal(r.ready, true, r.message);
    const rec = (await f.record('HelmChart', 'web'))!;
    assert.equal(rec.status.artifact?.revision, `0.5.0+${commit.slice(0, 12)}.1`);
    assert.equal(getCondition(rec, 'Ready')?.reason, 'ChartPackageSucceeded');
    assert.equal(getCondition(rec, 'Ready')?.message, `packaged 'web' chart with version '0.5.0+${commit.slice(0, 12)}.1' and merged values files [charts/web/values.yaml charts/web/values-prod.yaml]`);
    const pkg = await readChartArchive(await f.artifacts.get(rec.status.artifact!.key, rec.status.artifact!.digest));
    // helm package stores the subchart as a directory.
    assert.match(pkg.files.get('charts/lib/Chart.yaml')?.toString() ?? "", new RegExp(`version: ${LIB_VERSION}`));
    assert.match(pkg.files.get('values.yaml')!.toString(), /port: 8080/);

    await f.define(helmRelease('web', { chartRef: { kind: 'HelmChart', name: 'web' } }));
    const runs = await f.settle('HelmRelease', 'web');
    const hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.status, 'True', JSON.stringify(runs.map((x) => x.result.message)));
    assert.equal(hr.status.helmChart, undefined);
    const cm = await f.client.request<{ data: Record<string, string> }>('GET', `/api/v1/namespaces/${f.ns}/configmaps/web-lib`);
    assert.equal(cm.data.greeting, 'hello');
    const svc = await f.client.request<{ spec: { ports: Array<{ port: number }> } }>('GET', `/api/v1/namespaces/${f.ns}/services/web`);
    assert.equal(svc.spec.ports[0].port, 8080);
    // A new commit with the Revision strategy: a new chart version, the HelmRelease woken and upgraded.
    await gitSource(f, { ...files, 'charts/web/values-prod.yaml': 'service:\n  port: 9090\n' }, 'main@sha1:ffffffffffff0000000000000000000000000000');
    const woke = await f.settle('HelmChart', 'web');
    assert.deepEqual(woke.map((x) => x.key.kind), ['HelmChart', 'HelmRelease']);
    assert.equal(getCondition(await f.record('HelmRelease', 'web'), 'Ready')?.reason, 'UpgradeSucceeded');
  });
});
