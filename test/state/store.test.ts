/**
 * One StateStore suite run against:
 * - FsStateStore;
 * - S3StateStore on fauxqs directly: fauxqs ignores If-Match/If-None-Match, so the store runs
 *   with `emulateConditions` (HEAD check first) and the race test is skipped there;
 * - S3StateStore through a proxy that enforces conditional writes like AWS S3 (412/404 XML
 *   errors), without emulation: proves the real request headers and error mapping, including
 *   under racing writers.
 * Then filesystem-only tests: several processes updating one record, and crash recovery.
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { testEnv } from '../harness/index.js';
import { FsStateStore } from '../../shared/state/fs-store.js';
import { S3StateStore } from '../../shared/state/s3-store.js';
import type { ObjectKey, StateStore } from '../../shared/state/store.js';
import { ConflictError, FluxlessError, ValidationError } from '../../shared/util/errors.js';
import { createS3Client, ensureBucket } from '../../shared/util/s3.js';
import { startConditionalProxy, type ConditionalProxy } from './s3-conditional-proxy.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../..');

interface Harness {
  store: StateStore;
  /** Conditional writes are atomic against racing writers. */
  atomic: boolean;
  /** Writes raw bytes where the record for `key` lives. */
  writeRaw(key: ObjectKey, body: string): Promise<void>;
}

const ks = (name: string, namespace = 'apps', kind = 'Kustomization'): ObjectKey => ({ kind, namespace, name });

interface Status {
  phase: string;
  n?: number;
}

