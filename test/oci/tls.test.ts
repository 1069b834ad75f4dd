import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { testEnv } from '../harness/index.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository } from '../../shared/oci/fetch.js';
import { pushArtifact } from '../../shared/oci/push.js';
import { ociSpec, tree, uniqueRepo } from './helpers.js';
import { startFront, type Front } from './front.js';
import { makeCerts, type TestCerts } from './certs.js';

let host = '';
let certs: TestCerts;
const fronts: Front[] = [];
let repo = '';
before(async () => {
  host = (await (await testEnv()).registry()).host;
  certs = makeCerts();
  repo = uniqueRepo('fluxless/tls');
  await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: tree({ 'a.yaml': 'a: 1\n' }), source: 'https://x', revision: 'main@sha1:' + 'a'.repeat(40) });
});
after(async () => {
  for (const f of fronts) await f.close();
  rmSync(certs.dir, { recursive: true, force: true });
});

describe('TLS (certSecretRef) against an HTTPS front with a private CA', () => {
  test('ca.crt + client certificate: pulled over https with mutual TLS', async () => {
    const front = await startFront({ upstream: host, tls: { key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requireClientCert: true } });
    fronts.push(front);
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' }, certSecretRef: { name: 'tls' } });
    const got = await fetchOciRepository(spec, { certSecret: { data: { 'ca.crt': certs.ca, 'tls.crt': certs.clientCert, 'tls.key': certs.clientKey }, name: 'default/tls' } });
    assert.ok(got.changed);
    assert.ok(front.requests.length >= 2);
  });

  test('without the CA the server certificate is refused (no silent downgrade to http)', async () => {
    const front = await startFront({ upstream: host, tls: { key: certs.serverKey, cert: certs.serverCert } });
    fronts.push(front);
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } });
    await assert.rejects(fetchOciRepository(spec, undefined), (err: unknown) => {
      assert.ok(err instanceof OciError);
      assert.equal(err.reason, 'OCIArtifactPullFailed');
      assert.match(err.message, /self[- ]signed certificate|unable to verify/i);
      return true;
    });
    assert.equal(front.requests.length, 0);
    // insecure without certSecretRef skips verification, as Flux does for OCIRepository.
    const insecure = await fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' }, insecure: true }), undefined);
    assert.ok(insecure.changed);
  });

  test('tls.crt without tls.key: AuthenticationFailed naming the Secret', async () => {
    const spec = ociSpec(`oci://127.0.0.1:1/${repo}`, { certSecretRef: { name: 'tls' } });
    await assert.rejects(
      fetchOciRepository(spec, { certSecret: { data: { 'tls.crt': certs.clientCert }, name: 'default/tls' } }),
      (err: unknown) => err instanceof OciError && err.reason === 'AuthenticationFailed' && /^failed to generate transport for 'oci:\/\/127\.0\.0\.1:1\/.*': secret 'default\/tls' must contain both tls\.crt and tls\.key/.test(err.message),
    );
  });
});
