/**
 * ArtifactCache with real artifacts (buildArtifact of a temp dir) and a counting fetch.
 * Each test uses its own parentDir, so "removed from disk" is checked on a directory
 * nothing else writes to.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ArtifactCache, type ArtifactCacheOptions, type CachedArtifactRef } from '../../shared/artifacts/cache.js';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { ArtifactDigestMismatch } from '../../shared/artifacts/digest.js';

interface Art {
  ref: CachedArtifactRef;
  bytes: Buffer;
}

function tmpDir(t: TestContext, prefix: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

/** A real artifact of a tree holding `files`. */
async function artifact(t: TestContext, files: Record<string, string>): Promise<Art> {
  const src = tmpDir(t, 'fluxless-cache-src-');
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(src, rel)), { recursive: true });
    fs.writeFileSync(path.join(src, rel), content);
  }
  const built = await buildArtifact(src);
  return { ref: { key: `GitRepository/ns/repo/${built.digest.slice(7)}.tar.gz`, digest: built.digest }, bytes: built.tarGz };
}

/** A fetch serving the given artifacts by digest, counting calls per digest. */
function fakeFetch(arts: Art[]) {
  const calls = new Map<string, number>();
  const fetch: ArtifactCacheOptions['fetch'] = async (ref) => {
    calls.set(ref.digest, (calls.get(ref.digest) ?? 0) + 1);
    // Resolve on a later turn, so concurrent opens really overlap the fetch.
    await new Promise((r) => setImmediate(r));
    const a = arts.find((x) => x.ref.digest === ref.digest);
    if (!a) throw new Error(`no such artifact ${ref.key}`);
    return a.bytes;
  };
  return { fetch, calls, count: (a: Art) => calls.get(a.ref.digest) ?? 0 };
}

function newCache(t: TestContext, opts: Omit<ArtifactCacheOptions, 'parentDir'>): { cache: ArtifactCache; parent: string } {
  const parent = tmpDir(t, 'fluxless-cache-parent-');
  const cache = new ArtifactCache({ ...opts, parentDir: parent });
  t.after(() => cache.close());
  return { cache, parent };
}

/** Every path below `dir` (relative), sorted. */
function listTree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map(String).sort();
}

/** Waits (bounded) until `cond` holds; eviction runs in the background after release(). */
async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  assert.fail(`never happened: ${what}`);
}