function stateStoreSuite(name: string, make: (t: TestContext) => Promise<Harness>): void {
  describe(`StateStore contract: ${name}`, () => {
    test('get of a missing record is undefined; put then get returns value and version', async (t) => {
      const { store } = await make(t);
      assert.equal(await store.get(ks('web')), undefined);
      const v1 = await store.put<Status>(ks('web'), { phase: 'Ready', n: 1 });
      assert.equal(typeof v1, 'string');
      const got = await store.get<Status>(ks('web'));
      assert.deepEqual(got, { value: { phase: 'Ready', n: 1 }, version: v1 });
      const v2 = await store.put<Status>(ks('web'), { phase: 'Ready', n: 1 });
      assert.notEqual(v2, v1, 'every write gets a new version, even with the same value');
    });

    test('ifAbsent creates once, then conflicts', async (t) => {
      const { store } = await make(t);
      await store.put(ks('a'), { phase: 'one' }, { ifAbsent: true });
      await assert.rejects(store.put(ks('a'), { phase: 'two' }, { ifAbsent: true }), ConflictError);
      assert.deepEqual((await store.get<Status>(ks('a')))!.value, { phase: 'one' });
    });

    test('ifVersion: a stale version conflicts and changes nothing; the current one wins', async (t) => {
      const { store } = await make(t);
      const v1 = await store.put<Status>(ks('a'), { phase: 'A' });
      const v2 = await store.put<Status>(ks('a'), { phase: 'B' }, { ifVersion: v1 });
      await assert.rejects(store.put<Status>(ks('a'), { phase: 'stale' }, { ifVersion: v1 }), (err: unknown) => {
        assert.ok(err instanceof ConflictError);
        assert.match(err.message, /Kustomization\/apps\/a/);
        return true;
      });
      assert.deepEqual(await store.get<Status>(ks('a')), { value: { phase: 'B' }, version: v2 });
      // A -> B -> A: the value repeats, the version does not.
      const v3 = await store.put<Status>(ks('a'), { phase: 'A' }, { ifVersion: v2 });
      assert.notEqual(v3, v1);
      await assert.rejects(store.put<Status>(ks('a'), { phase: 'x' }, { ifVersion: v1 }), ConflictError);
      await assert.rejects(store.put<Status>(ks('missing'), { phase: 'x' }, { ifVersion: v1 }), ConflictError);
    });

    test('delete: conditional, idempotent, and a re-created record does not accept old versions', async (t) => {
      const { store } = await make(t);
      const v1 = await store.put<Status>(ks('d'), { phase: 'one' });
      const v2 = await store.put<Status>(ks('d'), { phase: 'two' });
      await assert.rejects(store.delete(ks('d'), { ifVersion: v1 }), ConflictError);
      assert.ok(await store.get(ks('d')));
      assert.equal(await store.delete(ks('d'), { ifVersion: v2 }), true);
      assert.equal(await store.get(ks('d')), undefined);
      assert.equal(await store.delete(ks('d')), false);
      await assert.rejects(store.delete(ks('d'), { ifVersion: v2 }), ConflictError);
      await store.put<Status>(ks('d'), { phase: 'again' }, { ifAbsent: true });
      await assert.rejects(store.put<Status>(ks('d'), { phase: 'x' }, { ifVersion: v2 }), ConflictError);
      // A blind delete removes the record and does not say whether there was one.
      assert.equal(await store.delete(ks('d'), { blind: true }), true);
      assert.equal(await store.get(ks('d')), undefined);
      assert.equal(await store.delete(ks('d'), { blind: true }), true);
      assert.equal(await store.get(ks('d')), undefined);
    });

    test('list: all, by kind, by kind and namespace; sorted; cluster-scoped keys', async (t) => {
      const { store } = await make(t);
      const keys = [ks('b'), ks('a'), ks('c', 'other'), ks('src', 'apps', 'GitRepository'), { kind: 'ClusterThing', namespace: '', name: 'x' }];
      for (const k of keys) await store.put(k, { phase: 'x' });
      assert.deepEqual(await store.list(), [
        { kind: 'ClusterThing', namespace: '', name: 'x' },
        ks('src', 'apps', 'GitRepository'),
        ks('a'),
        ks('b'),
        ks('c', 'other'),
      ]);
      assert.deepEqual(await store.list({ kind: 'Kustomization' }), [ks('a'), ks('b'), ks('c', 'other')]);
      assert.deepEqual(await store.list({ kind: 'Kustomization', namespace: 'apps' }), [ks('a'), ks('b')]);
      assert.deepEqual(await store.list({ kind: 'ClusterThing', namespace: '' }), [{ kind: 'ClusterThing', namespace: '', name: 'x' }]);
      assert.deepEqual(await store.list({ kind: 'Nothing' }), []);
      await assert.rejects(store.list({ namespace: 'apps' }), ValidationError);
    });

    test('update: creates, modifies, and returning undefined writes nothing', async (t) => {
      const { store } = await make(t);
      const r1 = await store.update<Status>(ks('u'), (cur) => ({ phase: 'Progressing', n: (cur?.n ?? 0) + 1 }));
      assert.deepEqual(r1!.value, { phase: 'Progressing', n: 1 });
      const r2 = await store.update<Status>(ks('u'), (cur) => ({ ...cur!, n: cur!.n! + 1 }));
      assert.deepEqual(r2!.value, { phase: 'Progressing', n: 2 });
      const r3 = await store.update<Status>(ks('u'), () => undefined);
      assert.equal(r3!.version, r2!.version);
      assert.equal(await store.update<Status>(ks('never'), () => undefined), undefined);
      assert.equal(await store.get(ks('never')), undefined);
    });

    test('update under racing writers loses no increment', async (t) => {
      const h = await make(t);
      if (!h.atomic) {
        t.skip('fauxqs does not enforce conditional writes; proven on the filesystem store and the S3 proxy');
        return;
      }
      const writers = 12;
      await Promise.all(
        Array.from({ length: writers }, (_, i) =>
          h.store.update<{ n: number; by: number[] }>(ks('counter'), (cur) => ({ n: (cur?.n ?? 0) + 1, by: [...(cur?.by ?? []), i] }), { retries: 100 }),
        ),
      );
      const final = (await h.store.get<{ n: number; by: number[] }>(ks('counter')))!.value;
      assert.equal(final.n, writers);
      assert.deepEqual([...final.by].sort((a, b) => a - b), Array.from({ length: writers }, (_, i) => i));
    });

    test('a racing ifAbsent create lets exactly one writer win', async (t) => {
      const h = await make(t);
      if (!h.atomic) {
        t.skip('fauxqs does not enforce conditional writes');
        return;
      }
      const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => h.store.put(ks('once'), { phase: `w${i}` }, { ifAbsent: true })));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(r.reason instanceof ConflictError);
    });

    test('invalid keys and options are refused; a corrupt record is reported, not misread', async (t) => {
      const { store, writeRaw } = await make(t);
      for (const bad of [ks('../x'), ks('a/b'), ks(''), ks('ok', '..'), { kind: 'K', namespace: 'n', name: '.hidden' }]) {
        await assert.rejects(store.put(bad, { phase: 'x' }), ValidationError, JSON.stringify(bad));
      }
      await assert.rejects(store.put(ks('x'), {}, { ifAbsent: true, ifVersion: 'v' }), ValidationError);
      await writeRaw(ks('corrupt'), '{"not": "ours"');
      await assert.rejects(store.get(ks('corrupt')), (err: unknown) => err instanceof FluxlessError && err.code === 'StateCorrupt');
    });
  });
}

