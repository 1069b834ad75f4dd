import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from '../harness/index.js';
import { RegistryClient } from '../../shared/oci/client.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository } from '../../shared/oci/fetch.js';
import { pullHelmChart } from '../../shared/oci/helm.js';
import { HELM_CHART_CONTENT } from '../../shared/oci/media-types.js';
import { ociSpec } from './helpers.js';
import { createHash } from 'node:crypto';

const run = promisify(execFile);
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

let host = '';
let helm = '';
let work = '';
let helmEnv: NodeJS.ProcessEnv = {};
const packaged = new Map<string, Buffer>();
const ns = `charts${Math.random().toString(36).slice(2, 8)}`;

/** `helm package` a chart made here, then the real `helm push ... --plain-http`. */
async function packageAndPush(name: string, version: string): Promise<void> {
  const dir = path.join(work, `${name}-${version}`, name);
  mkdirSync(path.join(dir, 'templates'), { recursive: true });
  writeFileSync(path.join(dir, 'Chart.yaml'), `apiVersion: v2\nname: ${name}\nversion: ${version}\nappVersion: "1.0"\n`);
  writeFileSync(path.join(dir, 'values.yaml'), 'replicas: 0\n');
  writeFileSync(path.join(dir, 'templates', 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\n');
  const out = path.join(work, 'out');
  mkdirSync(out, { recursive: true });
  await run(helm, ['package', dir, '-d', out], { env: helmEnv });
  const tgz = path.join(out, `${name}-${version}.tgz`);
  packaged.set(version, readFileSync(tgz));
  await run(helm, ['push', tgz, `oci://${host}/${ns}`, '--plain-http'], { env: helmEnv });
}

before(async () => {
  const env = await testEnv();
  host = (await env.registry()).host;
  helm = (await env.tools()).helm;
  work = mkdtempSync(path.join(os.tmpdir(), 'fluxless-oci-helm-'));
  helmEnv = {
    ...process.env,
    HELM_CONFIG_HOME: path.join(work, 'config'),
    HELM_CACHE_HOME: path.join(work, 'cache'),
    HELM_DATA_HOME: path.join(work, 'data'),
    HELM_REGISTRY_CONFIG: path.join(work, 'registry.json'),
  };
  for (const v of ['0.1.0', '0.2.0', '0.3.0-rc.1', '0.2.1+build.7']) await packageAndPush('demo', v);
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('Helm charts pushed by helm push, pulled by our client', () => {
  const chart = () => `oci://${host}/${ns}/demo`;

  test('a range resolves over the tags (`_` read as `+`, no pre-releases) and the .tgz is the packaged file', async () => {
    const got = await pullHelmChart(chart(), '>=0.1.0', undefined);
    assert.ok(got.changed);
    assert.equal(got.version, '0.2.1+build.7');
    assert.equal(got.tag, '0.2.1_build.7');
    assert.equal(got.name, 'demo');
    assert.ok(got.chartTgz.equals(packaged.get('0.2.1+build.7')!));
    assert.equal(got.digest, sha256(got.chartTgz));
    assert.equal(got.metadata.name, 'demo');
    assert.equal(got.metadata.version, '0.2.1+build.7');
    assert.equal(got.layer.mediaType, HELM_CHART_CONTENT);
  });

  test('`*` and empty mean the newest stable; an exact version needs no tag listing', async () => {
    assert.equal((await pullHelmChart(chart(), '*', undefined)).version, '0.2.1+build.7');
    assert.equal((await pullHelmChart(chart(), '', undefined)).version, '0.2.1+build.7');
    assert.equal((await pullHelmChart(chart(), '>=0.3.0-0', undefined)).version, '0.3.0-rc.1');
    const client = new RegistryClient();
    const exact = await pullHelmChart(chart(), '0.1.0', undefined, { client });
    assert.ok(exact.changed);
    assert.ok(exact.chartTgz.equals(packaged.get('0.1.0')!));
    assert.equal(exact.requests, 3, 'manifest, config and chart layer: no tags/list');
  });

  test('the version we already have is not pulled again', async () => {
    const got = await pullHelmChart(chart(), '~0.2.0', undefined, { lastVersion: '0.2.1+build.7' });
    assert.equal(got.changed, false);
    assert.equal(got.version, '0.2.1+build.7');
  });

  test('unknown versions and charts: ChartPullError with Helm/Flux messages', async () => {
    await assert.rejects(pullHelmChart(chart(), '>=9.0.0', undefined), (err: unknown) => err instanceof OciError && err.reason === 'ChartPullError' && /could not locate a version matching provided version string >=9.0.0/.test(err.message));
    await assert.rejects(pullHelmChart(chart(), '9.9.9', undefined), (err: unknown) => err instanceof OciError && err.reason === 'ChartPullError' && /failed to get 'oci:\/\/.*demo:9\.9\.9'.*MANIFEST_UNKNOWN/.test(err.message));
    await assert.rejects(pullHelmChart(`oci://${host}/${ns}/nochart`, '*', undefined), /NAME_UNKNOWN/);
    await assert.rejects(pullHelmChart(`oci://${host}/${ns}/demo:0.1.0`, '*', undefined), (err: unknown) => err instanceof OciError && err.reason === 'URLInvalid');
  });

  test('OCIRepository with the Helm layer selector and copy: semver reads `_` as `+`, the layer is stored as is', async () => {
    const spec = ociSpec(chart(), { ref: { semver: '>=0.2.0' }, layerSelector: { mediaType: HELM_CHART_CONTENT, operation: 'copy' } });
    const got = await fetchOciRepository(spec, undefined);
    assert.ok(got.changed);
    assert.equal(got.tag, '0.2.1_build.7');
    assert.match(got.revision, /^0\.2\.1_build\.7@sha256:[a-f0-9]{64}$/);
    assert.ok(got.tarGz.equals(packaged.get('0.2.1+build.7')!));
    // Without the Helm media type, `0.2.1_build.7` is not a version: 0.2.0 wins.
    const plain = await fetchOciRepository(ociSpec(chart(), { ref: { semver: '>=0.2.0' }, layerSelector: { operation: 'copy' } }), undefined);
    assert.equal(plain.changed && plain.tag, '0.2.0');
  });
});
