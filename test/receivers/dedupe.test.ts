import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDeliveryDeduper } from '../../shared/receivers/dedupe.js';

describe('MemoryDeliveryDeduper', () => {
  test('reports a key as seen until its TTL passes', async () => {
    let now = 1_000;
    const d = new MemoryDeliveryDeduper({ now: () => now });
    assert.equal(await d.seen('a', 100), false);
    assert.equal(await d.seen('a', 100), true);
    now += 99;
    assert.equal(await d.seen('a', 100), true);
    now += 1;
    assert.equal(await d.seen('a', 100), false, 'expired key counts as new');
    assert.equal(await d.seen('a', 100), true);
  });

  test('keys are independent', async () => {
    const d = new MemoryDeliveryDeduper();
    assert.equal(await d.seen('ns/r/1', 1000), false);
    assert.equal(await d.seen('ns/r/2', 1000), false);
    assert.equal(await d.seen('ns/other/1', 1000), false);
    assert.equal(await d.seen('ns/r/1', 1000), true);
  });

  test('never holds more than maxEntries, evicting the oldest', async () => {
    const d = new MemoryDeliveryDeduper({ maxEntries: 3 });
    for (const k of ['a', 'b', 'c', 'd']) assert.equal(await d.seen(k, 60_000), false);
    assert.equal(d.size, 3);
    assert.equal(await d.seen('d', 60_000), true);
    assert.equal(await d.seen('a', 60_000), false, 'oldest key was evicted');
  });

  test('purges expired keys as new ones arrive', async () => {
    let now = 0;
    const d = new MemoryDeliveryDeduper({ now: () => now });
    for (let i = 0; i < 5; i++) await d.seen(`k${i}`, 10);
    now = 50;
    await d.seen('fresh', 10);
    assert.equal(d.size, 1);
  });

  test('forget lets a key be handled again', async () => {
    const d = new MemoryDeliveryDeduper();
    await d.seen('x', 1000);
    await d.forget('x');
    assert.equal(await d.seen('x', 1000), false);
  });
});
