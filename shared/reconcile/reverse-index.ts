/**
 * Reverse indexes in the state store, so a change fans out without reading every record:
 * `dependents` (who waits on an object through `dependsOn`) and `users` (who reads a
 * source through `sourceRef` / `chartRef`).
 *
 * A member registers itself *before* it reads the target's status; the target reads the
 * index *after* it writes its own. So either the member sees the new status, or the target
 * sees the member: no wake-up is lost. Entries are hints: readers check the member's spec
 * again (`stillHolds`) and drop entries that no longer hold, and a member missing from the
 * index still runs on its own schedule (dependsOn retries every 30 s, like Flux).
 *
 * Two layouts, by how each index is used:
 * - `SourceUsersIndex` is written by every user of a source (a whole fleet on one
 *   GitRepository) and read only when the source has a new artifact: each member has its own
 *   entry record, named after the target and the member, so registrations from any number
 *   of processes never conflict, a registration check reads one small record, and the
 *   source lists its entries (one LIST per thousand on S3). The single record per source
 *   that earlier versions wrote is still read, pruned and dropped.
 * - `DependentsIndex` is read by every reconcile of the dependency (to wake its dependents)
 *   and written once per dependent: one record per target, so that read is one GET (a LIST
 *   costs 12.5 times a GET on S3); registrations in one process are written together.
 */
