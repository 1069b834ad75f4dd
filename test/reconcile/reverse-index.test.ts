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
const DEPENDENTS_INDEX_KIND = 'DependentsIndex';
const ks = (n: NamespacedName) => ({ kind: 'Kustomization', namespace: n.namespace, name: n.name });
const indexName = (n: NamespacedName) => `Kustomization.${n.name}`;
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
    assert.deepEqual(await state.list({ kind: DEPENDENTS_INDEX_KIND }), []);
  });

  test('register is idempotent: two registrations leave one entry, and the second does not write', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, apps);
    const key = { kind: DEPENDENTS_INDEX_KIND, namespace: infra.namespace, name: indexName(infra) };
    const v1 = (await state.get(key))?.version;
    assert.ok(v1);
    const { state: counted, calls } = counting(state);
    await registerDependent(counted, infra, { ...apps });
    assert.deepEqual(calls, { get: 1 }, 'already registered: one read, no write');
    assert.deepEqual(await registeredDependents(state, infra), [apps]);
    assert.equal((await state.get(key))?.version, v1, 'the record was not rewritten');
  });

  test('registeredDependents lists every dependent of that dependency only, in registration order', async (t) => {
    const state = store(t);
    await registerDependent(state, infra, apps);
    await registerDependent(state, infra, web);
    await registerDependent(state, apps, api);
    // Same name in another namespace is another dependent.
    await registerDependent(state, infra, { namespace: 'team-b', name: 'web' });
    assert.deepEqual(await registeredDependents(state, infra), [apps, web, { namespace: 'team-b', name: 'web' }]);
    assert.deepEqual(await registeredDependents(state, apps), [api]);
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

  test('hundreds of concurrent registrations on one dependency are all kept (no retries exhausted)', async (t) => {
    const state = store(t);
    const many = Array.from({ length: 400 }, (_, i) => ({ namespace: 'team', name: `k${String(i).padStart(3, '0')}` }));
    const { state: counted, calls } = counting(state);
    await Promise.all(many.map((d) => registerDependent(counted, infra, d)));
    assert.deepEqual(sorted(await registeredDependents(state, infra)), sorted(many));
    assert.ok((calls.update ?? 0) < many.length, `registrations written together (${calls.update} updates for ${many.length})`);
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
    assert.equal(await state.get({ kind: DEPENDENTS_INDEX_KIND, namespace: web.namespace, name: indexName(web) }), undefined);
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
    assert.equal(await state.get({ kind: DEPENDENTS_INDEX_KIND, namespace: infra.namespace, name: indexName(infra) }), undefined);
    assert.deepEqual(await state.list({ kind: DEPENDENTS_INDEX_KIND }), [{ kind: DEPENDENTS_INDEX_KIND, namespace: apps.namespace, name: indexName(apps) }]);
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
    assert.equal(calls.list, undefined, 'no listing of all Kustomizations');
    assert.ok((calls.get ?? 0) <= 4, `reads the index and the 3 members only (got ${calls.get})`);
    assert.deepEqual(await registeredDependents(state, infra), [apps], 'entries that no longer hold are dropped');
  });
});

describe('source users index: one entry record per user', () => {
  const source = { kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' };
  const user = (namespace: string, name: string) => ({ kind: 'Kustomization', namespace, name });
  const entryKind = 'SourceUsersIndexEntry';
  const entries = { kind: entryKind, namespace: 'GitRepository.flux-system.fleet' };
  const ids = (l: Array<{ kind: string; namespace: string; name: string }>) => l.map((k) => `${k.kind}/${k.namespace}/${k.name}`).sort();

  test('hundreds of users registering at once from two processes: all kept, one write each, no read-modify-write', async (t) => {
    const state = store(t);
    const other = new FsStateStore(state.rootDir, { durable: false }); // a second Lambda container on the same store
    const many = Array.from({ length: 400 }, (_, i) => user('team', `k${String(i).padStart(3, '0')}`));
    const { state: counted, calls } = counting(state);
    await Promise.all(many.map((u, i) => registerMember(i % 2 ? counted : other, 'SourceUsersIndex', source, u)));
    assert.deepEqual(ids(await registeredMembers(state, 'SourceUsersIndex', source)), ids(many));
    assert.equal(calls.update, undefined, 'no shared record to update');
    assert.equal(calls.put, many.length / 2, 'one write per registration');
    const again = counting(state);
    await registerMember(again.state, 'SourceUsersIndex', source, many[7]);
    assert.deepEqual(again.calls, { get: 1 }, 'already registered: one small read, however many users the source has');
  });

  test('names with dots or too long for one segment come back whole; other sources are apart', async (t) => {
    const state = store(t);
    const dotted = user('team-c', 'web.example.com');
    const long = user('team-c', 'x'.repeat(250));
    for (const u of [dotted, long]) await registerMember(state, 'SourceUsersIndex', source, u);
    await registerMember(state, 'SourceUsersIndex', { ...source, name: 'other' }, user('a', 'b'));
    assert.deepEqual(ids(await registeredMembers(state, 'SourceUsersIndex', source)), ids([dotted, long]));
    const { state: counted, calls } = counting(state);
    const live = await liveMembers(counted, 'SourceUsersIndex', source, () => true);
    assert.equal(live.length, 0, 'no records: both dropped');
    assert.equal(calls.list, 1, "one listing: this source's entries");
    assert.deepEqual(await registeredMembers(state, 'SourceUsersIndex', source), []);
    assert.equal((await state.list({ kind: entryKind })).length, 1, "the other source's entry stays");
  });

  test("an earlier version's single record is still read, pruned and dropped", async (t) => {
    const state = store(t);
    const legacy = { kind: 'SourceUsersIndex', namespace: 'flux-system', name: 'GitRepository.fleet' };
    const [a, b, c] = [user('x', 'a'), user('x', 'b'), user('x', 'c')];
    await state.put(legacy, { members: [a, b] });
    await registerMember(state, 'SourceUsersIndex', source, c);
    await registerMember(state, 'SourceUsersIndex', source, a); // in both: listed once
    assert.deepEqual(ids(await registeredMembers(state, 'SourceUsersIndex', source)), ids([a, b, c]));
    await unregisterMembers(state, 'SourceUsersIndex', source, [b, a]);
    assert.deepEqual((await state.get<{ members: unknown[] }>(legacy))?.value.members, []);
    assert.deepEqual(ids(await registeredMembers(state, 'SourceUsersIndex', source)), ids([c]));
    await dropIndex(state, 'SourceUsersIndex', source);
    assert.equal(await state.get(legacy), undefined);
    assert.deepEqual(await state.list(entries), []);
  });
});
