import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { dropIndex, liveMembers, registerMember, registeredMembers, unregisterMembers } from '../../shared/reconcile/reverse-index.js';
import { FsStateStore, type StateStore } from '../../shared/state/index.js';
import type { ObjectRecord } from '../../shared/state/records.js';

// The dependsOn index of Kustomizations, named as the reconciler uses it.
interface NamespacedName {
  namespace: string;
  name: string;
}
const ENTRY_KIND = 'DependentsIndexEntry';
const ks = (n: NamespacedName) => ({ kind: 'Kustomization', namespace: n.namespace, name: n.name });
const segment = (n: NamespacedName) => `Kustomization.${n.namespace}.${n.name}`;
const entryKey = (dep: NamespacedName, d: NamespacedName) => ({ kind: ENTRY_KIND, namespace: segment(dep), name: segment(d) });
const registerDependent = (s: StateStore, dep: NamespacedName, d: NamespacedName) => registerMember(s, 'DependentsIndex', ks(dep), ks(d));
const registeredDependents = async (s: StateStore, dep: NamespacedName) =>
  (await registeredMembers(s, 'DependentsIndex', ks(dep))).map((m) => ({ namespace: m.namespace, name: m.name }));
const unregisterDependents = (s: StateStore, dep: NamespacedName, gone: NamespacedName[]) => unregisterMembers(s, 'DependentsIndex', ks(dep), gone.map(ks));
const dropDependentsIndex = (s: StateStore, dep: NamespacedName) => dropIndex(s, 'DependentsIndex', ks(dep));

function store(t: TestContext): FsStateStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-dependents-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return new FsStateStore(dir, { durable: false });
}

/** Wraps a store, counting calls per method. */
function counting(inner: StateStore): { state: StateStore; calls: Record<string, number> } {
  const calls: Record<string, number> = {};
  const count = (m: string) => (calls[m] = (calls[m] ?? 0) + 1);
  const state: StateStore = {
    get: (key) => (count('get'), inner.get(key)),
    put: (key, value, opts) => (count('put'), inner.put(key, value, opts)),
    delete: (key, opts) => (count('delete'), inner.delete(key, opts)),
    list: (prefix) => (count('list'), inner.list(prefix)),
    update: (key, fn, opts) => (count('update'), inner.update(key, fn, opts)),
  };
  return { state, calls };
}

const infra: NamespacedName = { namespace: 'flux-system', name: 'infra' };
const apps: NamespacedName = { namespace: 'flux-system', name: 'apps' };
const web: NamespacedName = { namespace: 'team-a', name: 'web' };
const api: NamespacedName = { namespace: 'team-a', name: 'api' };
const sorted = (l: NamespacedName[]) => l.map((d) => `${d.namespace}/${d.name}`).sort();