// --- implementations ---------------------------------------------------------------------

function fsHarness(t: TestContext, opts: ConstructorParameters<typeof FsStateStore>[1] = {}): Harness & { store: FsStateStore; root: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-state-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const store = new FsStateStore(root, opts);
  return {
    store,
    root,
    atomic: true,
    writeRaw: async (key, body) => {
      const f = store.fileFor(key);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, body);
    },
  };
}

async function s3Harness(client: S3Client, emulate: boolean, atomic: boolean): Promise<Harness> {
  const bucket = `state-${randomBytes(6).toString('hex')}`;
  await ensureBucket(client, bucket);
  const store = new S3StateStore({ client, bucket, prefix: 'state', emulateConditions: emulate });
  return {
    store,
    atomic,
    writeRaw: async (key, body) => {
      await client.send(new PutObjectCommand({ Bucket: bucket, Key: store.objectKeyFor(key), Body: body }));
    },
  };
}

stateStoreSuite('filesystem', async (t) => fsHarness(t));

stateStoreSuite('S3 on fauxqs (conditions emulated with HEAD)', async () => {
  const aws = await (await testEnv()).aws();
  return s3Harness(createS3Client(aws), true, false);
});

let proxy: ConditionalProxy | undefined;
after(async () => proxy?.close());
stateStoreSuite('S3 via a proxy enforcing If-Match/If-None-Match like AWS', async () => {
  const aws = await (await testEnv()).aws();
  proxy ??= await startConditionalProxy(aws.endpoint);
  return s3Harness(createS3Client({ ...aws, endpoint: proxy.endpoint }), false, true);
});

// --- S3 wire level ---------------------------------------------------------------------------

test('S3StateStore sends If-Match / If-None-Match and maps S3 refusals to ConflictError', async () => {
  const aws = await (await testEnv()).aws();
  proxy ??= await startConditionalProxy(aws.endpoint);
  const client = createS3Client({ ...aws, endpoint: proxy.endpoint });
  const h = await s3Harness(client, false, true);
  const seen: { method: string; ifMatch?: string; ifNoneMatch?: string }[] = [];
  client.middlewareStack.add(
    (next) => async (args) => {
      const req = (args as { request?: { method?: string; headers?: Record<string, string> } }).request;
      if (req?.method === 'PUT' || req?.method === 'DELETE') {
        seen.push({ method: req.method, ifMatch: req.headers?.['if-match'], ifNoneMatch: req.headers?.['if-none-match'] });
      }
      return next(args);
    },
    { step: 'finalizeRequest', name: 'recordConditionalHeaders' },
  );
  const refusedBefore = proxy.refused();
  const v1 = await h.store.put(ks('w'), { phase: 'a' }, { ifAbsent: true });
  await assert.rejects(h.store.put(ks('w'), { phase: 'b' }, { ifAbsent: true }), ConflictError);
  const v2 = await h.store.put(ks('w'), { phase: 'c' }, { ifVersion: v1 });
  await assert.rejects(h.store.put(ks('w'), { phase: 'd' }, { ifVersion: v1 }), ConflictError);
  await h.store.delete(ks('w'), { ifVersion: v2 });
  assert.deepEqual(seen, [
    { method: 'PUT', ifMatch: undefined, ifNoneMatch: '*' },
    { method: 'PUT', ifMatch: undefined, ifNoneMatch: '*' },
    { method: 'PUT', ifMatch: v1, ifNoneMatch: undefined },
    { method: 'PUT', ifMatch: v1, ifNoneMatch: undefined },
    { method: 'DELETE', ifMatch: v2, ifNoneMatch: undefined },
  ]);
  assert.equal(proxy.refused() - refusedBefore, 2, 'the two conflicts were refused by the server, not guessed by the client');
});

