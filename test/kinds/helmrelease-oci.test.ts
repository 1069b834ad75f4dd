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
import { parseRepository } from '../../shared/oci/reference.js';
import { cosignKeyPair, legacyLayer, pushLegacySignatures, simpleSigningPayload } from '../oci/sigstore-fixture.js';

const run = promisify(execFile);
let host = '';
const project = `hr${Math.random().toString(36).slice(2, 8)}`;
/** Manifest digests of the pushed charts, by version (from `helm push`'s output). */
const pushed: Record<string, string> = {};

before(async () => {
  const env = await testEnv();
  host = (await env.registry()).host;
  const helm = (await env.tools()).helm;
  const dir = await tempDir();
  const helmEnv = { ...process.env, HELM_CONFIG_HOME: path.join(dir, 'cfg'), HELM_CACHE_HOME: path.join(dir, 'cache'), HELM_REGISTRY_CONFIG: path.join(dir, 'registry.json') };
  for (const v of ['1.0.0', '1.1.0']) {
    const tgz = await packageChart(await writeAppChart(path.join(dir, v), { name: 'podinfo', version: v }), path.join(dir, 'out'));
    const out = await run(helm, ['push', tgz, `oci://${host}/${project}`, '--plain-http'], { env: helmEnv });
    pushed[v] = /Digest: (sha256:[a-f0-9]{64})/.exec(out.stdout + out.stderr)![1];
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

  test('chart.spec.verify: an OCI chart without a matching cosign signature is not installed; signed, it is, with SourceVerified', async (t) => {
    const f = await helmFixture(t, 'hrsig');
    const signer = cosignKeyPair();
    await f.client.request('POST', `/api/v1/namespaces/${f.ns}/secrets`, { body: { metadata: { name: 'cosign-pub' }, stringData: { 'cosign.pub': signer.publicPem } } });
    await f.define(helmRepository('registry', `oci://${host}/${project}`, { type: 'oci', insecure: true }));
    await f.once('HelmRepository', 'registry');
    const chart = chartFrom('registry', 'podinfo', '1.0.0');
    await f.define(helmRelease('web', { chart: { spec: { ...(chart.spec as object), verify: { provider: 'cosign', secretRef: { name: 'cosign-pub' } } } } }));
    await f.settle('HelmRelease', 'web');
    const hc = (await f.record('HelmChart', `${f.ns}-web`))!;
    const ref = `${host}/${project}/podinfo@${pushed['1.0.0']}`;
    assert.equal(getCondition(hc, 'Ready')?.reason, 'VerificationError');
    assert.match(getCondition(hc, 'Ready')!.message, new RegExp(`^failed to verify the signature using provider 'cosign': no matching signatures were found for '${ref.replace(/[.]/g, '\\.')}'`));
    assert.equal(getCondition(hc, 'SourceVerified')?.status, 'False');
    assert.equal(hc.status.artifact, undefined, 'no chart stored');
    const hr = (await f.record('HelmRelease', 'web'))!;
    assert.notEqual(getCondition(hr, 'Ready')?.status, 'True');
    assert.equal(hr.status.history, undefined, 'nothing installed');

    // Signed (cosign v2 layout, on the chart's manifest digest): verified, pulled, installed.
    const repo = parseRepository(`${host}/${project}/podinfo`);
    await pushLegacySignatures(repo, pushed['1.0.0'], [legacyLayer(simpleSigningPayload(`${host}/${project}/podinfo`, pushed['1.0.0']), signer.privateKey)]);
    await f.settle('HelmChart', `${f.ns}-web`);
    const ok = (await f.record('HelmChart', `${f.ns}-web`))!;
    assert.equal(getCondition(ok, 'Ready')?.status, 'True', getCondition(ok, 'Ready')?.message);
    assert.deepEqual(
      { status: getCondition(ok, 'SourceVerified')?.status, reason: getCondition(ok, 'SourceVerified')?.reason, message: getCondition(ok, 'SourceVerified')?.message },
      { status: 'True', reason: 'Succeeded', message: 'verified signature of version 1.0.0' },
    );
    await f.settle('HelmRelease', 'web');
    assert.equal(getCondition((await f.record('HelmRelease', 'web'))!, 'Ready')?.status, 'True');
  });
});
