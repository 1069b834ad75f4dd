/**
 * SharedReads (shared/util/shared-read.ts): concurrent reads of a key share requests, yet no
 * caller gets a read that started before its call, and a failed read fails only its sharers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SharedReads } from '../../shared/util/shared-read.js';

/** A "server" whose reads resolve when released, each returning the value current when it started. */
function server() {
  let value = 0;
  let reads = 0;
  const pending: Array<() => void> = [];
  return {
    write: () => void (value += 1),
    read: () => {
      reads += 1;
      const seen = value;
      return new Promise<number>((resolve) => pending.push(() => resolve(seen)));
    },
    releaseAll: async () => {
      while (pending.length) {
        for (const r of pending.splice(0)) r();
        await new Promise((r) => setImmediate(r));
      }
    },
    reads: () => reads,
  };
}

test('ten concurrent reads of a key cost two requests; other keys are read on their own', async () => {
  const s = server();
  const shared = new SharedReads<number>();
  const all = Array.from({ length: 10 }, () => shared.read('a', s.read));
  const other = shared.read('b', s.read);
  await s.releaseAll();
  assert.deepEqual(await Promise.all(all), Array(10).fill(0));
  assert.equal(await other, 0);
  assert.equal(s.reads(), 3, 'two for key a (the first, then one for the nine latecomers), one for key b');
});

test('a caller never gets a read that started before its call', async () => {
  const s = server();
  const shared = new SharedReads<number>();
  const first = shared.read('a', s.read);
  s.write();
  const second = shared.read('a', s.read);
  const third = shared.read('a', s.read);
  await s.releaseAll();
  assert.equal(await first, 0);
  assert.equal(await second, 1, 'the write before the call is seen');
  assert.equal(await third, 1);
  // Settled: the next call starts a read of its own at once.
  s.write();
  const fourth = shared.read('a', s.read);
  await s.releaseAll();
  assert.equal(await fourth, 2);
  assert.equal(s.reads(), 3);
});

test('a failed read rejects the callers that shared it; the next read is made afresh', async () => {
  const shared = new SharedReads<string>();
  let n = 0;
  const flaky = async () => {
    n += 1;
    if (n === 1) throw new Error('read failed');
    return `ok ${n}`;
  };
  const a = shared.read('k', flaky);
  const b = shared.read('k', flaky);
  await assert.rejects(a, /read failed/);
  assert.equal(await b, 'ok 2', 'the latecomer shares the next read, not the failed one');
  assert.equal(await shared.read('k', flaky), 'ok 3');
});
