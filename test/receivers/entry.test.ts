/** Resolving a Receiver's Secret (resolveReceiverEntry) and which Receivers the index serves. */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ReceiverIndex, resolveReceiverEntry } from '../../shared/receivers/directory.js';
import { parseReceiverObject } from '../../shared/receivers/spec.js';
import { ValidationError } from '../../shared/util/errors.js';
import { StaticDirectory, captureLogger, entry, oidcReceiverObject, receiverObject } from './helpers.js';

const provider = { issuerURL: 'https://issuer.example', validations: [{ expression: 'true', message: 'm' }] };

describe('resolveReceiverEntry', () => {
  test('reads the Secret named by secretRef and keeps every key (gcr needs email and audience)', async () => {
    const reads: string[] = [];
    const parsed = parseReceiverObject(receiverObject({ name: 'gar', type: 'gcr' }));
    const e = await resolveReceiverEntry(parsed, async (ns, name) => {
      reads.push(`${ns}/${name}`);
      return { token: 't', email: 'e@x', audience: 'a' };
    });
    assert.deepEqual(reads, ['flux-system/gar-token']);
    assert.equal(e.token, 't');
    assert.deepEqual(e.secret, { token: 't', email: 'e@x', audience: 'a' });
  });

  test('generic-oidc reads no Secret', async () => {
    const parsed = parseReceiverObject(oidcReceiverObject({ name: 'ci', type: 'generic-oidc', spec: { oidcProviders: [provider] } }));
    const e = await resolveReceiverEntry(parsed, async () => assert.fail('no Secret may be read'));
    assert.equal(e.token, '');
  });

  test('a Secret without token is refused, naming it', async () => {
    const parsed = parseReceiverObject(receiverObject({ name: 'hub', type: 'dockerhub' }));
    await assert.rejects(resolveReceiverEntry(parsed, async () => ({ other: 'x' })), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /Secret flux-system\/hub-token has no "token" key/);
      return true;
    });
  });
});

describe('ReceiverIndex', () => {
  test('serves generic-oidc at sha256("" + name + namespace); never another type without a token', async () => {
    const oidc = entry({ name: 'ci', namespace: 'apps', type: 'generic-oidc', spec: { oidcProviders: [provider] } }, '');
    const tokenless = entry({ name: 'hub', namespace: 'apps', type: 'dockerhub' }, '');
    const index = new ReceiverIndex(new StaticDirectory([oidc, tokenless]), { logger: captureLogger().logger });
    const digest = (s: string) => createHash('sha256').update(s).digest('hex');
    assert.equal((await index.lookup(digest('ciapps')))?.id, 'apps/ci');
    assert.equal(await index.lookup(digest('hubapps')), undefined);
    assert.equal(index.size, 1);
  });
});