test('S3StateStore.update writes against the version it last read or wrote, with no GET; a record changed by another process is re-read, never overwritten', async () => {
  const aws = await (await testEnv()).aws();
  proxy ??= await startConditionalProxy(aws.endpoint);
  const client = createS3Client({ ...aws, endpoint: proxy.endpoint });
  const h = await s3Harness(client, false, true);
  const sent: string[] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      sent.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'recordCommands' },
  );
  // Another process (its own store on the same bucket).
  const other = new S3StateStore({ client: createS3Client({ ...aws, endpoint: proxy.endpoint }), bucket: (h.store as S3StateStore).bucket, prefix: 'state' });
  const key = ks('hinted');
  await h.store.put(key, { phase: 'a', n: 0 });
  await h.store.get(key);
  sent.length = 0;
  await h.store.update<Status>(key, (c) => ({ phase: 'b', n: (c?.n ?? 0) + 1 }));
  await h.store.update<Status>(key, (c) => ({ phase: 'c', n: (c?.n ?? 0) + 1 }));
  assert.deepEqual(sent, ['PutObject', 'PutObject'], 'two updates after a read: two conditional writes, no re-read');
  assert.deepEqual((await other.get<Status>(key))?.value, { phase: 'c', n: 2 });

  await other.update<Status>(key, (c) => ({ phase: 'other', n: (c?.n ?? 0) + 10 }));
  sent.length = 0;
  const refused = proxy.refused();
  const res = await h.store.update<Status>(key, (c) => ({ phase: 'd', n: (c?.n ?? 0) + 1 }));
  assert.deepEqual(res?.value, { phase: 'd', n: 13 }, "the other process's write is kept");
  assert.equal(proxy.refused() - refused, 1, 'the write against the remembered version was refused by S3');
  assert.deepEqual(sent, ['PutObject', 'GetObject', 'PutObject']);

  // "Nothing to change" is decided on a fresh read, not on the remembered copy.
  await other.put<Status>(key, { phase: 'needs-fix', n: 0 });
  const fixed = await h.store.update<Status>(key, (c) => (c?.phase === 'needs-fix' ? { phase: 'fixed', n: 1 } : undefined));
  assert.deepEqual(fixed?.value, { phase: 'fixed', n: 1 });
  assert.deepEqual((await other.get<Status>(key))?.value, { phase: 'fixed', n: 1 });
});

test('S3StateStore: concurrent gets of one record share GetObjects, and each caller gets its own copy of the value', async () => {
  const aws = await (await testEnv()).aws();
  const client = createS3Client(aws);
  const h = await s3Harness(client, true, false);
  let gets = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'GetObjectCommand') gets += 1;
      return next(args);
    },
    { step: 'initialize', name: 'countGets' },
  );
  await h.store.put<Status>(ks('shared'), { phase: 'a', n: 1 });
  const all = await Promise.all(Array.from({ length: 10 }, () => h.store.get<Status>(ks('shared'))));
  assert.ok(gets >= 1 && gets <= 2, `${gets} GetObject requests for 10 concurrent gets`);
  for (const r of all) assert.deepEqual(r?.value, { phase: 'a', n: 1 });
  all[0]!.value.phase = 'changed by one caller';
  assert.equal(all[1]!.value.phase, 'a', 'callers do not share one object');
  assert.equal(new Set(all.map((r) => r?.version)).size, 1);
});

// --- filesystem only: processes and crashes ---------------------------------------------------

