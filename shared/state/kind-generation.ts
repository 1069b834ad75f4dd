/**
 * Generation markers: a small record per tracked kind whose version changes whenever a
 * record of that kind changes in a way its readers care about. A reader that keeps a
 * listing of the kind (the notification pipeline keeps the parsed Alerts) reads the marker
 * (one GET) and lists again only when the version moved, instead of one LIST plus a GET per
 * record on every event.
 *
 * `trackKindGenerations` wraps a store: after each successful put or delete of a tracked
 * kind, and each update whose projection of the record changed, it rewrites the marker. The
 * marker is written after the record, so a reader that sees a new marker and then lists sees
 * the new record too (S3 and the filesystem are read-after-write consistent). A reader that
 * finds no marker (a store written before markers existed) lists, then creates the marker
 * only if it is still absent; a tracked write that raced it moves the marker past the
 * listing. Writers that do not track (an older version on the same bucket), and a record
 * written whose marker write then failed (the error reaches the writer, whose retry finds
 * nothing left to change), are covered by the reader's maximum cache age only.
 */
import type { ObjectKey } from './key.js';
import { ConflictError } from '../util/errors.js';
import { SharedReads } from '../util/shared-read.js';
import type { DeleteOptions, PutOptions, StateStore, UpdateOptions, Updater, Versioned } from './store.js';

/** Kind of the marker records (one per tracked kind, named after it). */
export const GENERATION_KIND = 'KindGeneration';

/** What a tracked kind's readers depend on: records whose projections are equal are the same to them. */
export type Projection = (value: unknown) => string;

const tracking = new WeakSet<StateStore>();

function markerKey(kind: string): ObjectKey {
  return { kind: GENERATION_KIND, namespace: '', name: kind };
}

class GenerationTrackingStore implements StateStore {
  /** The inner store's file of a record, when it has files (error messages name them). */
  readonly fileFor?: (key: ObjectKey) => string;

  constructor(
    private readonly inner: StateStore,
    private readonly kinds: Readonly<Record<string, Projection>>,
  ) {
    const fileFor = (inner as { fileFor?: unknown }).fileFor;
    if (typeof fileFor === 'function') this.fileFor = (key) => (fileFor as (k: ObjectKey) => string).call(inner, key);
  }

  get<T>(key: ObjectKey): Promise<Versioned<T> | undefined> {
    return this.inner.get<T>(key);
  }

  list(prefix?: { kind?: string; namespace?: string }): Promise<ObjectKey[]> {
    return this.inner.list(prefix);
  }

  async put<T>(key: ObjectKey, value: T, opts?: PutOptions): Promise<string> {
    const version = await this.inner.put(key, value, opts);
    if (Object.hasOwn(this.kinds, key.kind)) await this.bump(key.kind);
    return version;
  }

  async delete(key: ObjectKey, opts?: DeleteOptions): Promise<boolean> {
    const existed = await this.inner.delete(key, opts);
    if (existed && Object.hasOwn(this.kinds, key.kind)) await this.bump(key.kind);
    return existed;
  }

  async update<T>(key: ObjectKey, fn: Updater<T>, opts?: UpdateOptions): Promise<Versioned<T> | undefined> {
    const project = Object.hasOwn(this.kinds, key.kind) ? this.kinds[key.kind] : undefined;
    if (!project) return this.inner.update(key, fn, opts);
    // The updater may run once per attempt: what counts is the attempt that was written.
    let changed = false;
    const res = await this.inner.update<T>(
      key,
      (cur) => {
        const next = fn(cur);
        changed = next !== undefined && project(cur) !== project(next);
        return next;
      },
      opts,
    );
    if (changed) await this.bump(key.kind);
    return res;
  }

  private async bump(kind: string): Promise<void> {
    await this.inner.put(markerKey(kind), { kind });
  }
}

/** Wraps `inner` so that changes to records of `kinds` (as their projections see them) move the kinds' generation markers. */
export function trackKindGenerations(inner: StateStore, kinds: Readonly<Record<string, Projection>>): StateStore {
  const store = new GenerationTrackingStore(inner, kinds);
  tracking.add(store);
  return store;
}

/** Per store: concurrent reads of a marker, shared (util/shared-read.ts). */
const reads = new WeakMap<StateStore, SharedReads<string | undefined>>();

/**
 * The current generation of `kind`, or undefined when `state` does not track generations
 * (then the caller must list every time). A missing marker is created, so that the caller's
 * listing, taken after this call, is valid for the returned generation.
 *
 * Concurrent callers in one process share reads (SharedReads), each one getting a read that
 * started after its call: ten reconciles emitting events at once cost two GETs, not ten.
 */
export async function kindGeneration(state: StateStore, kind: string): Promise<string | undefined> {
  if (!tracking.has(state)) return undefined;
  let shared = reads.get(state);
  if (!shared) reads.set(state, (shared = new SharedReads()));
  return shared.read(kind, () => readGeneration(state, kind));
}

/** One read of the marker (created when missing). */
async function readGeneration(state: StateStore, kind: string): Promise<string | undefined> {
  const key = markerKey(kind);
  const cur = await state.get(key);
  if (cur) return cur.version;
  try {
    return await state.put(key, { kind }, { ifAbsent: true });
  } catch (err) {
    if (!(err instanceof ConflictError)) throw err;
    // A tracked write created it meanwhile: its version is the one to list against.
    return (await state.get(key))?.version;
  }
}