describe('dependents index', () => {
  test('nothing registered: no dependents, and no record', async (t) => {
    const state = store(t);
    assert.deepEqual(await registeredDependents(state, infra), []);
    assert.deepEqual(await state.list({ kind: ENTRY_KIND }), []);
  });

  test('register is idempotent: two registrations leave one entry, and the second does not write', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, apps);
    const key = entryKey(infra, apps);
    const v1 = (await state.get(key))?.version;
    assert.ok(v1);
    const { state: counted, calls } = counting(state);
    await registerDependent(counted, infra, { ...apps });
    assert.deepEqual(calls, { get: 1 }, 'already registered: one read, no write');
    assert.deepEqual(await registeredDependents(state, infra), [apps]);
    assert.equal((await state.get(key))?.version, v1, 'the record was not rewritten');
  });

  test('registeredDependents lists every dependent of that dependency only, sorted', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, apps);
    await registerDependent(state, infra, web);
    await registerDependent(state, apps, api);
    // Same name in another namespace is another dependent.
    await registerDependent(state, infra, { namespace: 'team-b', name: 'web' });
    assert.deepEqual(await registeredDependents(state, infra), [apps, web, { namespace: 'team-b', name: 'web' }]);
    // Names with dots and names too long for one segment come back whole.
    const dotted = { namespace: 'team-c', name: 'web.example.com' };
    const long = { namespace: 'team-c', name: 'x'.repeat(250) };
    await registerDependent(state, apps, dotted);
    await registerDependent(state, apps, long);
    assert.deepEqual(sorted(await registeredDependents(state, apps)), sorted([api, dotted, long]));
    assert.deepEqual(await registeredDependents(state, web), []);
  });

  test('stores only namespace and name of a dependent', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, { ...web, extra: 'not stored' } as NamespacedName);
    assert.deepEqual(await registeredDependents(state, infra), [web]);
  });

  test('concurrent registrations on one dependency are all kept', async (t) => {
    const state = store(t);
    const many = Array.from({ length: 12 }, (_, i) => ({ namespace: 'team', name: `k${String(i).padStart(2, '0')}` }));
    await Promise.all(many.map((d) => registerDependent(state, infra, d)));
    assert.deepEqual(sorted(await registeredDependents(state, infra)), sorted(many));
  });

  test('hundreds of concurrent registrations on one dependency are all kept, each one write that cannot conflict', async (t) => {
    const state = store(t);
    const many = Array.from({ length: 400 }, (_, i) => ({ namespace: 'team', name: `k${String(i).padStart(3, '0')}` }));
    const { state: counted, calls } = counting(state);
    // Two stores on one directory stand for two processes (Lambda containers) registering at once.
    const other = new FsStateStore(state.rootDir, { durable: false });
    await Promise.all(many.map((d, i) => registerDependent(i % 2 ? counted : other, infra, d)));
    assert.deepEqual(sorted(await registeredDependents(state, infra)), sorted(many));
    assert.equal(calls.update, undefined, 'no read-modify-write of a shared record');
    assert.equal(calls.put, many.length / 2, 'one write per registration');
  });

  test('unregisterDependents removes only the named ones', async (t) => {
    const state = store(t);
    for (const d of [apps, web, api]) await registerDependent(state, infra, d);
    await registerDependent(state, apps, web);
    await unregisterDependents(state, infra, [web, { namespace: 'elsewhere', name: 'api' }]);
    assert.deepEqual(await registeredDependents(state, infra), [apps, api]);
    assert.deepEqual(await registeredDependents(state, apps), [web], 'other indexes untouched');
    // Removing what is not there, or nothing, is a no-op (and does not create a record).
    await unregisterDependents(state, infra, [{ namespace: 'x', name: 'y' }]);
    await unregisterDependents(state, infra, []);
    await unregisterDependents(state, web, [api]);
    assert.deepEqual(await registeredDependents(state, infra), [apps, api]);
    assert.deepEqual(await state.list({ kind: ENTRY_KIND, namespace: segment(web) }), []);
    // All of them.
    await unregisterDependents(state, infra, [apps, api]);
    assert.deepEqual(await registeredDependents(state, infra), []);
    // A dependent can register again afterwards.
    await registerDependent(state, infra, web);
    assert.deepEqual(await registeredDependents(state, infra), [web]);
  });

  test('dropDependentsIndex removes the index of that Kustomization only', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, apps);
    await registerDependent(state, infra, web);
    await registerDependent(state, apps, web);
    await dropDependentsIndex(state, infra);
    assert.deepEqual(await registeredDependents(state, infra), []);
    assert.deepEqual(await state.list({ kind: ENTRY_KIND }), [entryKey(apps, web)]);
    assert.deepEqual(await registeredDependents(state, apps), [web]);
    await dropDependentsIndex(state, infra); // already gone: fine
  });

  test('liveMembers reads only the members, keeps those whose spec still holds and drops the rest', async (t) => {
    const state = store(t);
    const def = (n: NamespacedName, deps: NamespacedName[]): ObjectRecord => ({
      object: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: n.name, namespace: n.namespace }, spec: { dependsOn: deps } },
      status: {},
    });
    await state.put(ks(apps), def(apps, [infra]));
    await state.put(ks(web), def(web, [])); // no longer depends on infra
    for (let i = 0; i < 20; i++) await state.put(ks({ namespace: 'other', name: `x${i}` }), def({ namespace: 'other', name: `x${i}` }, []));
    for (const d of [apps, web, api]) await registerDependent(state, infra, d); // api has no record at all
    const { state: counted, calls } = counting(state);
    const live = await liveMembers(counted, 'DependentsIndex', ks(infra), (rec) => ((rec.object?.spec?.dependsOn as NamespacedName[]) ?? []).some((d) => d.name === infra.name));
    assert.deepEqual(live.map((l) => l.key.name), ['apps']);
    assert.equal(calls.list, 1, "one listing: infra's index entries, not all Kustomizations");
    assert.ok((calls.get ?? 0) <= 4, `reads the 3 members (and the old single-record index) only (got ${calls.get})`);
    assert.deepEqual(await registeredDependents(state, infra), [apps], 'entries that no longer hold are dropped');
  });

  test("an earlier version's single index record is still read, pruned and dropped", async (t) => {
    const state = store(t);
    const legacy = { kind: 'DependentsIndex', namespace: infra.namespace, name: `Kustomization.${infra.name}` };
    await state.put(legacy, { members: [ks(apps), ks(web)] });
    await registerDependent(state, infra, api);
    await registerDependent(state, infra, apps); // in both: listed once
    assert.deepEqual(sorted(await registeredDependents(state, infra)), sorted([apps, web, api]));
    await unregisterDependents(state, infra, [web]);
    assert.deepEqual((await state.get<{ members: unknown[] }>(legacy))?.value.members, [ks(apps)]);
    assert.deepEqual(sorted(await registeredDependents(state, infra)), sorted([apps, api]));
    await dropDependentsIndex(state, infra);
    assert.equal(await state.get(legacy), undefined);
    assert.deepEqual(await registeredDependents(state, infra), []);
  });
});
