/**
 * The behaviour every WorkQueue implementation must show. Run by local.test.ts and
 * sqs.test.ts against LocalWorkQueue and SqsWorkQueue (fauxqs).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../shared/util/errors.js';
import {
  MalformedMessage,
  ReceiptExpiredError,
  groupIdFor,
  reconcileMessage,
  type ReceivedMessage,
  type ReconcileMessage,
  type WorkQueue,
} from '../../shared/queue/index.js';

export type QueueFactory = (t: TestContext) => Promise<WorkQueue>;

const ns = 'apps';
function msg(name: string, opts: { revision?: string; reason?: string } = {}): ReconcileMessage {
  return reconcileMessage({ kind: 'Kustomization', namespace: ns, name }, opts.reason ?? 'manual', { revision: opts.revision });
}
function group(name: string): string {
  return groupIdFor({ kind: 'Kustomization', namespace: ns, name });
}

/** Receives (and keeps in flight) until `n` messages were collected or `rounds` polls came back empty. */
async function collect(q: WorkQueue, n: number, vt = 30, rounds = 3): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  let empty = 0;
  while (out.length < n && empty < rounds) {
    const got = await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: vt });
    if (got.length === 0) empty++;
    out.push(...got);
  }
  return out;
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function workQueueSuite(name: string, make: QueueFactory): void {
  describe(`${name}: shared WorkQueue semantics`, () => {
    test('delivers the messages of one group in send order', async (t) => {
      const q = await make(t);
      const sent = [msg('podinfo'), msg('podinfo'), msg('podinfo'), msg('podinfo')];
      for (const m of sent) await q.send(m);
      const seen: string[] = [];
      for (let i = 0; i < sent.length; i++) {
        const [r, ...rest] = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
        assert.ok(r, `message ${i + 1} was not delivered`);
        assert.equal(rest.length, 0, 'more than one message of the group was delivered at once');
        assert.equal(r.groupId, group('podinfo'));
        assert.equal(r.receiveCount, 1);
        seen.push(r.message.id);
        await q.ack(r.receipt);
      }
      assert.deepEqual(seen, sent.map((m) => m.id));
    });

    test('keeps only one message of a group in flight', async (t) => {
      const q = await make(t);
      const a1 = msg('a');
      const a2 = msg('a');
      await q.send(a1);
      await q.send(a2);
      const first = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
      assert.deepEqual(first.map((r) => r.message.id), [a1.id]);
      const whileBusy = await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 });
      assert.deepEqual(whileBusy, [], 'the second message of the group was delivered while the first was in flight');
      await q.ack(first[0].receipt);
      const next = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
      assert.deepEqual(next.map((r) => r.message.id), [a2.id]);
    });

    test('delivers different groups in parallel', async (t) => {
      const q = await make(t);
      const a1 = msg('a');
      const a2 = msg('a');
      const b1 = msg('b');
      const c1 = msg('c');
      for (const m of [a1, b1, a2, c1]) await q.send(m);
      const got = await collect(q, 3);
      assert.deepEqual(got.map((r) => r.message.id).sort(), [a1.id, b1.id, c1.id].sort());
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 }), []);
    });

    test('drops a message whose dedupId was sent in the last five minutes, even after ack', async (t) => {
      const q = await make(t);
      const first = msg('podinfo', { revision: 'main@sha1:1111111' });
      const again = msg('podinfo', { revision: 'main@sha1:1111111', reason: 'webhook' });
      const r1 = await q.send(first);
      const r2 = await q.send(again);
      assert.equal(r2.messageId, r1.messageId, 'a duplicate send should report the original message');
      const got = await collect(q, 2, 30, 1);
      assert.deepEqual(got.map((r) => r.message.id), [first.id]);
      await q.ack(got[0].receipt);
      await q.send(msg('podinfo', { revision: 'main@sha1:1111111' }));
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 }), []);
      const newer = msg('podinfo', { revision: 'main@sha1:2222222' });
      await q.send(newer);
      const next = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
      assert.deepEqual(next.map((r) => r.message.id), [newer.id]);
    });

    test('redelivers a message when its visibility timeout expires', async (t) => {
      const q = await make(t);
      const m = msg('podinfo');
      await q.send(m);
      const [first] = await q.receive({ max: 1, waitSeconds: 2, visibilityTimeoutSeconds: 1 });
      assert.equal(first.receiveCount, 1);
      const [second] = await q.receive({ max: 1, waitSeconds: 5, visibilityTimeoutSeconds: 30 });
      assert.ok(second, 'the message did not come back after its visibility timeout');
      assert.equal(second.message.id, m.id);
      assert.equal(second.receiveCount, 2);
      assert.notEqual(second.receipt, first.receipt);
      await assert.rejects(q.extend(first.receipt, 30), ReceiptExpiredError);
      await q.ack(first.receipt); // a stale receipt must not delete the redelivered message...
      await q.ack(second.receipt); // ...the current one does
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 }), []);
    });

    test('extend keeps a message hidden past its original timeout', async (t) => {
      const q = await make(t);
      await q.send(msg('podinfo'));
      const [r] = await q.receive({ max: 1, waitSeconds: 2, visibilityTimeoutSeconds: 1 });
      await q.extend(r.receipt, 10);
      assert.deepEqual(
        await q.receive({ max: 10, waitSeconds: 3, visibilityTimeoutSeconds: 30 }),
        [],
        'the message came back although its visibility was extended',
      );
      await q.ack(r.receipt);
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 }), []);
    });

    test('release gives a message back; its group waits for the delay', async (t) => {
      const q = await make(t);
      const a1 = msg('a');
      const a2 = msg('a');
      await q.send(a1);
      await q.send(a2);
      const [r1] = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
      await q.release(r1.receipt);
      const [r2] = await q.receive({ max: 10, waitSeconds: 2, visibilityTimeoutSeconds: 30 });
      assert.equal(r2.message.id, a1.id, 'a released message keeps its place at the head of its group');
      assert.equal(r2.receiveCount, 2);
      await q.release(r2.receipt, 2);
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 }), []);
      const [r3] = await q.receive({ max: 10, waitSeconds: 6, visibilityTimeoutSeconds: 30 });
      assert.equal(r3.message.id, a1.id);
      assert.equal(r3.receiveCount, 3);
    });

    test('a message sent with delaySeconds is delivered once due, as its first delivery', async (t) => {
      const q = await make(t);
      const m = msg('podinfo');
      await q.send(m, { delaySeconds: 2 });
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 0, visibilityTimeoutSeconds: 30 }), []);
      const [r] = await q.receive({ max: 10, waitSeconds: 6, visibilityTimeoutSeconds: 30 });
      assert.ok(r, 'the delayed message was never delivered');
      assert.equal(r.message.id, m.id);
      assert.equal(r.receiveCount, 1);
    });

    test('consume retries a failing message with backoff, then dead-letters it with the reason', async (t) => {
      const q = await make(t);
      const m = msg('broken');
      const ok = msg('healthy');
      await q.send(m);
      await q.send(ok);
      const counts: number[] = [];
      const done: string[] = [];
      const ac = new AbortController();
      const loop = q.consume(
        async (r) => {
          if (r.message.id === ok.id) {
            done.push(r.message.id);
            return;
          }
          counts.push(r.receiveCount);
          throw new Error('kustomize build failed: accumulating resources');
        },
        { concurrency: 2, maxReceives: 3, visibilityTimeoutSeconds: 5, waitSeconds: 1, backoffSeconds: () => 0, signal: ac.signal },
      );
      try {
        await waitFor('three failed attempts', () => counts.length >= 3);
        await waitFor('the dead letter', async () => (await q.listDead()).length > 0);
      } finally {
        ac.abort();
        await loop;
      }
      assert.deepEqual(counts, [1, 2, 3]);
      assert.deepEqual(done, [ok.id]);
      const dead = await q.listDead();
      assert.equal(dead.length, 1);
      assert.equal(dead[0].message?.id, m.id);
      assert.equal(dead[0].groupId, group('broken'));
      assert.equal(dead[0].receiveCount, 3);
      assert.match(dead[0].reason, /kustomize build failed: accumulating resources/);
      assert.match(dead[0].reason, /Kustomization\/apps\/broken failed 3 time/);
      assert.deepEqual(await q.receive({ max: 10, waitSeconds: 1, visibilityTimeoutSeconds: 30 }), []);
    });

    test('consume dead-letters a message whose earlier deliveries never finished', async (t) => {
      const q = await make(t);
      const m = msg('crashy');
      await q.send(m);
      // Two deliveries that "crash": never settled, they time out.
      for (let i = 1; i <= 2; i++) {
        const [r] = await q.receive({ max: 1, waitSeconds: 5, visibilityTimeoutSeconds: 1 });
        assert.equal(r?.receiveCount, i);
      }
      let called = 0;
      const ac = new AbortController();
      const loop = q.consume(
        async () => {
          called++;
        },
        { maxReceives: 2, visibilityTimeoutSeconds: 5, waitSeconds: 1, signal: ac.signal },
      );
      try {
        await waitFor('the dead letter', async () => (await q.listDead()).length > 0);
      } finally {
        ac.abort();
        await loop;
      }
      assert.equal(called, 0, 'the handler ran for a message past maxReceives');
      const [dead] = await q.listDead();
      assert.equal(dead.message?.id, m.id);
      assert.match(dead.reason, /without finishing/);
    });

    test('malformed messages go to the dead-letter queue with the reason, at once', async (t) => {
      const q = await make(t);
      const good = msg('fine');
      await q.sendRaw('{not json', { groupId: 'bad-1', dedupId: 'bad-1' });
      await q.sendRaw(JSON.stringify({ ...msg('x'), v: 2 }), { groupId: 'bad-2', dedupId: 'bad-2' });
      const { target: _target, ...noTarget } = msg('y');
      await q.sendRaw(JSON.stringify(noTarget), { groupId: 'bad-3', dedupId: 'bad-3' });
      await q.send(good);
      const got = await collect(q, 1);
      assert.deepEqual(got.map((r) => r.message.id), [good.id]);
      await waitFor('three dead letters', async () => (await q.listDead()).length >= 3);
      const dead = await q.listDead();
      const byGroup = new Map(dead.map((d) => [d.groupId, d]));
      assert.equal(dead.length, 3);
      assert.match(byGroup.get('bad-1')?.reason ?? '', /malformed message: .*not valid JSON/);
      assert.equal(byGroup.get('bad-1')?.raw, '{not json');
      assert.match(byGroup.get('bad-2')?.reason ?? '', /unsupported message version 2/);
      assert.match(byGroup.get('bad-3')?.reason ?? '', /"target"/);
      for (const d of dead) {
        assert.equal(d.message, undefined);
        assert.equal(d.receiveCount, 1);
      }
    });

    test('consume runs different groups in parallel, never one group twice, within the concurrency', async (t) => {
      const q = await make(t);
      const names = ['g1', 'g2', 'g3', 'g4'];
      const sent = new Map<string, string[]>();
      for (let i = 0; i < 3; i++) {
        for (const n of names) {
          const m = msg(n);
          sent.set(group(n), [...(sent.get(group(n)) ?? []), m.id]);
          await q.send(m);
        }
      }
      const order = new Map<string, string[]>();
      const activeByGroup = new Map<string, number>();
      let active = 0;
      let maxActive = 0;
      let maxPerGroup = 0;
      let sawParallel = false;
      let handled = 0;
      const ac = new AbortController();
      const loop = q.consume(
        async (r) => {
          active++;
          maxActive = Math.max(maxActive, active);
          const g = (activeByGroup.get(r.groupId) ?? 0) + 1;
          activeByGroup.set(r.groupId, g);
          maxPerGroup = Math.max(maxPerGroup, g);
          order.set(r.groupId, [...(order.get(r.groupId) ?? []), r.message.id]);
          // Wait (bounded) until another handler runs at the same time.
          const until = Date.now() + 5000;
          while (active < 2 && !sawParallel && Date.now() < until) await new Promise((res) => setTimeout(res, 10));
          if (active >= 2) sawParallel = true;
          await new Promise((res) => setTimeout(res, 20));
          activeByGroup.set(r.groupId, (activeByGroup.get(r.groupId) ?? 1) - 1);
          active--;
          handled++;
        },
        { concurrency: 3, maxReceives: 3, visibilityTimeoutSeconds: 30, waitSeconds: 1, signal: ac.signal },
      );
      try {
        await waitFor('all messages handled', () => handled >= 12, 30_000);
      } finally {
        ac.abort();
        await loop;
      }
      assert.equal(handled, 12);
      assert.equal(maxPerGroup, 1, 'two messages of one group were handled at the same time');
      assert.ok(maxActive <= 3, `concurrency 3 was exceeded: ${maxActive} handlers ran at once`);
      assert.ok(sawParallel, 'handlers of different groups never ran at the same time');
      for (const [g, ids] of sent) assert.deepEqual(order.get(g), ids, `group ${g} was not handled in send order`);
    });

    test('rejects invalid messages and options when sending', async (t) => {
      const q = await make(t);
      const bad = { ...msg('x'), requestedAt: 'yesterday' };
      await assert.rejects(q.send(bad), MalformedMessage);
      await assert.rejects(q.sendRaw('{}', { groupId: '', dedupId: 'd' }), ValidationError);
      await assert.rejects(q.sendRaw('{}', { groupId: 'has space', dedupId: 'd' }), ValidationError);
      await assert.rejects(q.send(msg('x'), { delaySeconds: 901 }), ValidationError);
      await assert.rejects(q.receive({ max: 11, visibilityTimeoutSeconds: 1 }), ValidationError);
    });
  });
}
