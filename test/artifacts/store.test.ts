/**
 * One suite, run against both ArtifactStore implementations (filesystem and S3 via fauxqs),
 * proving they behave the same.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { testEnv } from '../harness/index.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { S3ArtifactStore } from '../../shared/artifacts/s3-store.js';
import { ArtifactDigestMismatch } from '../../shared/artifacts/digest.js';
import type { ArtifactRef, ArtifactStore } from '../../shared/artifacts/store.js';
import { NotFoundError, ValidationError } from '../../shared/util/errors.js';
import { createS3Client, ensureBucket } from '../../shared/util/s3.js';

interface Harness {
  store: ArtifactStore;
  /** Overwrites the stored bytes of `key` behind the store's back. */
  corrupt(key: string, bytes: Buffer): Promise<void>;
  scheme: string;
}

const ref: ArtifactRef = { kind: 'GitRepository', namespace: 'flux-system', name: 'podinfo' };
const sha = (b: Buffer) => 'sha256:' + createHash('sha256').update(b).digest('hex');

function artifactStoreSuite(name: string, make: (t: TestContext) => Promise<Harness>): void {
  describe(`ArtifactStore contract: ${name}`, () => {
    test('put returns a content-addressed record; get returns the bytes', async (t) => {
      const { store, scheme } = await make(t);
      const data = randomBytes(5000);
      const rec = await store.put(ref, 'main@sha1:' + 'a'.repeat(40), data);
      const hex = sha(data).slice(7);
      assert.equal(rec.key, `GitRepository/flux-system/podinfo/${hex}.tar.gz`);
      assert.equal(rec.digest, sha(data));
      assert.equal(rec.size, data.length);
      assert.equal(rec.revision, 'main@sha1:' + 'a'.repeat(40));
      assert.ok(rec.url?.startsWith(scheme), rec.url);
      assert.ok(!Number.isNaN(Date.parse(rec.lastUpdateTime)));
      assert.ok((await store.get(rec)).equals(data));
      assert.ok((await store.get(rec.key)).equals(data), 'by key: digest taken from the key');
      assert.ok((await store.get(rec.key, rec.digest)).equals(data));
    });

    test('list is per source, newest first; cluster-scoped refs work', async (t) => {
      const { store } = await make(t);
      const other: ArtifactRef = { kind: 'GitRepository', namespace: 'other', name: 'podinfo' };
      const clusterScoped: ArtifactRef = { kind: 'Bucket', namespace: '', name: 'podinfo' };
      const r1 = await store.put(ref, 'v1', Buffer.from('one'));
      const r2 = await store.put(ref, 'v2', Buffer.from('two'));
      const r3 = await store.put(ref, 'v3', Buffer.from('three'));
      await store.put(other, 'x', Buffer.from('other ns'));
      const c = await store.put(clusterScoped, 'c1', Buffer.from('cluster'));
      assert.deepEqual((await store.list(ref)).map((r) => r.revision), ['v3', 'v2', 'v1']);
      assert.deepEqual((await store.list(ref)).map((r) => r.key), [r3.key, r2.key, r1.key]);
      assert.equal((await store.list(other)).length, 1);
      assert.equal(c.key.split('/')[1], '_');
      assert.deepEqual((await store.list(clusterScoped)).map((r) => r.revision), ['c1']);
      assert.deepEqual(await store.list({ kind: 'GitRepository', namespace: 'none', name: 'x' }), []);
    });

    test('same bytes for a new revision: one artifact, record moves to the new revision', async (t) => {
      const { store } = await make(t);
      const data = Buffer.from('same content');
      await store.put(ref, 'main@sha1:1111', data);
      await store.put(ref, 'other', Buffer.from('in between'));
      const again = await store.put(ref, 'main@sha1:2222', data);
      const list = await store.list(ref);
      assert.equal(list.length, 2);
      assert.equal(list[0]!.key, again.key);
      assert.equal(list[0]!.revision, 'main@sha1:2222');
    });

    test('revision strings with any characters round-trip', async (t) => {
      const { store } = await make(t);
      const rev = 'feature/ünïcode ✓@sha1:' + 'b'.repeat(40);
      await store.put(ref, rev, Buffer.from('x'));
      assert.equal((await store.list(ref))[0]!.revision, rev);
    });

    test('gc keeps the newest 2 (or `keep`), never a protected key', async (t) => {
      const { store } = await make(t);
      const recs = [];
      for (let i = 0; i < 5; i++) recs.push(await store.put(ref, `v${i}`, Buffer.from(`artifact ${i}`)));
      const deleted = await store.gc(ref);
      assert.deepEqual(deleted.sort(), recs.slice(0, 3).map((r) => r.key).sort());
      assert.deepEqual((await store.list(ref)).map((r) => r.revision), ['v4', 'v3']);
      await assert.rejects(store.get(recs[0]!), NotFoundError);

      const more = await store.put(ref, 'v5', Buffer.from('artifact 5'));
      // Keep 1, but the status still points at v3: it stays.
      const d2 = await store.gc(ref, 1, { protect: [recs[3]!.key] });
      assert.deepEqual(d2, [recs[4]!.key]);
      assert.deepEqual((await store.list(ref)).map((r) => r.key), [more.key, recs[3]!.key]);
      assert.deepEqual(await store.gc(ref, 5), []);
    });

    test('corrupted stored bytes are detected on read (every read), and a re-put heals', async (t) => {
      const { store, corrupt } = await make(t);
      const data = randomBytes(2048);
      const rec = await store.put(ref, 'v1', data);
      const bad = Buffer.from(data);
      bad[100] = bad[100]! ^ 0xff;
      await corrupt(rec.key, bad);
      for (const attempt of [rec, rec.key]) {
        await assert.rejects(store.get(attempt), (err: unknown) => {
          assert.ok(err instanceof ArtifactDigestMismatch, String(err));
          assert.equal(err.expected, rec.digest);
          assert.equal(err.actual, sha(bad));
          assert.match(err.message, new RegExp(rec.key));
          return true;
        });
      }
      // A caller expecting another digest (stale status) also gets a mismatch.
      await store.put(ref, 'v1', data);
      assert.ok((await store.get(rec)).equals(data));
      await assert.rejects(store.get(rec.key, sha(Buffer.from('other'))), ArtifactDigestMismatch);
    });

    test('concurrent puts: distinct and identical content', async (t) => {
      const { store } = await make(t);
      const blobs = Array.from({ length: 12 }, (_, i) => Buffer.concat([Buffer.from(`blob ${i} `), randomBytes(20_000)]));
      const recs = await Promise.all(blobs.map((b, i) => store.put(ref, `r${i}`, b)));
      const listed = await store.list(ref);
      assert.equal(listed.length, blobs.length);
      assert.deepEqual(new Set(listed.map((r) => r.key)), new Set(recs.map((r) => r.key)));
      for (let i = 0; i < blobs.length; i++) assert.ok((await store.get(recs[i]!)).equals(blobs[i]!));

      const same = randomBytes(50_000);
      const sameRecs = await Promise.all(Array.from({ length: 8 }, (_, i) => store.put(ref, `same${i}`, same)));
      assert.equal(new Set(sameRecs.map((r) => r.key)).size, 1);
      assert.ok((await store.get(sameRecs[0]!)).equals(same));
      assert.equal((await store.list(ref)).length, blobs.length + 1);
    });

    test('delete and deleteAll', async (t) => {
      const { store } = await make(t);
      const a = await store.put(ref, 'a', Buffer.from('a'));
      await store.put(ref, 'b', Buffer.from('b'));
      assert.equal(await store.delete(a), true);
      assert.equal(await store.delete(a.key), false);
      await assert.rejects(store.get(a), NotFoundError);
      assert.equal(await store.deleteAll(ref), 1);
      assert.deepEqual(await store.list(ref), []);
    });

    test('refuses keys that could escape the store', async (t) => {
      const { store } = await make(t);
      for (const key of ['../../etc/passwd', `GitRepository/../x/${'a'.repeat(64)}.tar.gz`, 'a/b/c/notahash.tar.gz', `a/b/c/d/${'a'.repeat(64)}.tar.gz`]) {
        await assert.rejects(store.get(key), ValidationError, key);
      }
      await assert.rejects(store.put({ kind: 'GitRepository', namespace: '..', name: 'x' }, 'r', Buffer.from('x')), ValidationError);
    });
  });
}

