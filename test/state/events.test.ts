import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { testEnv } from '../harness/index.js';
import { EventLog } from '../../shared/state/events.js';
import { FsStateStore } from '../../shared/state/fs-store.js';
import { S3StateStore } from '../../shared/state/s3-store.js';
import type { ObjectKey, StateStore } from '../../shared/state/store.js';
import { createS3Client, ensureBucket } from '../../shared/util/s3.js';
import { startConditionalProxy, type ConditionalProxy } from './s3-conditional-proxy.js';

interface Ev {
  reason: string;
  severity: 'info' | 'error';
}

const web: ObjectKey = { kind: 'Kustomization', namespace: 'apps', name: 'web' };
const api: ObjectKey = { kind: 'Kustomization', namespace: 'apps', name: 'api' };
const src: ObjectKey = { kind: 'GitRepository', namespace: 'flux-system', name: 'repo' };

function eventLogSuite(name: string, make: (t: TestContext) => Promise<StateStore>): void {
  describe(`EventLog on ${name}`, () => {
    test('appends in order with sequence numbers, keeps only the newest N per object', async (t) => {
      const log = new EventLog<Ev>(await make(t), { maxPerObject: 5 });
      for (let i = 1; i <= 8; i++) {
        const e = await log.appendEvent(web, { reason: `r${i}`, severity: 'info' });
        assert.equal(e.seq, i);
      }
      const evs = await log.listEvents(web);
      assert.deepEqual(evs.map((e) => e.event.reason), ['r4', 'r5', 'r6', 'r7', 'r8']);
      assert.deepEqual(evs.map((e) => e.seq), [4, 5, 6, 7, 8]);
      assert.ok(evs.every((e) => e.key.name === 'web' && !Number.isNaN(Date.parse(e.at))));
    });

    test('lists across objects by prefix, ordered by time', async (t) => {
      const log = new EventLog<Ev>(await make(t));
      await log.appendEvent(web, { reason: 'first', severity: 'info' });
      await new Promise((r) => setTimeout(r, 5));
      await log.appendEvent(src, { reason: 'second', severity: 'error' });
      await new Promise((r) => setTimeout(r, 5));
      await log.appendEvent(api, { reason: 'third', severity: 'info' });
      assert.deepEqual((await log.listEvents()).map((e) => e.event.reason), ['first', 'second', 'third']);
      assert.deepEqual((await log.listEvents({ kind: 'Kustomization' })).map((e) => e.event.reason), ['first', 'third']);
      assert.deepEqual((await log.listEvents({ kind: 'GitRepository', namespace: 'flux-system' })).map((e) => e.key), [src]);
      await log.clearEvents(web);
      assert.deepEqual((await log.listEvents()).map((e) => e.event.reason), ['second', 'third']);
      assert.deepEqual(await log.listEvents(web), []);
    });
  });
}

function fsStore(t: TestContext): StateStore {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-events-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return new FsStateStore(root);
}

let proxy: ConditionalProxy | undefined;
after(async () => proxy?.close());
async function s3Store(): Promise<StateStore> {
  const aws = await (await testEnv()).aws();
  proxy ??= await startConditionalProxy(aws.endpoint);
  const client = createS3Client({ ...aws, endpoint: proxy.endpoint });
  const bucket = `events-${randomBytes(6).toString('hex')}`;
  await ensureBucket(client, bucket);
  return new S3StateStore({ client, bucket, prefix: 'events/' });
}

eventLogSuite('the filesystem store', async (t) => fsStore(t));
eventLogSuite('the S3 store', async () => s3Store());

test('concurrent appends to one object are all kept (filesystem and S3 with enforced conditions)', async (t) => {
  for (const store of [fsStore(t), await s3Store()]) {
    const log = new EventLog<Ev>(store, { maxPerObject: 100 });
    await Promise.all(Array.from({ length: 15 }, (_, i) => log.appendEvent(web, { reason: `c${i}`, severity: 'info' })));
    const evs = await log.listEvents(web);
    assert.equal(evs.length, 15);
    assert.deepEqual(evs.map((e) => e.seq), Array.from({ length: 15 }, (_, i) => i + 1));
    assert.equal(new Set(evs.map((e) => e.event.reason)).size, 15);
  }
});
