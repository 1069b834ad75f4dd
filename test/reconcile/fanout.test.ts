/**
 * Fan-out without scans: a scheduler tick and a source change read only the records they
 * need, not every record of a fleet (on S3 every read is a request). A fleet of 200
 * Kustomizations on one GitRepository, counted at the state store.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { noClusterKubeConfig } from '../../shared/kube/kubeconfig.js';
import type { ObjectKey } from '../../shared/kube/object.js';
import { registerSourceUser, sourceUsers } from '../../shared/reconcile/source-users.js';
import { writeStatus } from '../../shared/reconcile/status.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { scheduleTick } from '../../shared/runtime/schedule.js';
import { BUCKET_MS } from '../../shared/state/due-index.js';
import type { ObjectRecord } from '../../shared/state/records.js';
import type { StateStore } from '../../shared/state/store.js';

const N = 200;

interface Counts {
  get: number;
  list: Array<{ kind?: string; namespace?: string }>;
}

/** The store, counting reads (get, and update's own get) and listings. */
function counting(inner: StateStore, counts: Counts): StateStore {
  return {
    get: (key) => (counts.get++, inner.get(key)),
    put: (key, value, opts) => inner.put(key, value, opts),
    delete: (key, opts) => inner.delete(key, opts),
    list: (prefix) => (counts.list.push(prefix ?? {}), inner.list(prefix)),
    update: (key, fn, opts) => (counts.get++, inner.update(key, fn, opts)),
  };
}

async function fleet(t: TestContext, clock: { now: number }): Promise<{ rt: Runtime; counts: Counts; source: ObjectKey; ks: ObjectKey[] }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-fanout-'));
  const cfg = loadConfig({ env: { FLUXLESS_SOURCE_URL: 'https://example.invalid/fleet.git' }, dataDir: dir });
  const base = createRuntime(cfg, { kubeConfig: noClusterKubeConfig() });
  t.after(async () => {
    base.client.close();
    await base.queue.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const counts: Counts = { get: 0, list: [] };
  const rt: Runtime = { ...base, state: counting(base.state, counts), now: () => new Date(clock.now) };
  const source = { kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' };
  await base.state.put<ObjectRecord>(source, {
    object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system', generation: 1 }, spec: { url: 'https://example.invalid/fleet.git', interval: '1m' } },
    status: {},
  });
  const ks: ObjectKey[] = [];
  for (let i = 0; i < N; i++) {
    const key = { kind: 'Kustomization', namespace: 'apps', name: `app-${String(i).padStart(3, '0')}` };
    ks.push(key);
    // Every fifth one reads another source: the fleet's source has 160 users.
    const src = i % 5 === 0 ? 'other' : 'fleet';
    await base.state.put<ObjectRecord>(key, {
      object: {
        apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
        kind: 'Kustomization',
        metadata: { name: key.name, namespace: 'apps', generation: 1 },
        spec: { interval: '10m', prune: true, path: `./apps/${i}`, sourceRef: { kind: 'GitRepository', name: src, namespace: 'flux-system' } },
      },
      status: {},
    });
    await registerSourceUser(base, { ...source, name: src }, key);
    // Reconciled once: Ready, next run 10 minutes later (filed in the due-time index by the status writer).
    await writeStatus(base.state, key, { ready: true, reason: 'ReconciliationSucceeded', message: 'Applied revision: main@sha1:1', nextRunMs: 600_000 + i * 3000 }, new Date(clock.now));
  }
  return { rt, counts, source, ks };
}

test('a scheduler tick reads the due objects only, not every record', async (t) => {
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
  const { rt, counts, ks } = await fleet(t, clock);
  // The first tick of a new store has no cursor: it scans once and keeps the index.
  const first = await scheduleTick(rt);
  assert.equal(first.rescanned, true);
  assert.deepEqual(first.enqueued.map((e) => `${e.kind}/${e.reason}`), ['GitRepository/new'], 'only the never-reconciled source is due');

  // One minute later: nothing is due. The tick reads its cursor and lists the elapsed buckets.
  clock.now += 60_000;
  counts.get = 0;
  counts.list = [];
  const idle = await scheduleTick(rt);
  assert.equal(idle.rescanned, false);
  assert.deepEqual(idle.enqueued, []);
  assert.equal(counts.get, 1, 'one read: the cursor');
  // Indexes only: the elapsed due-time buckets, and the (empty) index of watched ConfigMaps.
  const indexes = new Set(['DueIndex', 'ConfigWatchIndex']);
  assert.ok(counts.list.every((p) => indexes.has(p.kind ?? '')), `only indexes are listed: ${JSON.stringify(counts.list)}`);
  assert.ok(counts.list.filter((p) => p.kind === 'DueIndex').length <= 60_000 / BUCKET_MS + 1, `one LIST per elapsed bucket (got ${counts.list.length})`);

  // Ten minutes and a bit later: the first objects are due (their next runs are spread by 3 s).
  clock.now += 9 * 60_000 + 3 * BUCKET_MS;
  counts.get = 0;
  counts.list = [];
  const due = await scheduleTick(rt);
  const names = due.enqueued.map((e) => e.name);
  assert.ok(names.length > 0 && names.length < N / 2, `some, not all, are due (${names.length})`);
  assert.ok(names.every((n) => ks.some((k) => k.name === n)));
  assert.ok(due.enqueued.every((e) => e.reason === 'drift'));
  assert.equal(counts.get, 1, 'still one read: due objects come from the index markers alone');
  assert.ok(counts.list.every((p) => indexes.has(p.kind ?? '')));

  // The same due objects are not enqueued twice by the next tick.
  clock.now += BUCKET_MS;
  const again = await scheduleTick(rt);
  assert.ok(again.enqueued.every((e) => !names.includes(e.name)));
});

test('a new revision of a source reads its users only', async (t) => {
  const clock = { now: Date.parse('2026-12-01T10:00:00Z') };
  const { rt, counts, source } = await fleet(t, clock);
  counts.get = 0;
  counts.list = [];
  const wake = await sourceUsers(rt, source, 'main@sha1:2');
  assert.equal(wake.length, N - N / 5, 'every user of this source, none of the other');
  assert.ok(wake.every((w) => w.key.kind === 'Kustomization' && w.dedupKey === 'main@sha1:2'));
  assert.deepEqual(counts.list, [{ kind: 'SourceUsersIndexEntry', namespace: 'GitRepository.flux-system.fleet' }], "one listing: this source's index entries, no listing of Kustomizations");
  // The single-record index of earlier versions (absent), then each user once (to check it still uses the source); nothing is rewritten.
  assert.equal(counts.get, 1 + wake.length);
});
