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
    for (const type of ['github', 'gitlab', 'bitbucket', 'generic', 'generic-hmac']) {
      const spec = parseReceiver(withSpec({ type, suspend: true, interval: '1h30m' }));
      assert.equal(spec.type, type);
      assert.equal(spec.suspend, true);
      assert.equal(spec.interval, '1h30m');
    }
  });

  test('rejects Flux types Fluxless does not implement with "not supported yet"', () => {
    for (const type of ['harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr']) {
      rejects(withSpec({ type }), new RegExp(`spec\\.type "${type}" is not supported yet`));
    }
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
    rejects(withSpec({ resources: [{ kind: 'GitRepository', name: 'x'.repeat(54) }] }), /spec\.resources\[0\]\.name must be at most 53/);
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

  test('rejects bad events, interval, suspend and resourceFilter', () => {
    rejects(withSpec({ events: 'push' }), /spec\.events must be a list/);
    rejects(withSpec({ events: ['push', 3] }), /spec\.events\[1\] must be a string/);
    rejects(withSpec({ interval: '10 minutes' }), /spec\.interval "10 minutes" is not a duration/);
    rejects(withSpec({ suspend: 'yes' }), /spec\.suspend must be true or false/);
    rejects(withSpec({ resourceFilter: 'res.metadata.name == "x"' }), /spec\.resourceFilter \(CEL\) is not supported yet/);
  });

  test('namespace defaults to "default" when metadata.namespace is absent', () => {
    const obj = withSpec({});
    obj.metadata = { name: 'r' };
    assert.equal(parseReceiverObject(obj).namespace, 'default');
  });
});
