import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EnvironmentError } from '../../shared/util/errors.js';
import { LocalWorkQueue, reconcileMessage, type ReceivedMessage, type ReconcileMessage } from '../../shared/queue/index.js';
import { workQueueSuite } from './suite.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'local-child.ts');

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-queue-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function openQueue(t: TestContext, dir: string): Promise<LocalWorkQueue> {
  const q = await LocalWorkQueue.open(dir);
  t.after(() => q.close());
  return q;
}

function msg(name: string, revision?: string): ReconcileMessage {
  return reconcileMessage({ kind: 'Kustomization', namespace: 'apps', name }, 'manual', { revision });
}

/** Runs the fixture in another process; resolves with its stdout (also when it was killed). */
function child(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    p.on('error', reject);
    p.on('close', (code, signal) => {
      if (code === 0 || signal === 'SIGKILL') resolve(out.trim());
      else reject(new Error(`child ${args.join(' ')} exited with ${code}: ${err}`));
    });
  });
}

/** Receives and acks until the queue stays empty. */
async function drain(q: LocalWorkQueue): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (let empty = 0; empty < 2; ) {
    const got = await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 });
    if (got.length === 0) empty++;
    for (const r of got) {
      out.push(r);
      await q.ack(r.receipt);
    }
  }
  return out;
}

workQueueSuite('LocalWorkQueue', async (t) => openQueue(t, await tempDir(t)));

describe('LocalWorkQueue: restart and ownership', () => {
  test('a new instance on the same directory loses nothing and duplicates nothing', async (t) => {
    const dir = await tempDir(t);
    const q1 = await LocalWorkQueue.open(dir);
    const a1 = msg('podinfo');
    const a2 = msg('podinfo');
    const b1 = msg('b');
    const c1 = msg('c');
    const d1 = msg('d', 'main@sha1:abc');
    const sent = new Map<string, string>();
    for (const m of [a1, a2, b1, c1, d1]) sent.set(m.id, (await q1.send(m)).messageId);
    const inFlight = await q1.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 600 });
    assert.deepEqual(inFlight.map((r) => r.message.id).sort(), [a1.id, b1.id, c1.id, d1.id].sort());
    await q1.ack(inFlight.find((r) => r.message.id === b1.id)!.receipt);
    await q1.close(); // a1, c1, d1 stay in flight on disk

    const q2 = await openQueue(t, dir);
    const dup = await q2.send(msg('d', 'main@sha1:abc'));
    assert.equal(dup.messageId, sent.get(d1.id), 'the dedup window did not survive the restart');
    const a3 = msg('podinfo');
    await q2.send(a3);
    const got = await drain(q2);
    assert.deepEqual(got.map((r) => r.message.id).sort(), [a1.id, a2.id, a3.id, c1.id, d1.id].sort());
    assert.deepEqual(
      got.filter((r) => r.message.target.name === 'podinfo').map((r) => r.message.id),
      [a1.id, a2.id, a3.id],
      'send order within the group was lost across the restart',
    );
    const counts = Object.fromEntries(got.map((r) => [r.message.id, r.receiveCount]));
    assert.deepEqual(counts, { [a1.id]: 2, [a2.id]: 1, [a3.id]: 1, [c1.id]: 2, [d1.id]: 2 });
    await q2.close();

    const q3 = await openQueue(t, dir);
    assert.deepEqual(await q3.receive({ max: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 }), []);
    assert.deepEqual(await q3.listDead(), []);
  });

  test('messages held by a process that was killed are delivered again at once', async (t) => {
    const dir = await tempDir(t);
    const sender = new LocalWorkQueue(dir); // not the owner: writes to incoming/
    const m1 = msg('a');
    const m2 = msg('b');
    await sender.send(m1);
    await sender.send(m2);
    const held = JSON.parse(await child('crash', dir)) as string[];
    assert.deepEqual(held.sort(), [m1.id, m2.id].sort(), 'the killed process did not receive the messages');

    const q = await openQueue(t, dir); // takes over the dead process's lock
    const got = await q.receive({ max: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 });
    assert.deepEqual(got.map((r) => r.message.id).sort(), [m1.id, m2.id].sort());
    assert.deepEqual(got.map((r) => r.receiveCount), [2, 2]);
  });

  test('one owner per directory; other instances and processes can still send', async (t) => {
    const dir = await tempDir(t);
    const q = await openQueue(t, dir);
    await assert.rejects(LocalWorkQueue.open(dir), (err: unknown) => {
      assert.ok(err instanceof EnvironmentError);
      assert.match(err.message, /already open in this process/);
      return true;
    });
    assert.match(await child('open', dir), new RegExp(`error: .*in use by process ${process.pid}`));

    const m = msg('podinfo');
    await new LocalWorkQueue(dir).send(m);
    const [r] = await q.receive({ max: 1, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
    assert.equal(r?.message.id, m.id);
  });

  test('a long-polling owner receives a message another process sends', async (t) => {
    const dir = await tempDir(t);
    const q = await openQueue(t, dir);
    const polling = q.receive({ max: 1, waitSeconds: 20, visibilityTimeoutSeconds: 30 });
    const id = await child('send', dir, 'from-cli');
    const [r] = await polling;
    assert.ok(r, 'the long poll ended without the message');
    assert.equal(r.message.id, id);
    assert.equal(r.message.target.name, 'from-cli');
  });

  test('an unreadable message file goes to the dead-letter directory instead of stopping the queue', async (t) => {
    const dir = await tempDir(t);
    await mkdir(path.join(dir, 'messages'), { recursive: true });
    await writeFile(path.join(dir, 'messages', 'torn.json'), '{"id":"torn","seq":');
    const q = await openQueue(t, dir);
    const dead = await q.listDead();
    assert.equal(dead.length, 1);
    assert.match(dead[0].reason, /torn\.json is unreadable/);
    assert.equal(dead[0].raw, '{"id":"torn","seq":');
    const m = msg('still-works');
    await q.send(m);
    const [r] = await q.receive({ max: 1, waitSeconds: 1, visibilityTimeoutSeconds: 30 });
    assert.equal(r?.message.id, m.id);
  });
});