function runChild(script: string, args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', script), ...args], {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

describe('FsStateStore across processes and crashes', () => {
  test('four processes incrementing one record lose no update', async (t) => {
    const { root, store } = fsHarness(t);
    const procs = 4;
    const each = 15;
    const results = await Promise.all(Array.from({ length: procs }, (_, i) => runChild('counter-child.ts', [root, String(each), `p${i}`])));
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const final = (await store.get<{ count: number; log: string[] }>({ kind: 'Counter', namespace: 'test', name: 'shared' }))!.value;
    assert.equal(final.count, procs * each);
    assert.equal(new Set(final.log).size, procs * each);
  });

  test('a writer killed mid-write leaves the old record intact; its lock and temp file are recovered', async (t) => {
    const { root, store } = fsHarness(t, { lockTimeoutMs: 3000 });
    const key = ks('web');
    const v1 = await store.put<Status>(key, { phase: 'Ready' });
    const r = await runChild('crash-child.ts', [root]);
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const dir = path.dirname(store.fileFor(key));
    const leftovers = fs.readdirSync(dir);
    assert.ok(leftovers.includes('web.json.lock'), `stale lock left: ${leftovers.join(', ')}`);
    assert.ok(leftovers.some((f) => f.startsWith('.web.json.tmp-')), 'complete-but-uncommitted temp file left');

    // Readers never see the crashed write, and listings ignore the debris.
    assert.deepEqual(await store.get<Status>(key), { value: { phase: 'Ready' }, version: v1 });
    assert.deepEqual(await store.list(), [key]);

    // The next writer recovers the dead process's lock at once (not after the 30 s stale age):
    // a writer that may wait only 1 ms for the lock still gets it.
    const impatient = new FsStateStore(root, { lockTimeoutMs: 1, staleLockMs: 60_000 });
    const v2 = await impatient.put<Status>(key, { phase: 'Recovered' }, { ifVersion: v1 });
    assert.deepEqual(await store.get<Status>(key), { value: { phase: 'Recovered' }, version: v2 });
    assert.deepEqual(fs.readdirSync(dir).sort(), ['web.json'], 'lock and temp file cleaned up');
  });

  test('a lock held by a live writer makes others wait, then time out with an actionable error', async (t) => {
    const { store } = fsHarness(t, { lockTimeoutMs: 300, staleLockMs: 60_000 });
    const key = ks('busy');
    await store.put(key, { phase: 'x' });
    // A live owner on another host: neither dead-pid nor age says it is stale.
    const lock = store.fileFor(key) + '.lock';
    fs.writeFileSync(lock, JSON.stringify({ pid: 4242, host: 'other-host', token: 't', at: Date.now() }));
    await assert.rejects(store.put(key, { phase: 'y' }), (err: unknown) => {
      assert.ok(err instanceof ConflictError);
      assert.match(err.message, /locked by process 4242 on other-host/);
      assert.match(err.message, /delete the lock file/);
      return true;
    });
    assert.deepEqual((await store.get<Status>(key))!.value, { phase: 'x' }, 'reads are not blocked by locks');
  });

  test('a lock older than staleLockMs (owner unknown or on another host) is taken over', async (t) => {
    const { store } = fsHarness(t, { lockTimeoutMs: 5000, staleLockMs: 1000 });
    const key = ks('old');
    await store.put(key, { phase: 'x' });
    const lock = store.fileFor(key) + '.lock';
    fs.writeFileSync(lock, 'garbage, not even JSON');
    const past = new Date(Date.now() - 10_000);
    fs.utimesSync(lock, past, past);
    await store.put(key, { phase: 'y' });
    assert.deepEqual((await store.get<Status>(key))!.value, { phase: 'y' });
    assert.equal(fs.existsSync(lock), false);
  });

  test('a lock left by a dead local process is recovered even when fresh', async (t) => {
    const { store } = fsHarness(t, { lockTimeoutMs: 2000, staleLockMs: 60_000 });
    const key = ks('dead');
    await store.put(key, { phase: 'x' });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    fs.writeFileSync(store.fileFor(key) + '.lock', JSON.stringify({ pid: deadPid, host: os.hostname(), token: 'gone', at: Date.now() }));
    await store.put(key, { phase: 'y' });
    assert.deepEqual((await store.get<Status>(key))!.value, { phase: 'y' });
  });
});