artifactStoreSuite('filesystem', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-artstore-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new FsArtifactStore(root);
  return {
    store,
    scheme: 'file://',
    corrupt: async (key, bytes) => fs.writeFileSync(store.pathFor(key), bytes),
  };
});

artifactStoreSuite('S3 (fauxqs)', async () => {
  const aws = await (await testEnv()).aws();
  const client = createS3Client(aws);
  const bucket = `art-${randomBytes(6).toString('hex')}`;
  await ensureBucket(client, bucket);
  const store = new S3ArtifactStore({ client, bucket, prefix: 'artifacts' });
  return {
    store,
    scheme: `s3://${bucket}/artifacts/`,
    corrupt: async (key, bytes) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: store.objectKeyFor(key), Body: bytes }));
    },
  };
});

test('FsArtifactStore: a crashed writer leaves only an ignored temp file; a tarball without sidecar is still listed', async (t) => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-artstore-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new FsArtifactStore(root);
  const rec = await store.put(ref, 'v1', Buffer.from('good'));
  const dir = path.dirname(store.pathFor(rec.key));
  fs.writeFileSync(path.join(dir, `.${'f'.repeat(64)}.tar.gz.tmp-999999-abc`), 'partial');
  fs.rmSync(store.pathFor(rec.key).replace(/\.tar\.gz$/, '.json'));
  const list = await store.list(ref);
  assert.equal(list.length, 1);
  assert.equal(list[0]!.key, rec.key);
  assert.equal(list[0]!.revision, '');
  assert.ok((await store.get(list[0]!)).equals(Buffer.from('good')));
});
