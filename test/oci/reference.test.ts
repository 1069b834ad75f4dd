import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReference, isLocalRegistry, parseReference, parseRepository } from '../../shared/oci/reference.js';
import { parseChallenges } from '../../shared/oci/challenge.js';

describe('references', () => {
  test('docker.io and one-component names normalise like go-containerregistry', () => {
    assert.deepEqual(parseRepository('alpine'), { registry: 'index.docker.io', repository: 'library/alpine' });
    assert.deepEqual(parseRepository('docker.io/alpine'), { registry: 'index.docker.io', repository: 'library/alpine' });
    assert.deepEqual(parseRepository('fluxcd/flux'), { registry: 'index.docker.io', repository: 'fluxcd/flux' });
    assert.deepEqual(parseRepository('oci://ghcr.io/org/app'), { registry: 'ghcr.io', repository: 'org/app' });
    // The first component is a registry only with '.', ':' or localhost.
    assert.deepEqual(parseRepository('localhost/app'), { registry: 'localhost', repository: 'app' });
    assert.deepEqual(parseRepository('myregistry:5000/app'), { registry: 'myregistry:5000', repository: 'app' });
  });

  test('tags and digests; a port is not a tag', () => {
    const hex = 'a'.repeat(64);
    assert.deepEqual(parseReference('oci://localhost:5000/repo'), { registry: 'localhost:5000', repository: 'repo' });
    assert.deepEqual(parseReference('localhost:5000/repo:v1.2'), { registry: 'localhost:5000', repository: 'repo', tag: 'v1.2' });
    assert.deepEqual(parseReference(`ghcr.io/a/b@sha256:${hex}`), { registry: 'ghcr.io', repository: 'a/b', digest: `sha256:${hex}` });
    assert.equal(formatReference(parseReference(`ghcr.io/a/b:t@sha256:${hex}`)), `ghcr.io/a/b:t@sha256:${hex}`);
  });

  test('invalid names say what is wrong', () => {
    assert.throws(() => parseRepository('ghcr.io/Org/App'), /repository can only contain the characters/);
    assert.throws(() => parseReference('ghcr.io/a/b@sha256:abc'), /invalid digest 'sha256:abc'/);
    assert.throws(() => parseReference('ghcr.io/a/b:-bad'), /tag '-bad'/);
    assert.throws(() => parseRepository('ghcr.io/a//b'), /empty/);
  });

  test('plain-HTTP candidates follow go-containerregistry Scheme()', () => {
    for (const h of ['localhost:5000', '127.0.0.1:5000', 'registry.localhost', '10.1.2.3', '172.16.0.1:80', '192.168.1.1', '[::1]:5000']) assert.equal(isLocalRegistry(h), true, h);
    for (const h of ['ghcr.io', '172.32.0.1', '8.8.8.8:5000', 'localhost.example.com']) assert.equal(isLocalRegistry(h), false, h);
  });
});

describe('WWW-Authenticate', () => {
  test('bearer challenge with quoted params, and several challenges', () => {
    const c = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull,push"');
    assert.deepEqual(c, [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull,push' } }]);
    const two = parseChallenges(['Basic realm="r"', 'Bearer realm="https://x/t", error="invalid_token"']);
    assert.deepEqual(two.map((x) => x.scheme), ['basic', 'bearer']);
    assert.equal(two[1].params.error, 'invalid_token');
  });
});
