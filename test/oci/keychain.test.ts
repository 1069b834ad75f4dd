import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { pullSecretKeychain, urlsMatch } from '../../shared/oci/keychain.js';
import { parseRepository } from '../../shared/oci/reference.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const secret = (auths: Record<string, unknown>) => ({ data: { '.dockerconfigjson': JSON.stringify({ auths }) }, name: 'ns/creds' });

describe('dockerconfigjson keychain (k8schain rules)', () => {
  test('host, path prefix, wildcard, port, Docker Hub /v1/ key', async () => {
    const kc = pullSecretKeychain([
      secret({
        'https://index.docker.io/v1/': { auth: b64('hub:hubpw') },
        'ghcr.io/team-a': { username: 'a', password: 'apw' },
        'ghcr.io': { auth: b64('any:anypw').replace(/=+$/, '') },
        '*.example.com': { username: 'wild', password: 'w' },
        'localhost:5000': { username: 'local', password: 'l' },
      }),
    ]);
    const who = async (ref: string) => (await kc.resolve(parseRepository(ref)))?.username;
    assert.equal(await who('alpine'), 'hub');
    assert.equal(await who('ghcr.io/team-a/app'), 'a');
    assert.equal(await who('ghcr.io/team-b/app'), 'any'); // unpadded base64 auth is accepted
    assert.equal(await who('reg.example.com/x'), 'wild');
    assert.equal(await who('a.reg.example.com/x'), undefined); // a glob covers one host part only
    assert.equal(await who('localhost:5000/x'), 'local');
    assert.equal(await who('localhost:5001/x'), undefined); // ports must be equal
  });

  test('a key "docker.io" does not match Docker Hub (index.docker.io), as in k8schain', async () => {
    const kc = pullSecretKeychain([secret({ 'docker.io': { username: 'u', password: 'p' } })]);
    assert.equal(await kc.resolve(parseRepository('alpine')), undefined);
  });

  test('identitytoken and registrytoken are kept', async () => {
    const kc = pullSecretKeychain([secret({ 'r.io': { identitytoken: 'refresh', registrytoken: 'bearer', username: '<token>' } })]);
    assert.deepEqual(await kc.resolve(parseRepository('r.io/x')), { username: '<token>', identityToken: 'refresh', registryToken: 'bearer' });
  });

  test('not a docker config: clear errors naming the Secret', () => {
    assert.throws(() => pullSecretKeychain([{ data: { username: 'u' }, name: 'ns/creds' }]), /Secret 'ns\/creds' has no '\.dockerconfigjson' key/);
    assert.throws(() => pullSecretKeychain([{ data: { '.dockerconfigjson': '{' }, name: 'ns/creds' }]), /not valid JSON/);
    assert.throws(() => pullSecretKeychain([{ data: { '.dockerconfigjson': '{}' }, type: 'Opaque', name: 'ns/creds' }]), /type 'Opaque'/);
    assert.throws(() => pullSecretKeychain([secret({ 'r.io': { auth: b64('nocolon') } })]), /must be base64 of 'username:password'/);
  });

  test('urlsMatch glob semantics', () => {
    assert.equal(urlsMatch('*.gcr.io', 'eu.gcr.io/p/i'), true);
    assert.equal(urlsMatch('*.gcr.io', 'gcr.io/p/i'), false);
    assert.equal(urlsMatch('r.io/a/b', 'r.io/a/bc'), true); // a plain string prefix, as in k8schain
    assert.equal(urlsMatch('r.io/a/b', 'r.io/a'), false);
  });
});
