/**
 * Standing fault suite (issue 9, finding 4): one corrupt state record stops nobody.
 *
 * A fleet is reconciled by the real `fluxless serve`; with the server stopped, records are
 * corrupted the ways a disk, an editor or a bad copy corrupts them (a truncated record of a
 * Kustomization that uses the source, a file that is not JSON where a Receiver's record
 * should be, JSON that is not a state document), and the scheduler's cursor is removed so
 * its next tick scans every record. With the server started again: every scheduler tick
 * still works (a drift on `apps` is corrected), a new commit reaches `apps` through the
 * webhook, the receiver directory and its GitRepository, `fluxless get all` lists
 * everything and shows each corrupt record with its file and what to do, and the corrupt
 * files are left as they were for the user to look at.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { assertExit, configMap, faultFleet, kustomization, ready, receiver, waitFor } from './helpers.js';
import { describeLeaks, scanForSecrets } from './secret-scan.js';

test('corrupt state records are skipped and reported; scheduling, webhooks, sources and get keep working', { timeout: 240_000 }, async (t) => {
  const f = await faultFleet(t);
  const { ns } = f;
  await f.repo.commit(
    {
      'clusters/dev/receiver.yaml': receiver(ns),
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps', { interval: '2s' }),
      'clusters/dev/aaa.yaml': kustomization(ns, 'aaa', './aaa'),
      'apps/a.yaml': configMap('a', { v: '1' }),
      'aaa/x.yaml': configMap('x', { v: '1' }),
    },
    'first',
  );
  await f.repo.push();
  const rev1 = `main@sha1:${await f.repo.head()}`;

  let serve = await f.serve();
  await waitFor('apps and aaa Ready at the first revision', () => {
    const apps = f.record('Kustomization', 'apps');
    return ready(apps).status === 'True' && apps?.status.lastAppliedRevision === rev1 && ready(f.record('Kustomization', 'aaa')).status === 'True';
  }, 90_000, serve.output);
  assert.equal(await serve.stop(), 0, serve.output());

  // Corrupt records, the server stopped (no writer races the corruption).
  const aaaFile = f.stateFile('Kustomization', 'aaa');
  const whole = readFileSync(aaaFile, 'utf8');
  const corrupt: Record<string, string> = {
    [aaaFile]: whole.slice(0, Math.floor(whole.length / 2)), // truncated mid-document
    [f.stateFile('Receiver', 'aaa')]: 'this is not JSON {\n', // not JSON at all
    [f.stateFile('Kustomization', 'aab')]: JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap' }), // JSON, not a state document
  };
  for (const [file, text] of Object.entries(corrupt)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, text);
  }
  // Without its cursor the scheduler's next tick scans every record (as after a long outage).
  const cursor = path.join(f.dataDir, 'state', 'DueCursor', '_', 'scheduler.json');
  rmSync(cursor, { force: true });

  serve = await f.serve();

  await t.test('every scheduler tick still works: a drift on apps is corrected', async () => {
    await f.client.request('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, { body: { data: { v: 'tampered' } }, contentType: 'application/merge-patch+json' });
    await waitFor('the drift check to restore ConfigMap a', async () => (await f.get('ConfigMap', 'a'))?.data?.v === '1', 60_000, serve.output);
    assert.ok(existsSync(cursor), 'the full scan finished and wrote a new cursor');
  });

  await t.test('a new commit reaches apps through the webhook, the receiver directory and the GitRepository', async () => {
    // The same commit adds a Kustomization the root must create next to the corrupt aaa.
    await f.repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }), 'clusters/dev/zzz.yaml': kustomization(ns, 'zzz', './zzz'), 'zzz/z.yaml': configMap('z', { v: '1' }) }, 'second');
    await f.repo.push();
    const rev2 = `main@sha1:${await f.repo.head()}`;
    const res = await f.push(serve);
    assert.equal(res.status, 200, `webhook: ${res.status} ${await res.text()}\n${serve.output()}`);
    await waitFor('apps at the second revision', () => f.record('Kustomization', 'apps')?.status.lastAppliedRevision === rev2, 60_000, serve.output);
    assert.equal(f.record('GitRepository', 'flux-system')?.status.artifact?.revision, rev2);
    assert.equal((await f.get('ConfigMap', 'a'))?.data?.v, '2');
  });

  assert.equal(await serve.stop(), 0, `serve exits cleanly:\n${serve.output()}`);

  await t.test('fluxless get all lists everything and shows each corrupt record with its file and what to do', async () => {
    const table = await f.cli(['get', 'all', '-n', ns]);
    assertExit(table, 0, 'fluxless get all');
    const rows = await f.getAll();
    const row = (kind: string, name: string) => rows.find((r) => r.kind === kind && r.name === name);
    for (const [kind, name] of [['GitRepository', 'flux-system'], ['Kustomization', 'apps'], ['Receiver', 'github']]) {
      assert.equal(row(kind, name)?.ready, 'True', `${kind}/${name}: ${JSON.stringify(row(kind, name))}`);
    }
    // The root Kustomization, which defines aaa, says which record stops it.
    assert.ok(row('Kustomization', 'flux-system')?.message.includes(aaaFile), JSON.stringify(row('Kustomization', 'flux-system')));
    for (const [kind, name] of [['Kustomization', 'aaa'], ['Kustomization', 'aab'], ['Receiver', 'aaa']]) {
      const r = row(kind, name);
      assert.ok(r, `${kind}/${name} is listed:\n${table.stdout}`);
      assert.equal(r.ready, 'Corrupt');
      assert.ok(r.message.includes(f.stateFile(kind, name)), `names the file: ${r.message}`);
      assert.match(r.message, /Delete it/, 'says what to do');
      const line = table.stdout.split('\n').find((l) => l.includes(`${kind.toLowerCase()}/${name}`));
      assert.ok(line && /\bCorrupt\b/.test(line) && line.includes(f.stateFile(kind, name)), `table row for ${kind}/${name}: ${line}`);
    }
  });

  await t.test('the corrupt files are left as they were', () => {
    for (const [file, text] of Object.entries(corrupt)) assert.equal(readFileSync(file, 'utf8'), text, file);
  });

  await t.test(
    'the root Kustomization still syncs its other definitions: zzz, added next to the corrupt aaa, is created',
    async () => {
      // The root runs in this process (no server), as `fluxless reconcile` does.
      const root = await f.cli(['reconcile', 'kustomization', 'flux-system', '-n', ns]);
      assert.ok(f.record('Kustomization', 'zzz')?.object, `zzz was defined:\n${root.stdout}${root.stderr}`);
      assertExit(await f.cli(['reconcile', 'kustomization', 'zzz', '-n', ns]), 0, 'fluxless reconcile kustomization zzz');
      assert.equal((await f.get('ConfigMap', 'z'))?.data?.v, '1');
      assert.ok((root.stdout + root.stderr).includes(aaaFile), 'the root names the corrupt record');
    },
  );

  await t.test(
    'a state document whose value is not an object record (no status) is reported as corrupt, not a crash',
    async () => {
      const file = f.stateFile('GitRepository', 'aaa');
      const key = { kind: 'GitRepository', namespace: ns, name: 'aaa' };
      const object = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'aaa', namespace: ns }, spec: { url: f.repo.url, interval: '1m' } };
      writeFileSync(file, JSON.stringify({ fluxless: 'state/v1', key, nonce: 'n', updatedAt: new Date().toISOString(), value: { object } }));
      const r = await f.cli(['get', 'all', '-n', ns, '-o', 'json']);
      assertExit(r, 0, 'fluxless get all with a record without status');
      const rows = JSON.parse(r.stdout) as Array<{ kind: string; name: string; ready: string; message: string }>;
      const bad = rows.find((x) => x.kind === 'GitRepository' && x.name === 'aaa');
      assert.equal(bad?.ready, 'Corrupt');
      assert.ok(bad?.message.includes(file) || bad?.message.includes('GitRepository'), bad?.message);
      rmSync(cursor, { force: true });
      serve = await f.serve();
      try {
        // A tick that gets through the full scan writes the cursor again.
        await waitFor('a scheduler tick through the full scan', () => existsSync(cursor), 10_000, serve.output);
      } finally {
        await serve.stop();
      }
    },
  );

  await t.test('no secret value in logs, output or the data directory', async () => {
    const { leaks } = await scanForSecrets(f.secrets, { dirs: [f.dataDir], texts: f.outputs.map((text, i) => ({ where: `output #${i}`, text })) });
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });
});
