import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { layerSelectorEqual, parseOciRepository } from '../../shared/oci/spec.js';
import { OciSpecError } from '../../shared/oci/errors.js';

const base = (spec: Record<string, unknown>) => ({
  apiVersion: 'source.toolkit.fluxcd.io/v1',
  kind: 'OCIRepository',
  metadata: { name: 'podinfo', namespace: 'flux-system' },
  spec: { url: 'oci://ghcr.io/stefanprodan/manifests/podinfo', interval: '5m', ...spec },
});

function rejects(spec: Record<string, unknown>, reason: string, message: RegExp): void {
  assert.throws(
    () => parseOciRepository(base(spec)),
    (err: unknown) => {
      assert.ok(err instanceof OciSpecError, String(err));
      assert.equal(err.reason, reason);
      assert.equal(err.stalled, true);
      assert.match(err.message, /^OCIRepository flux-system\/podinfo: /);
      assert.match(err.message, message);
      return true;
    },
  );
}

describe('parseOciRepository', () => {
  test('defaults: ref latest, provider generic, timeout 60s', () => {
    const o = parseOciRepository(base({}));
    assert.deepEqual(o.spec.ref, { kind: 'tag', tag: 'latest' });
    assert.equal(o.spec.provider, 'generic');
    assert.equal(o.spec.timeoutMs, 60_000);
    assert.equal(o.spec.intervalMs, 300_000);
    assert.deepEqual(o.spec.repository, { registry: 'ghcr.io', repository: 'stefanprodan/manifests/podinfo' });
    assert.equal(o.spec.ignore, undefined);
    assert.equal(o.spec.layerSelector, undefined);
  });

  test('ref precedence digest > semver > tag; semverFilter only with semver', () => {
    const d = `sha256:${'b'.repeat(64)}`;
    assert.deepEqual(parseOciRepository(base({ ref: { digest: d, semver: '>=1.0.0', tag: 'v1' } })).spec.ref, { kind: 'digest', digest: d });
    assert.deepEqual(parseOciRepository(base({ ref: { semver: '>=1.0.0', semverFilter: '^v', tag: 'v1' } })).spec.ref, { kind: 'semver', semver: '>=1.0.0', semverFilter: '^v' });
    assert.deepEqual(parseOciRepository(base({ ref: { tag: 'v1', semverFilter: 'x' } })).spec.ref, { kind: 'tag', tag: 'v1' });
  });

  test('URL problems are Stalled URLInvalid with Flux messages', () => {
    rejects({ url: 'oci://ghcr.io/test/test:v1' }, 'URLInvalid', /URL validation failed for 'oci:\/\/ghcr.io\/test\/test:v1': URL must not contain a tag; remove ':v1'/);
    rejects({ url: 'https://ghcr.io/test/test' }, 'URLInvalid', /URL must be in format 'oci:\/\/<domain>\/<org>\/<repo>'/);
    rejects({ url: 'oci://ghcr.io/Test/test' }, 'URLInvalid', /repository can only contain the characters/);
  });

  test('verify: cosign keys or keyless are read; notation is refused, never reported verified', () => {
    assert.deepEqual(parseOciRepository(base({ verify: { provider: 'cosign', secretRef: { name: 'keys' } } })).spec.verify, { provider: 'cosign', secretRef: { name: 'keys' }, matchOIDCIdentity: [] });
    const keyless = { matchOIDCIdentity: [{ issuer: '^https://token.actions.githubusercontent.com$', subject: '^https://github.com/fluxcd/flux2/.*$' }], trustedRootSecretRef: { name: 'root' } };
    assert.deepEqual(parseOciRepository(base({ verify: keyless })).spec.verify, { provider: 'cosign', ...keyless }, 'provider defaults to cosign');
    assert.equal(parseOciRepository(base({})).spec.verify, undefined);
    rejects({ verify: { provider: 'notation', secretRef: { name: 't' } } }, 'VerificationError', /spec.verify.provider 'notation' is not supported by Fluxless yet/);
    rejects({ verify: { provider: 'gpg' } }, 'InvalidSpec', /spec.verify.provider 'gpg' is not one of cosign, notation/);
    rejects({ verify: { provider: 'cosign', matchOIDCIdentity: [{ issuer: '(' , subject: 'x' }] } }, 'InvalidSpec', /matchOIDCIdentity\[0\]\.issuer '\(' is not a valid regular expression/);
    rejects({ verify: { provider: 'cosign', matchOIDCIdentity: [{ issuer: 'x' }] } }, 'InvalidSpec', /matchOIDCIdentity\[0\]\.subject is required/);
    rejects({ verify: { provider: 'cosign', secretRef: {} } }, 'InvalidSpec', /spec.verify.secretRef.name is required/);
    rejects({ verify: { provider: 'cosign', keys: 'x' } }, 'InvalidSpec', /spec.verify.keys is not a verify field/);
  });

  test('unsupported fields and providers are rejected with what to do', () => {
    rejects({ serviceAccountName: 'sa' }, 'UnsupportedField', /serviceAccountName is not supported.*spec.secretRef/);
    rejects({ proxySecretRef: { name: 'p' } }, 'UnsupportedField', /proxySecretRef/);
    rejects({ provider: 'azure' }, 'UnsupportedField', /'azure' is not supported by Fluxless yet/);
    rejects({ provider: 'oracle' }, 'InvalidSpec', /not one of generic, aws, azure, gcp/);
    rejects({ urls: 'x' }, 'InvalidSpec', /spec.urls is not an OCIRepository field/);
  });

  test('field validation', () => {
    rejects({ ref: { digest: 'sha256:123' } }, 'InvalidSpec', /spec.ref.digest 'sha256:123'/);
    rejects({ ref: { semver: '>= foo' } }, 'InvalidSpec', /semver '>= foo' parse error/);
    rejects({ ref: { semver: '*', semverFilter: '(' } }, 'InvalidSpec', /semverFilter '\(' is not a valid regular expression/);
    rejects({ layerSelector: { operation: 'move' } }, 'InvalidSpec', /must be 'extract' or 'copy'/);
    rejects({ interval: '5 minutes' }, 'InvalidSpec', /spec.interval '5 minutes'/);
    rejects({ timeout: '1h' }, 'InvalidSpec', /spec.timeout '1h'/);
    rejects({ secretRef: {} }, 'InvalidSpec', /spec.secretRef.name is required/);
  });

  test('layerSelector equality is Flux pointer equality', () => {
    assert.equal(layerSelectorEqual(undefined, undefined), true);
    assert.equal(layerSelectorEqual({}, undefined), false);
    assert.equal(layerSelectorEqual({ mediaType: 'a' }, { mediaType: 'a' }), true);
    assert.equal(layerSelectorEqual({ mediaType: 'a', operation: 'copy' }, { mediaType: 'a' }), false);
  });
});
