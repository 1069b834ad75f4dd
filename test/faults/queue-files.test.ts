/**
 * Standing fault suite (issue 9, finding 9): corrupt files in the local work queue's
 * directory (queue/local.ts, the queue `fluxless serve` runs on) never stop it from opening.
 * A directory named like a message file is set aside (renamed, never deleted); unreadable
 * message files are moved to the dead-letter directory with a reason that names the file;
 * the good messages next to them are delivered; opening again changes nothing more.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LocalWorkQueue, reconcileMessage } from '../../shared/queue/index.js';

async function queueDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-fault-queue-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A queue directory holding one good message, left by an owner that is gone. */
async function withOneMessage(dir: string): Promise<string> {
  const q = await LocalWorkQueue.open(dir, { fsync: false });
  const { messageId } = await q.send(reconcileMessage({ kind: 'Kustomization', namespace: 'ns', name: 'good' }, 'poll'));
  await q.close();
  return messageId;
}

const target = (name: string) => ({ kind: 'Kustomization', namespace: 'ns', name });

test('a directory named like a message file and corrupt message files do not stop the local queue from opening', async (t) => {
  const dir = await queueDir(t);
  const goodId = await withOneMessage(dir);
  const messages = path.join(dir, 'messages');
  const good = readFileSync(path.join(messages, `${goodId}.json`), 'utf8');

  const dirEntry = `${randomUUID()}.json`;
  mkdirSync(path.join(messages, dirEntry));
  writeFileSync(path.join(messages, dirEntry, 'keep-me'), 'something a user put here');
  const corrupt: Record<string, string> = {
    [`${randomUUID()}.json`]: good.slice(0, Math.floor(good.length / 2)), // truncated by a crash or a full disk
    [`${randomUUID()}.json`]: '\u0000\u0001 not json at all',
    [`${randomUUID()}.json`]: JSON.stringify({ id: 'x', note: 'JSON, but not a queue message' }),
  };
  for (const [name, text] of Object.entries(corrupt)) writeFileSync(path.join(messages, name), text);

  const q = await LocalWorkQueue.open(dir, { fsync: false });
  t.after(() => q.close());
  const got = await q.receive({ max: 10, visibilityTimeoutSeconds: 30 });
  assert.deepEqual(got.map((m) => m.message.target), [target('good')], 'the good message is delivered');
  await q.ack(got[0]!.receipt);

  // The directory was set aside with what it held, not deleted and not left in the way.
  assert.equal(existsSync(path.join(messages, dirEntry)), false, 'no longer where a message file goes');
  const aside = readdirSync(messages).filter((n) => n.startsWith(`${dirEntry}.unreadable-`));
  assert.equal(aside.length, 1, `set aside: ${readdirSync(messages).join(', ')}`);
  assert.ok(statSync(path.join(messages, aside[0]!)).isDirectory());
  assert.equal(readFileSync(path.join(messages, aside[0]!, 'keep-me'), 'utf8'), 'something a user put here');

  // Each corrupt file is quarantined in the dead-letter directory, with a reason naming it and its bytes kept.
  const dead = await q.listDead();
  for (const [name, text] of Object.entries(corrupt)) {
    assert.equal(existsSync(path.join(messages, name)), false, `${name} left messages/`);
    const d = dead.find((x) => x.reason.includes(name));
    assert.ok(d, `a dead letter names ${name}: ${dead.map((x) => x.reason).join(' | ')}`);
    assert.match(d.reason, /unreadable/);
    assert.equal(d.raw, text, 'the bytes are kept for inspection');
  }
  assert.equal(dead.length, Object.keys(corrupt).length);
  await q.close();

  // Opening again finds nothing new to set aside and loses nothing.
  const again = await LocalWorkQueue.open(dir, { fsync: false });
  t.after(() => again.close());
  assert.equal((await again.listDead()).length, Object.keys(corrupt).length);
  assert.deepEqual(await again.receive({ max: 10, visibilityTimeoutSeconds: 30 }), []);
});

test(
  'a directory named like a message file in incoming/ does not stop the local queue from opening',
  async (t) => {
    const dir = await queueDir(t);
    await withOneMessage(dir);
    mkdirSync(path.join(dir, 'incoming', `${randomUUID()}.json`), { recursive: true });
    const q = await LocalWorkQueue.open(dir, { fsync: false });
    t.after(() => q.close());
    const got = await q.receive({ max: 10, visibilityTimeoutSeconds: 30 });
    assert.deepEqual(got.map((m) => m.message.target), [target('good')]);
  },
);

test(
  'a directory named like a dead-letter file does not break listing the dead letters',
  async (t) => {
    const dir = await queueDir(t);
    await withOneMessage(dir);
    mkdirSync(path.join(dir, 'dead', `${randomUUID()}.json`), { recursive: true });
    const q = await LocalWorkQueue.open(dir, { fsync: false });
    t.after(() => q.close());
    const dead = await q.listDead();
    assert.equal(dead.length, 1, 'the entry is reported, not a crash');
    assert.match(dead[0]!.reason, /not a (readable )?file|unreadable/);
  },
);
