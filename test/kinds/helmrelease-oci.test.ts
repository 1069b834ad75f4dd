/**
 * HelmReleases from OCI registries (the harness docker-registry, charts pushed with the
 * real `helm push`): `chartRef` to an OCIRepository that copies the chart layer (the
 * chart version gets the manifest digest as build metadata, as helm-controller's digest
 * tracking does), and `spec.chart` from a HelmRepository of type oci.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { getCondition } from '../../shared/state/records.js';
import { testEnv } from '../harness/index.js';
import { packageChart, tempDir, writeAppChart } from '../helm/helpers.js';
import { chartFrom, helmFixture, helmRelease, helmRepository } from './helm-fixture.js';

const run = promisify(execFile);
let host = '';
const project = `hr${Math.random().toString(36).slice(2, 8)}`;

before(async () => {
  const env = await testEnv();
  host = (await env.registry()).host;
  const helm = (await env.tools()).helm;
  const dir = await tempDir();
  const helmEnv = { ...process.env, HELM_CONFIG_HOME: path.join(dir, 'cfg'), HELM_CACHE_HOME: path.join(dir, 'cache'), HELM_REGISTRY_CONFIG: path.join(dir, 'registry.json') };
  for (const v of ['1.0.0', '1.1.0']) {
    const tgz = await packageChart(await writeAppChart(path.join(dir, v), { name: 'podinfo', version: v }), path.join(dir, 'out'));
    await run(helm, ['push', tgz, `oci://${host}/${project}`, '--plain-http'], { env: helmEnv });
  }
});

describe('HelmRelease from OCI', () => {
  test('chartRef OCIRepository: installed with the digest-tracked chart version; a new tag upgrades', async (t) => {
    const f = await helmFixture(t, 'hroci');
    const oci = (tag: string) => ({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'OCIRepository',
      metadata: { name: 'podinfo' },
      spec: { interval: '10m', url: `oci://${host}/${project}/podinfo`, insecure: true, ref: { tag }, layerSelector: { mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', operation: 'copy' } },
    });
    await f.define(oci('1.0.0'));
    const o = await f.once('OCIRepository', 'podinfo');
    assert.equal(o.ready, true, o.message);
    const revision = (await f.record('OCIRepository', 'podinfo'))!.status.artifact!.revision;
    const digest = revision.split('@')[1];
    await f.define(helmRelease('podinfo', { chartRef: { kind: 'OCIRepository', name: 'podinfo' } }));
    await f.settle('HelmRelease', 'podinfo');
    let hr = (await f.record('HelmRelease', 'podinfo'))!;
    assert.equal(getCondition(hr, 'Ready')?.status, 'True', getCondition(hr, 'Ready')?.message);
    const version = `1.0.0+${digest.slice('sha256:'.length, 'sha256:'.length + 12)}`;
    assert.equal(getCondition(hr, 'Ready')?.message, `Helm install succeeded for release ${f.ns}/podinfo.v1 with chart podinfo@${version}`);
    const snap = (hr.status.history as unknown as Array<{ chartVersion: string; ociDigest?: string }>)[0];
    assert.equal(snap.chartVersion, version);
    assert.equal(snap.ociDigest, digest);
    assert.equal(hr.status.lastAttemptedRevisionDigest, digest);
    const ev = hr.events!.find((e) => e.reason === 'InstallSucceeded')!;
    assert.equal(ev.metadata?.['helm.toolkit.fluxcd.io/oci-digest'], digest);

    // A new tag: the OCIRepository wakes its user, which upgrades.
    await f.define(oci('1.1.0'));
    const runs = await f.settle('OCIRepository', 'podinfo');
    assert.deepEqual(runs.map((r) => r.key.kind), ['OCIRepository', 'HelmRelease']);
    hr = (await f.record('HelmRelease', 'podinfo'))!;
    assert.equal(getCondition(hr, 'Ready')?.reason, 'UpgradeSucceeded');
    assert.match((hr.status.history as unknown as Array<{ chartVersion: string }>)[0].chartVersion, /^1\.1\.0\+[0-9a-f]{12}$/);
  });

  test('spec.chart from a HelmRepository of type oci', async (t) => {
    const f = await helmFixture(t, 'hroci');
    await f.define(helmRepository('registry', `oci://${host}/${project}`, { type: 'oci', insecure: true }));
    await f.once('HelmRepository', 'registry');
    await f.define(helmRelease('web', { chart: chartFrom('registry', 'podinfo', '1.0.x') }));
    await f.settle('HelmRelease', 'web');
    const hr = (await f.record('HelmRelease', 'web'))!;
    assert.equal(getCondition(hr, 'Ready')?.status, 'True', getCondition(hr, 'Ready')?.message);
    assert.equal(getCondition(await f.record('HelmChart', `${f.ns}-web`), 'Ready')?.message, "pulled 'podinfo' chart with version '1.0.0'");
  });
});
