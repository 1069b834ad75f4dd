import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../shared/util/errors.js';
import { parseReceiver, parseReceiverObject } from '../../shared/receivers/spec.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import { receiverObject } from './helpers.js';

function withSpec(patch: Record<string, unknown>, remove: string[] = []): Record<string, unknown> {
  const obj = receiverObject({ name: 'github-receiver', type: 'github' });
  const spec = { ...(obj.spec as Record<string, unknown>), ...patch };
  for (const k of remove) delete spec[k];
  return { ...obj, spec };
}

function rejects(obj: unknown, pattern: RegExp): void {
  assert.throws(() => parseReceiver(obj), (err: unknown) => {
    assert.ok(err instanceof ValidationError, `expected ValidationError, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe('webhookPath', () => {
  test('is /hook/ + sha256hex(token + name + namespace), like Flux status.webhookPath', () => {
    // Computed with: printf '%s' 'my-webhook-tokengithub-receiverflux-system' | sha256sum
    assert.equal(
      webhookPath('my-webhook-token', 'github-receiver', 'flux-system'),
      '/hook/da67b1e697041d725d98f00cd27479cf475da87a937ed176b50e42fee773b2aa',
    );
  });
  test('changes when any of token, name or namespace changes', () => {
    const base = webhookPath('t', 'n', 'ns');
    assert.notEqual(webhookPath('t2', 'n', 'ns'), base);
    assert.notEqual(webhookPath('t', 'n2', 'ns'), base);
    assert.notEqual(webhookPath('t', 'n', 'ns2'), base);
  });
});

describe('parseReceiver', () => {
  test('parses a Flux v1 github Receiver with defaults', () => {
    const parsed = parseReceiverObject({
      apiVersion: 'notification.toolkit.fluxcd.io/v1',
      kind: 'Receiver',
      metadata: { name: 'github-receiver', namespace: 'flux-system' },
      spec: {
        type: 'github',
        events: ['ping', 'push'],
        secretRef: { name: 'receiver-token' },
        resources: [
          { kind: 'GitRepository', name: 'flux-system' },
          { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', namespace: 'apps', matchLabels: { team: 'web' } },
        ],
      },
    });
    assert.equal(parsed.namespace, 'flux-system');
    assert.equal(parsed.name, 'github-receiver');
    assert.deepEqual(parsed.spec, {
      type: 'github',
      events: ['ping', 'push'],
      secretRef: { name: 'receiver-token' },
      suspend: false,
      interval: '10m',
      resources: [
        // Flux's defaultFluxAPIVersions fills the GitRepository apiVersion.
        { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system' },
        { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', namespace: 'apps', matchLabels: { team: 'web' } },
      ],
    });
  });

  test('accepts every supported type, suspend and interval', () => {
    for (const type of ['github', 'gitlab', 'bitbucket', 'generic', 'generic-hmac', 'harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents', 'distribution']) {
      const spec = parseReceiver(withSpec({ type, suspend: true, interval: '1h30m' }));
      assert.equal(spec.type, type);
      assert.equal(spec.suspend, true);
      assert.equal(spec.interval, '1h30m');
    }
  });

  test('generic-oidc: oidcProviders required, secretRef refused, audience defaulted', () => {
    const provider = { issuerURL: 'https://token.actions.githubusercontent.com', validations: [{ expression: "claims.repository_owner == 'acme'", message: 'wrong owner' }] };
    const spec = parseReceiver(withSpec({ type: 'generic-oidc', oidcProviders: [provider] }, ['secretRef']));
    assert.equal(spec.type, 'generic-oidc');
    assert.equal(spec.secretRef.name, '');
    assert.deepEqual(spec.oidcProviders, [{ ...provider, audience: 'notification-controller', variables: [] }]);
    rejects(withSpec({ type: 'generic-oidc', oidcProviders: [provider] }), /spec\.secretRef cannot be set when type is generic-oidc/);
    rejects(withSpec({ type: 'generic-oidc' }, ['secretRef']), /spec\.oidcProviders is required for generic-oidc/);
    rejects(withSpec({ type: 'github', oidcProviders: [provider] }), /spec\.oidcProviders can only be set when type is generic-oidc/);
    rejects(withSpec({ type: 'generic-oidc', oidcProviders: [{ ...provider, validations: [] }] }, ['secretRef']), /oidcProviders\[0\]\.validations at least one validation is required/);
    rejects(withSpec({ type: 'generic-oidc', oidcProviders: [{ ...provider, issuerURL: 'token.example.com' }] }, ['secretRef']), /issuerURL "token\.example\.com" must start with http/);
    rejects(withSpec({ type: 'generic-oidc', oidcProviders: [provider, provider] }, ['secretRef']), /oidcProviders\[1\]\.issuerURL duplicate issuerURL/);
  });

  test('generic-oidc CEL variables and validations are compiled, with positions', () => {
    const provider = (v: unknown) => ({ issuerURL: 'https://issuer.example', ...(v as object) });
    const bad = (p: unknown, re: RegExp) => assert.throws(() => parseReceiver(withSpec({ type: 'generic-oidc', oidcProviders: [p] }, ['secretRef'])), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, re);
      return true;
    });
    bad(provider({ validations: [{ expression: 'claims.sub ==', message: 'm' }] }), /spec\.oidcProviders\[0\]\.validations\[0\]\.expression: invalid CEL expression "claims\.sub ==" at 1:\d+: syntax error/);
    bad(provider({ validations: [{ expression: "claims.sub", message: 'm' }] }), /validations\[0\]\.expression: invalid CEL expression "claims\.sub": the result type must be bool, got dyn/);
    bad(provider({ variables: [{ name: 'org', expression: 'claimz.org' }], validations: [{ expression: "vars.org == 'a'", message: 'm' }] }), /variables\[0\]\.expression: invalid CEL expression "claimz\.org" at 1:1: undeclared reference to 'claimz'/);
    bad(provider({ variables: [{ name: 'my-var', expression: 'claims.org' }], validations: [{ expression: 'true', message: 'm' }] }), /variables\[0\]\.name "my-var" must be a CEL identifier/);
  });

  test('rejects unknown and missing types naming spec.type', () => {
    rejects(withSpec({ type: 'jenkins' }), /Receiver flux-system\/github-receiver: spec\.type "jenkins" is not a Flux Receiver type/);
    rejects(withSpec({}, ['type']), /spec\.type is required/);
  });

  test('rejects a wrong apiVersion or kind', () => {
    rejects({ ...withSpec({}), apiVersion: 'notification.toolkit.fluxcd.io/v1beta1' }, /apiVersion must be "notification\.toolkit\.fluxcd\.io\/v1"/);
    rejects({ ...withSpec({}), kind: 'Alert' }, /kind must be "Receiver"/);
    rejects('not an object', /expected an object/);
  });

  test('requires spec.secretRef.name and spec.resources', () => {
    rejects(withSpec({}, ['secretRef']), /spec\.secretRef\.name is required/);
    rejects(withSpec({ secretRef: {} }), /spec\.secretRef\.name is required/);
    rejects(withSpec({}, ['resources']), /spec\.resources is required/);
  });

  test('validates resources entries and names the failing index', () => {
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: 'a' }, { kind: 'Deployment', name: 'web' }] }),
      /spec\.resources\[1\]\.kind "Deployment" is not a kind a Receiver can notify/);
    rejects(withSpec({ resources: [{ kind: 'GitRepository' }] }), /spec\.resources\[0\]\.name is required/);
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: 'x'.repeat(254) }] }), /spec\.resources\[0\]\.name must be at most 253/);
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: '*' }] }), /spec\.resources\[0\]\.matchLabels is required when name is '\*'/);
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: '*', matchLabels: { a: 1 } }] }), /spec\.resources\[0\]\.matchLabels\.a must be a string/);
  });

  test('requires apiVersion for kinds Flux does not default, with a hint', () => {
    assert.throws(
      () => parseReceiver(withSpec({ resources: [{ kind: 'Kustomization', name: 'apps' }] })),
      (err: unknown) => {
        assert.ok(err instanceof ValidationError);
        assert.match(err.message, /spec\.resources\[0\]\.apiVersion is required for kind Kustomization/);
        assert.match(err.hint ?? '', /kustomize\.toolkit\.fluxcd\.io\/v1/);
        return true;
      },
    );
  });

  test('accepts an empty matchLabels with the wildcard (selects every object of the kind)', () => {
    const spec = parseReceiver(withSpec({ resources: [{ kind: 'OCIRepository', name: '*', matchLabels: {} }] }));
    assert.deepEqual(spec.resources[0].matchLabels, {});
  });

  test('rejects bad events, interval and suspend', () => {
    rejects(withSpec({ events: 'push' }), /spec\.events must be a list/);
    rejects(withSpec({ events: ['push', 3] }), /spec\.events\[1\] must be a string/);
    rejects(withSpec({ interval: '10 minutes' }), /spec\.interval "10 minutes" is not a duration/);
    rejects(withSpec({ suspend: 'yes' }), /spec\.suspend must be true or false/);
  });

  test('resourceFilter and resources[].filter are kept and compiled when parsed', () => {
    const spec = parseReceiver(withSpec({
      resourceFilter: "res.metadata.name == 'web'",
      resources: [{ kind: 'ImageRepository', name: '*', matchLabels: {}, filter: "req.tag.startsWith(res.metadata.name)" }],
    }));
    assert.equal(spec.resourceFilter, "res.metadata.name == 'web'");
    assert.equal(spec.resources[0].filter, 'req.tag.startsWith(res.metadata.name)');
  });

  test('a bad filter is refused with the field, the expression and its position (Flux: InvalidCELExpression)', () => {
    assert.throws(() => parseReceiver(withSpec({ resourceFilter: "res.metadata.name == 'x' &&\n  reqq.tag == 1" })), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.equal(err.code, 'InvalidCELExpression');
      assert.match(err.message, /^Receiver flux-system\/github-receiver: spec\.resourceFilter: invalid CEL expression ".*" at 2:3: undeclared reference to 'reqq'/);
      return true;
    });
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: 'a' }, { kind: 'GitRepository', name: 'b', filter: "'test'" }] }),
      /spec\.resources\[1\]\.filter: invalid CEL expression "'test'": the result type must be bool, got string/);
    // claims exists only for generic-oidc.
    rejects(withSpec({ resourceFilter: "claims.sub == 'x'" }), /spec\.resourceFilter: invalid CEL expression .* undeclared reference to 'claims'/);
  });

  test('namespace defaults to "default" when metadata.namespace is absent', () => {
    const obj = withSpec({});
    obj.metadata = { name: 'r' };
    assert.equal(parseReceiverObject(obj).namespace, 'default');
  });
});