const read = (root: string, rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');

describe('ArtifactCache', () => {
  test('a new cache removes the directories of caches whose process died, and only those', async (t) => {
    const a = await artifact(t, { 'a.yaml': 'a: 1\n' });
    const { cache, parent } = newCache(t, { fetch: fakeFetch([a]).fetch });
    // A process that has exited: its pid is free (reuse within this test is not a concern).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
    const orphan = path.join(parent, `fluxless-cache-${dead}-abc123`);
    const alive = path.join(parent, `fluxless-cache-${process.ppid}-def456`);
    for (const d of [orphan, alive]) fs.mkdirSync(path.join(d, 'a'), { recursive: true });
    const opened = await cache.open(a.ref);
    assert.equal(fs.existsSync(orphan), false, 'the dead process left its cache behind');
    assert.equal(fs.existsSync(alive), true, "a live process's cache was removed");
    assert.match(path.basename(path.dirname(path.dirname(opened.root))), new RegExp(`^fluxless-cache-${process.pid}-`));
    opened.release();
  });

  test('concurrent opens of one artifact fetch once and share one extracted tree', async (t) => {
    const a = await artifact(t, { 'app/deploy.yaml': 'kind: Deployment\n', 'kustomization.yaml': 'resources: [app]\n' });
    const f = fakeFetch([a]);
    const { cache, parent } = newCache(t, { fetch: f.fetch });
    const opened = await Promise.all(Array.from({ length: 8 }, () => cache.open(a.ref)));
    assert.equal(f.count(a), 1, 'one fetch for eight concurrent opens');
    assert.equal(new Set(opened.map((o) => o.root)).size, 1, 'all see the same directory');
    const root = opened[0]!.root;
    assert.ok(root.startsWith(parent + path.sep), `${root} is under the parent dir ${parent}`);
    assert.equal(read(root, 'app/deploy.yaml'), 'kind: Deployment\n');
    assert.equal(read(root, 'kustomization.yaml'), 'resources: [app]\n');
    // An open after the others finished is served from the cache too.
    const later = await cache.open(a.ref);
    assert.equal(later.root, root);
    assert.equal(f.count(a), 1);
    for (const o of [...opened, later]) o.release();
  });

  test('a different digest gets its own directory with its own files', async (t) => {
    const a = await artifact(t, { 'file.txt': 'one' });
    const b = await artifact(t, { 'file.txt': 'two' });
    assert.notEqual(a.ref.digest, b.ref.digest);
    const f = fakeFetch([a, b]);
    const { cache } = newCache(t, { fetch: f.fetch });
    const [oa, ob] = await Promise.all([cache.open(a.ref), cache.open(b.ref)]);
    assert.notEqual(oa.root, ob.root);
    assert.equal(read(oa.root, 'file.txt'), 'one');
    assert.equal(read(ob.root, 'file.txt'), 'two');
    assert.equal(f.count(a), 1);
    assert.equal(f.count(b), 1);
    oa.release();
    ob.release();
  });

  test('released entries beyond keep are removed from disk, least recently used first; reopening fetches again', async (t) => {
    const arts = await Promise.all(['a', 'b', 'c'].map((x) => artifact(t, { 'x.txt': x })));
    const [a, b, c] = arts as [Art, Art, Art];
    const f = fakeFetch(arts);
    const { cache } = newCache(t, { fetch: f.fetch, keep: 2 });
    const oa = await cache.open(a.ref);
    oa.release();
    const ob = await cache.open(b.ref);
    ob.release();
    // Two entries, keep 2: both stay.
    await new Promise((r) => setTimeout(r, 20));
    assert.ok(fs.existsSync(oa.root) && fs.existsSync(ob.root), 'within keep, nothing is evicted');
    const oc = await cache.open(c.ref);
    oc.release();
    // Three idle entries, keep 2: the least recently used (a) goes.
    await until(() => !fs.existsSync(oa.root), 'a evicted');
    assert.ok(fs.existsSync(ob.root), 'b is kept');
    assert.ok(fs.existsSync(oc.root), 'c is kept');
    assert.equal(read(ob.root, 'x.txt'), 'b');
    // Evicted means forgotten: the next open fetches and extracts again.
    const again = await cache.open(a.ref);
    assert.equal(f.count(a), 2);
    assert.equal(read(again.root, 'x.txt'), 'a');
    // b and c were not fetched again.
    assert.equal(f.count(b), 1);
    assert.equal(f.count(c), 1);
    again.release();
  });

  test('releasing twice counts once', async (t) => {
    const a = await artifact(t, { 'x.txt': 'a' });
    const b = await artifact(t, { 'x.txt': 'b' });
    const f = fakeFetch([a, b]);
    const { cache } = newCache(t, { fetch: f.fetch, keep: 0 });
    const first = await cache.open(a.ref);
    const second = await cache.open(a.ref);
    first.release();
    first.release(); // must not give back `second`'s hold
    const ob = await cache.open(b.ref);
    ob.release();
    await until(() => !fs.existsSync(ob.root), 'b evicted');
    assert.ok(fs.existsSync(second.root), 'a is still held by `second`');
    assert.equal(read(second.root, 'x.txt'), 'a');
    second.release();
    await until(() => !fs.existsSync(second.root), 'a evicted after its last release');
  });

  test('an entry still held is never evicted, even with keep 0', async (t) => {
    const arts = await Promise.all(['a', 'b', 'c'].map((x) => artifact(t, { 'x.txt': x })));
    const [a, b, c] = arts as [Art, Art, Art];
    const f = fakeFetch(arts);
    const { cache } = newCache(t, { fetch: f.fetch, keep: 0 });
    const held = await cache.open(a.ref);
    const ob = await cache.open(b.ref);
    ob.release();
    await until(() => !fs.existsSync(ob.root), 'b evicted');
    const oc = await cache.open(c.ref);
    oc.release();
    await until(() => !fs.existsSync(oc.root), 'c evicted');
    assert.ok(fs.existsSync(held.root), 'the held entry is still on disk');
    assert.equal(read(held.root, 'x.txt'), 'a');
    // Still cached: opening it again does not fetch.
    const again = await cache.open(a.ref);
    assert.equal(again.root, held.root);
    assert.equal(f.count(a), 1);
    again.release();
    held.release();
    await until(() => !fs.existsSync(held.root), 'a evicted once released');
  });

  // Regression: victims used to leave `entries` one at a time between awaits.
  test('an entry reopened while an eviction pass is running is not removed under its holder', async (t) => {
    const arts = await Promise.all(['a', 'b', 'c', 'd'].map((x) => artifact(t, { 'x.txt': x })));
    const [a, b, c, d] = arts as [Art, Art, Art, Art];
    const f = fakeFetch(arts);
    const { cache } = newCache(t, { fetch: f.fetch, keep: 2 });
    const oa = await cache.open(a.ref);
    oa.release();
    const ob = await cache.open(b.ref);
    ob.release();
    const oc = await cache.open(c.ref); // held throughout
    const od = await cache.open(d.ref);
    // Four entries, keep 2, idle: a, b, d. This pass evicts a, then b...
    od.release();
    // ...but b is opened again while the pass is still removing a.
    const b2 = await cache.open(b.ref);
    await until(() => !fs.existsSync(oa.root), 'a evicted');
    // Give the pass time to reach b (a bounded wait for something that must not happen).
    for (let i = 0; i < 20; i++) {
      await new Promise((r) => setTimeout(r, 5));
      assert.ok(fs.existsSync(path.join(b2.root, 'x.txt')), 'a held entry was removed from disk');
    }
    assert.equal(read(b2.root, 'x.txt'), 'b');
    b2.release();
    oc.release();
  });

  test('a failing fetch rejects every waiter and is not cached: the next open retries', async (t) => {
    const a = await artifact(t, { 'x.txt': 'a' });
    let calls = 0;
    let failNext = true;
    const fetch: ArtifactCacheOptions['fetch'] = async () => {
      calls++;
      await new Promise((r) => setImmediate(r));
      if (failNext) throw new Error('S3 is down');
      return a.bytes;
    };
    const { cache, parent } = newCache(t, { fetch });
    const results = await Promise.allSettled([cache.open(a.ref), cache.open(a.ref)]);
    assert.equal(calls, 1, 'the concurrent opens shared the one failing fetch');
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.match(String((r as PromiseRejectedResult).reason), /S3 is down/);
    }
    assert.deepEqual(listTree(path.join(parent)).filter((p) => p.includes(a.ref.digest.slice(7))), [], 'nothing extracted');
    failNext = false;
    const ok = await cache.open(a.ref);
    assert.equal(calls, 2, 'retried');
    assert.equal(read(ok.root, 'x.txt'), 'a');
    // And now it is cached.
    const again = await cache.open(a.ref);
    assert.equal(calls, 2);
    ok.release();
    again.release();
  });

  test('bytes that do not match the digest are refused, leave nothing behind, and are not cached', async (t) => {
    const a = await artifact(t, { 'x.txt': 'a' });
    const other = await artifact(t, { 'x.txt': 'tampered' });
    let serve = other.bytes; // a valid tar.gz, but not the one the digest names
    let calls = 0;
    const fetch: ArtifactCacheOptions['fetch'] = async () => {
      calls++;
      return serve;
    };
    const { cache, parent } = newCache(t, { fetch });
    await assert.rejects(cache.open(a.ref), ArtifactDigestMismatch);
    serve = Buffer.from(a.bytes);
    serve[serve.length - 5] ^= 0xff; // flipped byte
    await assert.rejects(cache.open(a.ref), ArtifactDigestMismatch);
    assert.deepEqual(
      listTree(parent).filter((p) => p.split(path.sep).length > 2),
      [],
      'no extracted files (nor temp dirs) below the cache',
    );
    serve = a.bytes;
    const ok = await cache.open(a.ref);
    assert.equal(calls, 3);
    assert.equal(read(ok.root, 'x.txt'), 'a');
    ok.release();
  });

  test('openTree holds a small artifact in memory: one fetch, nothing written to disk, the same files', async (t) => {
    const a = await artifact(t, { 'apps/a/deploy.yaml': 'kind: Deployment\n', 'apps/a/empty/.keep': '', 'kustomization.yaml': 'resources: [apps/a]\n' });
    const f = fakeFetch([a]);
    const { cache, parent } = newCache(t, { fetch: f.fetch });
    const opened = await Promise.all(Array.from({ length: 4 }, () => cache.openTree(a.ref)));
    assert.equal(f.count(a), 1, 'one fetch for four concurrent opens');
    assert.equal(new Set(opened.map((o) => o.tree)).size, 1, 'all share one tree');
    assert.deepEqual(listTree(parent).filter((p) => p.split(path.sep).length > 2), [], 'no file of the artifact on disk');
    const { tree } = opened[0]!;
    const at = (rel: string) => path.join(tree.root, rel);
    assert.equal(await tree.readText(at('apps/a/deploy.yaml')), 'kind: Deployment\n');
    assert.deepEqual((await tree.list(at('apps/a'))).map((e) => [e.name, e.isDirectory]).sort(), [['deploy.yaml', false], ['empty', true]]);
    assert.equal(await tree.isDir(at('apps')), true);
    assert.equal(await tree.isFile(at('apps')), false);
    assert.equal(await tree.isDir(at('../outside')), false);
    await assert.rejects(tree.readText(at('apps/nope.yaml')), { code: 'ENOENT' });
    await assert.rejects(tree.list(at('kustomization.yaml')), { code: 'ENOTDIR' });
    await assert.rejects(tree.readText(at('apps')), { code: 'EISDIR' });
    // copyTo writes a new file (never through an existing one).
    const dest = tmpDir(t, 'fluxless-cache-dest-');
    await tree.copyTo(at('apps/a/deploy.yaml'), path.join(dest, 'd.yaml'));
    assert.equal(read(dest, 'd.yaml'), 'kind: Deployment\n');
    await assert.rejects(tree.copyTo(at('kustomization.yaml'), path.join(dest, 'd.yaml')), { code: 'EEXIST' });
    assert.equal(read(dest, 'd.yaml'), 'kind: Deployment\n');
    for (const o of opened) o.release();
  });

  test('openTree extracts an artifact whose files exceed memoryTreeMaxBytes, and refuses a wrong digest either way', async (t) => {
    const big = await artifact(t, { 'big.yaml': 'x'.repeat(4096), 'small.yaml': 'y: 1\n' });
    const other = await artifact(t, { 'big.yaml': 'z'.repeat(4096) });
    const f = fakeFetch([big]);
    const { cache, parent } = newCache(t, { fetch: f.fetch, memoryTreeMaxBytes: 1024 });
    const opened = await cache.openTree(big.ref);
    assert.ok(opened.tree.root.startsWith(parent + path.sep), `${opened.tree.root} is an extracted directory under ${parent}`);
    assert.deepEqual(listTree(opened.tree.root), ['big.yaml', 'small.yaml']);
    assert.equal(await opened.tree.readText(path.join(opened.tree.root, 'small.yaml')), 'y: 1\n');
    opened.release();
    for (const limit of [1024, undefined]) {
      const { cache: c2 } = newCache(t, { fetch: async () => other.bytes, memoryTreeMaxBytes: limit });
      await assert.rejects(c2.openTree(big.ref), ArtifactDigestMismatch);
    }
  });

  test('an invalid digest is rejected without a fetch', async (t) => {
    const f = fakeFetch([]);
    const { cache } = newCache(t, { fetch: f.fetch });
    await assert.rejects(cache.open({ key: 'k', digest: 'sha256:nothex' }));
    assert.equal(f.calls.size, 0);
  });

  test('workDir: fresh empty dirs on the cache filesystem, so files hard-link out of an artifact', async (t) => {
    const a = await artifact(t, { 'deep/dir/file.yaml': 'kind: ConfigMap\n' });
    const f = fakeFetch([a]);
    const { cache, parent } = newCache(t, { fetch: f.fetch });
    const o = await cache.open(a.ref);
    const w1 = await cache.workDir('build-');
    const w2 = await cache.workDir('build-');
    assert.notEqual(w1, w2);
    assert.ok(path.basename(w1).startsWith('build-'), w1);
    assert.ok(w1.startsWith(parent + path.sep), `${w1} is under ${parent}`);
    assert.deepEqual(fs.readdirSync(w1), []);
    const src = path.join(o.root, 'deep/dir/file.yaml');
    const dst = path.join(w1, 'file.yaml');
    fs.linkSync(src, dst); // EXDEV if not on the same filesystem
    assert.equal(fs.statSync(dst).ino, fs.statSync(src).ino);
    assert.equal(fs.statSync(src).nlink, 2);
    assert.equal(fs.statSync(w2).dev, fs.statSync(o.root).dev);
    o.release();
  });

  test('close() removes the extracted artifacts and work dirs; the cache is unusable afterwards', async (t) => {
    const a = await artifact(t, { 'x.txt': 'a' });
    const b = await artifact(t, { 'x.txt': 'b' });
    const f = fakeFetch([a, b]);
    const { cache, parent } = newCache(t, { fetch: f.fetch, keep: 10 });
    const oa = await cache.open(a.ref);
    const ob = await cache.open(b.ref);
    ob.release();
    const w = await cache.workDir('w-');
    fs.writeFileSync(path.join(w, 'out.yaml'), 'x');
    assert.ok(listTree(parent).length > 0);
    await cache.close();
    assert.deepEqual(fs.readdirSync(parent), [], 'everything under the parent dir is gone, held entries too');
    assert.ok(!fs.existsSync(oa.root));
    assert.ok(!fs.existsSync(w));
    oa.release(); // harmless after close
    await assert.rejects(cache.open(a.ref), /closed/);
    await assert.rejects(cache.workDir('w-'), /closed/);
    await cache.close(); // idempotent
  });

  // Regression: an extraction finishing after close() used to recreate <base>/a/...
  test('close() during an in-flight fetch leaves nothing on disk', async (t) => {
    const a = await artifact(t, { 'x.txt': 'a' });
    let release!: (b: Buffer) => void;
    const fetched = new Promise<Buffer>((r) => (release = r));
    let started!: () => void;
    const fetchStarted = new Promise<void>((r) => (started = r));
    const { cache, parent } = newCache(t, {
      fetch: () => {
        started();
        return fetched;
      },
    });
    const opening = cache.open(a.ref).then(
      (o) => {
        o.release();
        return o.root;
      },
      (err: unknown) => err,
    );
    await fetchStarted;
    const closing = cache.close();
    release(a.bytes);
    await closing;
    // It cannot hand out a root that close() removes.
    const outcome = await opening;
    assert.ok(outcome instanceof Error, `open() resolved with ${String(outcome)} after close()`);
    assert.match(outcome.message, /closed/);
    // Let any background work settle.
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(listTree(parent), [], 'an extraction finishing after close() must not recreate the cache dir');
  });
});
