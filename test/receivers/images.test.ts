import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageName } from '../../shared/receivers/images.js';

describe('parseImageName', () => {
  test('Docker Hub names get docker.io and library/', () => {
    assert.deepEqual(parseImageName('nginx'), { host: 'docker.io', repository: 'library/nginx', image: 'docker.io/library/nginx' });
    assert.deepEqual(parseImageName('index.docker.io/acme/app:1.0'), { host: 'docker.io', repository: 'acme/app', image: 'docker.io/acme/app', tag: '1.0' });
    assert.equal(parseImageName('registry-1.docker.io/redis')?.image, 'docker.io/library/redis');
  });

  test('a first segment with a dot, a port or localhost is the host (lower-cased)', () => {
    assert.deepEqual(parseImageName('GHCR.io/Org/App@sha256:abc'), { host: 'ghcr.io', repository: 'Org/App', image: 'ghcr.io/Org/App', digest: 'sha256:abc' });
    assert.deepEqual(parseImageName('127.0.0.1:5000/team/app:v1'), { host: '127.0.0.1:5000', repository: 'team/app', image: '127.0.0.1:5000/team/app', tag: 'v1' });
    assert.equal(parseImageName('localhost/app')?.host, 'localhost');
    assert.equal(parseImageName('acme/app')?.host, 'docker.io');
  });

  test('a URL scheme and trailing slash are dropped; tag and digest together', () => {
    assert.deepEqual(parseImageName('https://quay.io/ns/repo/'), { host: 'quay.io', repository: 'ns/repo', image: 'quay.io/ns/repo' });
    assert.deepEqual(parseImageName('gcr.io/p/i:1.1@sha256:ff'), { host: 'gcr.io', repository: 'p/i', image: 'gcr.io/p/i', tag: '1.1', digest: 'sha256:ff' });
  });

  test('no default host when the sender gives none', () => {
    assert.deepEqual(parseImageName('acme/podinfo', ''), { host: '', repository: 'acme/podinfo', image: 'acme/podinfo' });
  });

  test('a run of slashes before the name is kept, and a reference over 4096 characters is refused', () => {
    assert.equal(parseImageName(`quay.io/${'/'.repeat(20)}a`)?.repository, `${'/'.repeat(20)}a`);
    assert.equal(parseImageName(`quay.io/${'/'.repeat(20_000)}a`), undefined);
    assert.equal(parseImageName(`quay.io/ns/${'a'.repeat(4096)}`), undefined);
    assert.equal(parseImageName(`quay.io/ns/${'a'.repeat(4000)}`)?.host, 'quay.io');
  });

  test('not a reference', () => {
    assert.equal(parseImageName(''), undefined);
    assert.equal(parseImageName('two words'), undefined);
    assert.equal(parseImageName(':latest'), undefined);
  });
});
