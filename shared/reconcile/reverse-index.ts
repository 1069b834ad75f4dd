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
 * Each member has its own entry record, named after the target and the member, so
 * registering never races another registration, and the target lists its entries (one LIST
 * per thousand on S3). The single index record per target that earlier versions wrote is
 * still read, pruned and dropped, so a store written by them keeps its wake-ups.
 */
import { sameKey, type ObjectKey } from '../kube/object.js';
import { isValidSegment, keyAsSegment, keyFromSegment } from '../state/key.js';
import { readRecordSafe, type ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';

/** The reverse indexes Fluxless keeps. */
export type IndexName = 'DependentsIndex' | 'SourceUsersIndex';

/** One member's entry: `<index>Entry/<target as a segment>/<member as a segment>`. */
interface EntryDoc {
  member: ObjectKey;
}

/** The single-record index of earlier versions, still read (and pruned) until it is dropped. */
interface LegacyIndexDoc {
  members: ObjectKey[];
}

function entryKind(index: IndexName): string {
  return `${index}Entry`;
}

function entryKey(index: IndexName, target: ObjectKey, member: ObjectKey): ObjectKey {
  return { kind: entryKind(index), namespace: keyAsSegment(target), name: keyAsSegment(member) };
}

function legacyKey(index: IndexName, target: ObjectKey): ObjectKey {
  const name = `${target.kind}.${target.name}`;
  return { kind: index, namespace: target.namespace, name: isValidSegment(name) && name.length <= 253 ? name : target.name };
}

/**
 * Records that `member` refers to `target`: one read when already recorded, else one
 * unconditional write of the member's own entry. Entries are separate records, so a fleet
 * of N new Kustomizations on one source writes N small records that never conflict, from
 * any number of processes, and a registration check reads one small record however many
 * users the source has.
 */
export async function registerMember(state: StateStore, index: IndexName, target: ObjectKey, member: ObjectKey): Promise<void> {
  const key = entryKey(index, target, member);
  if (await state.get(key)) return;
  await state.put<EntryDoc>(key, { member: { kind: member.kind, namespace: member.namespace, name: member.name } });
}

/** The members registered for `target` (hints: check each one), sorted by key. */
export async function registeredMembers(state: StateStore, index: IndexName, target: ObjectKey): Promise<ObjectKey[]> {
  const out: ObjectKey[] = [];
  const add = (m: ObjectKey) => {
    if (!out.some((x) => sameKey(x, m))) out.push({ kind: m.kind, namespace: m.namespace, name: m.name });
  };
  for (const k of await state.list({ kind: entryKind(index), namespace: keyAsSegment(target) })) {
    const m = keyFromSegment(k.name) ?? (await state.get<EntryDoc>(k))?.value.member;
    if (m) add(m);
  }
  for (const m of (await state.get<LegacyIndexDoc>(legacyKey(index, target)))?.value.members ?? []) add(m);
  return out;
}

/** Drops entries that turned out not to hold. */
export async function unregisterMembers(state: StateStore, index: IndexName, target: ObjectKey, gone: ObjectKey[]): Promise<void> {
  if (!gone.length) return;
  for (const m of gone) await state.delete(entryKey(index, target, m));
  await state.update<LegacyIndexDoc>(legacyKey(index, target), (c) => {
    if (!c) return undefined;
    const keep = c.members.filter((m) => !gone.some((g) => sameKey(g, m)));
    return keep.length === c.members.length ? undefined : { members: keep };
  });
}

/** Removes the index of an object that no longer exists. */
export async function dropIndex(state: StateStore, index: IndexName, target: ObjectKey): Promise<void> {
  for (const k of await state.list({ kind: entryKind(index), namespace: keyAsSegment(target) })) await state.delete(k);
  await state.delete(legacyKey(index, target));
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
