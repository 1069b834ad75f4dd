import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../shared/util/errors.js';
import {
  MalformedMessage,
  assertQueueId,
  dedupIdFor,
  groupIdFor,
  parseMessage,
  reconcileMessage,
  serializeMessage,
} from '../../shared/queue/index.js';

const target = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };

function malformed(body: unknown): MalformedMessage {
  const r = parseMessage(typeof body === 'string' ? body : JSON.stringify(body));
  assert.equal(r.ok, false, `expected ${JSON.stringify(body)} to be rejected`);
  if (r.ok) throw new Error('unreachable');
  assert.ok(r.error instanceof MalformedMessage);
  assert.ok(r.error instanceof ValidationError);
  return r.error;
}

describe('queue message schema', () => {
  test('a built message survives serialize + parse unchanged', () => {
    const m = reconcileMessage(target, 'webhook', { revision: 'main@sha1:0123abc', requestedAt: new Date('2024-05-06T07:08:09.010Z') });
    assert.equal(m.v, 1);
    assert.equal(m.type, 'reconcile');
    assert.equal(m.requestedAt, '2024-05-06T07:08:09.010Z');
    assert.ok(m.id.length > 0);
    const r = parseMessage(serializeMessage(m));
    assert.deepEqual(r, { ok: true, message: m });
  });

  test('each new message gets its own id; reasons outside the known list are accepted', () => {
    const a = reconcileMessage(target, 'poll');
    const b = reconcileMessage(target, 'image-update');
    assert.notEqual(a.id, b.id);
    assert.equal(b.reason, 'image-update');
  });

  test('unknown extra fields are dropped, known ones kept', () => {
    const m = reconcileMessage(target, 'manual');
    const r = parseMessage(JSON.stringify({ ...m, future: { x: 1 } }));
    assert.ok(r.ok);
    assert.deepEqual(r.message, m);
  });

  test('bad bodies come back as MalformedMessage naming the problem', () => {
    const m = reconcileMessage(target, 'manual');
    assert.match(malformed('nope').message, /not valid JSON/);
    assert.match(malformed([m]).message, /must be a JSON object, got an array/);
    assert.match(malformed({ ...m, v: 2 }).message, /unsupported message version 2/);
    assert.equal(malformed({ ...m, v: '1' }).field, 'v');
    assert.match(malformed({ ...m, type: 'delete' }).message, /unknown message type "delete"/);
    assert.equal(malformed({ ...m, target: { ...target, name: '' } }).field, 'target.name');
    assert.equal(malformed({ ...m, target: { kind: 'Kustomization', name: 'x' } }).field, 'target.namespace');
    assert.equal(malformed({ ...m, revision: 42 }).field, 'revision');
    assert.equal(malformed({ ...m, reason: undefined }).field, 'reason');
    assert.match(malformed({ ...m, requestedAt: '2024-13-99' }).message, /ISO 8601/);
    assert.equal(malformed({ ...m, id: '' }).field, 'id');
  });

  test('parseMessage never throws, whatever it gets', () => {
    for (const body of ['', 'null', '1', '"s"', '{', '{"v":1}', '[]', '{"v":1,"type":"reconcile","target":null}']) {
      assert.equal(parseMessage(body).ok, false, body);
    }
    assert.equal(parseMessage(undefined).ok, false);
  });

  test('serializeMessage and reconcileMessage refuse invalid messages', () => {
    assert.throws(() => reconcileMessage({ ...target, kind: '' }, 'manual'), MalformedMessage);
    assert.throws(() => serializeMessage({ ...reconcileMessage(target, 'manual'), requestedAt: 'now' }), MalformedMessage);
  });
});

describe('queue group and dedup ids', () => {
  test('the group is kind/namespace/name; dedup is object + revision, else the message id', () => {
    assert.equal(groupIdFor(target), 'Kustomization/flux-system/apps');
    const a = reconcileMessage(target, 'webhook', { revision: 'main@sha1:abc' });
    const b = reconcileMessage(target, 'poll', { revision: 'main@sha1:abc' });
    assert.equal(dedupIdFor(a), dedupIdFor(b));
    assert.equal(dedupIdFor(a), 'Kustomization/flux-system/apps@main@sha1:abc');
    const c = reconcileMessage(target, 'manual');
    const d = reconcileMessage(target, 'manual');
    assert.notEqual(dedupIdFor(c), dedupIdFor(d));
  });

  test('ids too long or with characters SQS refuses are hashed into valid, stable, distinct ids', () => {
    const long = { kind: 'Kustomization', namespace: 'ns', name: 'x'.repeat(200) };
    const long2 = { ...long, name: `${'x'.repeat(199)}y` };
    const g = groupIdFor(long);
    assert.ok(g.length <= 128);
    assertQueueId('groupId', g);
    assert.equal(groupIdFor(long), g);
    assert.notEqual(groupIdFor(long2), g);
    const unicode = dedupIdFor(reconcileMessage(target, 'webhook', { revision: 'fonctionnalité@sha1:abc' }));
    assertQueueId('dedupId', unicode);
    assert.notEqual(unicode, dedupIdFor(reconcileMessage(target, 'webhook', { revision: 'fonctionnalite@sha1:abc' })));
  });

  test('assertQueueId rejects what SQS would', () => {
    for (const bad of ['', 'a b', 'x'.repeat(129), 'é', 3]) {
      assert.throws(() => assertQueueId('groupId', bad), ValidationError, String(bad));
    }
  });
});