import { sameKey, type ObjectKey } from '../kube/object.js';
import { isValidSegment, keyAsSegment, keyFromSegment } from '../state/key.js';
import { readRecordSafe, type ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';

/** The reverse indexes Fluxless keeps. */
export type IndexName = 'DependentsIndex' | 'SourceUsersIndex';

/** One member's entry (SourceUsersIndex): `<index>Entry/<target as a segment>/<member as a segment>`. */
interface EntryDoc {
  member: ObjectKey;
}

/** The single record of a target (DependentsIndex; SourceUsersIndex before entries). */
interface IndexDoc {
  members: ObjectKey[];
}

/** Indexes kept as one entry record per member. */
function hasEntries(index: IndexName): boolean {
  return index === 'SourceUsersIndex';
}

function entryKind(index: IndexName): string {
  return `${index}Entry`;
}

function entryKey(index: IndexName, target: ObjectKey, member: ObjectKey): ObjectKey {
  return { kind: entryKind(index), namespace: keyAsSegment(target), name: keyAsSegment(member) };
}

function indexKey(index: IndexName, target: ObjectKey): ObjectKey {
  const name = `${target.kind}.${target.name}`;
  return { kind: index, namespace: target.namespace, name: isValidSegment(name) && name.length <= 253 ? name : target.name };
}

const plainKey = (m: ObjectKey): ObjectKey => ({ kind: m.kind, namespace: m.namespace, name: m.name });

/** Registrations waiting for one index record, applied together by one update. */
interface PendingBatch {
  members: ObjectKey[];
  done: Promise<void>;
}

/** Per store, per index record: the batch being written and the one gathering behind it. */
const batches = new WeakMap<StateStore, Map<string, { running?: Promise<void>; next?: PendingBatch }>>();

/**
 * Records that `member` refers to `target`; one read when already recorded. SourceUsersIndex:
 * one unconditional write of the member's own entry. DependentsIndex: concurrent
 * registrations on one index record in this process are written together, one update at a
 * time (N new dependents of one Kustomization cost a handful of conditional writes instead
 * of N racing ones).
 */
export async function registerMember(state: StateStore, index: IndexName, target: ObjectKey, member: ObjectKey): Promise<void> {
  if (hasEntries(index)) {
    const key = entryKey(index, target, member);
    if (await state.get(key)) return;
    await state.put<EntryDoc>(key, { member: plainKey(member) });
    return;
  }
  const key = indexKey(index, target);
  const cur = (await state.get<IndexDoc>(key))?.value;
  if (cur?.members.some((m) => sameKey(m, member))) return;
  let perStore = batches.get(state);
  if (!perStore) batches.set(state, (perStore = new Map()));
  const id = `${key.kind}/${key.namespace}/${key.name}`;
  let slot = perStore.get(id);
  if (!slot) perStore.set(id, (slot = {}));
  const entry = plainKey(member);
  if (slot.next) {
    slot.next.members.push(entry);
    return slot.next.done;
  }
  const s = slot;
  const batch: PendingBatch = { members: [entry], done: Promise.resolve() };
  batch.done = (async () => {
    // Behind the running write (if any): everything registered meanwhile joins this batch.
    await s.running?.catch(() => undefined);
    if (s.next === batch) s.next = undefined;
    const write = state
      .update<IndexDoc>(key, (c) => {
        const add = batch.members.filter((m, i) => !c?.members.some((x) => sameKey(x, m)) && batch.members.findIndex((y) => sameKey(y, m)) === i);
        return add.length ? { members: [...(c?.members ?? []), ...add] } : undefined;
      })
      .then(() => undefined);
    s.running = write;
    try {
      await write;
    } finally {
      if (s.running === write) s.running = undefined;
      if (!s.running && !s.next) perStore.delete(id);
    }
  })();
  s.next = batch;
  return batch.done;
}

/** The members registered for `target` (hints: check each one); entries sorted by key, then the index record's in registration order. */
export async function registeredMembers(state: StateStore, index: IndexName, target: ObjectKey): Promise<ObjectKey[]> {
  const out: ObjectKey[] = [];
  const add = (m: ObjectKey) => {
    if (!out.some((x) => sameKey(x, m))) out.push(plainKey(m));
  };
  if (hasEntries(index)) {
    for (const k of await state.list({ kind: entryKind(index), namespace: keyAsSegment(target) })) {
      const m = keyFromSegment(k.name) ?? (await state.get<EntryDoc>(k))?.value.member;
      if (m) add(m);
    }
  }
  for (const m of (await state.get<IndexDoc>(indexKey(index, target)))?.value.members ?? []) add(m);
  return out;
}

/** Drops entries that turned out not to hold. */
export async function unregisterMembers(state: StateStore, index: IndexName, target: ObjectKey, gone: ObjectKey[]): Promise<void> {
  if (!gone.length) return;
  if (hasEntries(index)) for (const m of gone) await state.delete(entryKey(index, target, m));
  await state.update<IndexDoc>(indexKey(index, target), (c) => {
    if (!c) return undefined;
    const keep = c.members.filter((m) => !gone.some((g) => sameKey(g, m)));
    return keep.length === c.members.length ? undefined : { members: keep };
  });
}

/** Removes the index of an object that no longer exists. */
export async function dropIndex(state: StateStore, index: IndexName, target: ObjectKey): Promise<void> {
  if (hasEntries(index)) for (const k of await state.list({ kind: entryKind(index), namespace: keyAsSegment(target) })) await state.delete(k);
  await state.delete(indexKey(index, target));
}

/**
 * The members of `target` whose record still holds (`stillHolds` true), reading only those
 * records; entries that no longer hold are dropped from the index.
 */
export async function liveMembers(
  state: StateStore,
  index: IndexName,
  target: ObjectKey,
  stillHolds: (rec: ObjectRecord, member: ObjectKey) => boolean,
): Promise<Array<{ key: ObjectKey; record: ObjectRecord }>> {
  const out: Array<{ key: ObjectKey; record: ObjectRecord }> = [];
  const gone: ObjectKey[] = [];
  for (const m of await registeredMembers(state, index, target)) {
    const read = await readRecordSafe(state, m);
    if (read.corrupt) continue; // reported by `get`; kept in the index until it is repaired
    const rec = read.record;
    if (!rec?.object || rec.deleted || !stillHolds(rec, m)) gone.push(m);
    else out.push({ key: m, record: rec });
  }
  await unregisterMembers(state, index, target, gone);
  return out;
}
