import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFluxConfig, encodeImageManifest, parseManifest, pickPlatform } from '../../shared/oci/manifest.js';
import { checkRealm } from '../../shared/oci/tokens.js';
import { OCI_INDEX, OCI_MANIFEST } from '../../shared/oci/media-types.js';

const d = (c: string) => `sha256:${c.repeat(64)}`;

describe('manifest JSON', () => {
  test('encoded like Go: field order, sorted annotation keys, HTML characters escaped; parses back', () => {
    const bytes = encodeImageManifest({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.cncf.flux.config.v1+json', size: 2, digest: d('a') },
      layers: [{ mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', size: 3, digest: d('b') }],
      annotations: { z: '1', a: '<b>&' },
    });
    const text = bytes.toString();
    assert.ok(text.startsWith('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":'));
    assert.ok(text.endsWith('"annotations":{"a":"\\u003cb\\u003e\\u0026","z":"1"}}'));
    const parsed = parseManifest(bytes);
    assert.equal(parsed.kind, 'image');
    assert.equal(parsed.kind === 'image' && parsed.manifest.annotations?.a, '<b>&');
    assert.ok(JSON.parse(encodeFluxConfig('1970-01-01T00:00:00Z', d('c')).toString()).rootfs.diff_ids[0] === d('c'));
  });

  test('invalid manifests are refused with the reason', () => {
    assert.throws(() => parseManifest(Buffer.from('{')), /not valid JSON/);
    assert.throws(() => parseManifest(Buffer.from('{"schemaVersion":1}')), /schemaVersion 1/);
    assert.throws(() => parseManifest(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: 'x', size: 1, digest: 'nope' }, layers: [] }))), /config.digest/);
  });

  test('an index resolves to its linux/amd64 image', () => {
    const idx = parseManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: OCI_INDEX,
          manifests: [
            { mediaType: OCI_MANIFEST, size: 1, digest: d('1'), platform: { os: 'linux', architecture: 'arm64' } },
            { mediaType: OCI_MANIFEST, size: 1, digest: d('2'), platform: { os: 'linux', architecture: 'amd64' } },
          ],
        }),
      ),
    );
    assert.equal(idx.kind, 'index');
    assert.equal(idx.kind === 'index' && pickPlatform(idx.index)?.digest, d('2'));
  });
});

describe('token realm checks', () => {
  test('https realms are fine; http only for a plain-HTTP registry', () => {
    assert.equal(checkRealm('https://auth.docker.io/token', 'index.docker.io', false).host, 'auth.docker.io');
    assert.throws(() => checkRealm('http://auth.example.com/token', 'registry.example.com', false), /realm scheme 'http' not allowed/);
    assert.equal(checkRealm('http://127.0.0.1:5000/token', '127.0.0.1:5000', true).host, '127.0.0.1:5000');
  });

  test('a public registry cannot point us at metadata or private addresses', () => {
    assert.throws(() => checkRealm('https://169.254.169.254/latest', 'registry.example.com', false), /link-local/);
    assert.throws(() => checkRealm('https://10.0.0.5/token', 'registry.example.com', false), /private or loopback/);
    // A registry on a private network may use a token server on it.
    assert.equal(checkRealm('https://10.0.0.5/token', '10.0.0.4:443', false).hostname, '10.0.0.5');
  });
});
