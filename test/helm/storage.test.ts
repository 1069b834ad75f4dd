import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { decodeReleasePayload, decodeReleaseSecret, releaseSecretName } from '../../shared/helm/storage.js';
import { metav1Time, observationDigest, snapshotOf, testHooksOf } from '../../shared/helm/observation.js';
import { valuesDigest } from '../../shared/helm/values.js';
import { ReleaseDecodeError } from '../../shared/helm/errors.js';

const release = {
  name: 'web',
  namespace: 'apps',
  version: 2,
  manifest: 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: <a&b>\n',
  info: { first_deployed: '2026-12-01T22:10:00.123456789Z', last_deployed: '2026-12-01T23:10:00.5+02:00', description: 'Upgrade complete', status: 'deployed' },
  chart: { metadata: { name: 'app', version: '1.2.3', apiVersion: 'v2', appVersion: '1.0' }, templates: [{ name: 'x', data: 'AAAA' }] },
  config: { replicaCount: 0, image: { tag: 'v1' } },
  hooks: [
    { name: 'pre', kind: 'Job', events: ['pre-install'], last_run: { started_at: '2026-12-01T22:10:00Z', phase: 'Succeeded' } },
    { name: 't', kind: 'ConfigMap', events: ['test'], last_run: { started_at: '2026-12-01T22:11:00.9Z', completed_at: '2026-12-01T22:11:01Z', phase: 'Failed' } },
  ],
};

/** A storage Secret as the API returns it: data.release = base64(base64(gzip(json))). */
function secretOf(rel: object, gzip = true) {
  const json = Buffer.from(JSON.stringify(rel));
  const payload = (gzip ? gzipSync(json) : json).toString('base64');
  return {
    metadata: { name: releaseSecretName('web', 2), namespace: 'apps', labels: { owner: 'helm', name: 'web', status: 'deployed', version: '2', team: 'a', modifiedAt: '1' } },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(payload).toString('base64') },
  };
}

describe('release storage decoding', () => {
  test('decodes gzip and legacy uncompressed payloads into typed releases', () => {
    for (const gzip of [true, false]) {
      const r = decodeReleaseSecret(secretOf(release, gzip));
      assert.equal(r.name, 'web');
      assert.equal(r.version, 2);
      assert.equal(r.status, 'deployed');
      assert.equal(r.chart.name, 'app');
      assert.equal(r.chart.appVersion, '1.0');
      assert.deepEqual(r.config, { replicaCount: 0, image: { tag: 'v1' } });
      assert.deepEqual(r.labels, { team: 'a' });
      assert.equal(r.secretName, 'sh.helm.release.v1.web.v2');
      assert.deepEqual(r.hooks.map((h) => h.name), ['pre', 't']);
      assert.equal(r.hooks[1].lastRun.phase, 'Failed');
    }
  });

  test('bad payloads are ReleaseDecodeError naming the Secret', () => {
    const s = secretOf(release);
    assert.throws(() => decodeReleaseSecret({ ...s, data: { release: Buffer.from('not base64 json').toString('base64') } }), (e: unknown) => e instanceof ReleaseDecodeError && /sh\.helm\.release\.v1\.web\.v2/.test(e.message));
    assert.throws(() => decodeReleaseSecret({ ...s, type: 'Opaque' }), /not helm\.sh\/release\.v1/);
    assert.throws(() => decodeReleasePayload(''), /empty/);
  });

  // Golden digest: helm-controller release.Digest(ObserveRelease(rel)) for the same release.
  test('observation digest and snapshot are helm-controller’s', () => {
    const r = decodeReleaseSecret(secretOf(release));
    assert.equal(observationDigest(r), 'sha256:db9e4deb8adbb8a5eea07bc2386abe09c5414d41bc1fdcd34c31bc76adc9420d');
    const s = snapshotOf(r, { action: 'upgrade' });
    assert.deepEqual(s, {
      apiVersion: 'v2',
      digest: 'sha256:db9e4deb8adbb8a5eea07bc2386abe09c5414d41bc1fdcd34c31bc76adc9420d',
      name: 'web',
      namespace: 'apps',
      version: 2,
      status: 'deployed',
      chartName: 'app',
      chartVersion: '1.2.3',
      appVersion: '1.0',
      configDigest: valuesDigest({ replicaCount: 0, image: { tag: 'v1' } }),
      firstDeployed: '2026-12-01T22:10:00Z',
      lastDeployed: '2026-12-01T21:10:00Z',
      action: 'upgrade',
    });
    // Test results do not change the digest (IgnoreHookTestEvents) ...
    const retested = decodeReleaseSecret(secretOf({ ...release, hooks: [release.hooks[0], { ...release.hooks[1], last_run: { phase: 'Succeeded' } }] }));
    assert.equal(observationDigest(retested), observationDigest(r));
    // ... but anything else does.
    assert.notEqual(observationDigest(decodeReleaseSecret(secretOf({ ...release, manifest: release.manifest + '#' }))), observationDigest(r));
  });

  test('test hook results as Flux records them', () => {
    const r = decodeReleaseSecret(secretOf(release));
    assert.deepEqual(testHooksOf(r), { t: { lastStarted: '2026-12-01T22:11:00Z', lastCompleted: '2026-12-01T22:11:01Z', phase: 'Failed' } });
    assert.deepEqual(testHooksOf(r, [{ name: 't', exclude: true }]), {});
    assert.equal(metav1Time(undefined), undefined);
  });
});
