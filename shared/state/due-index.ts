/**
 * The due-time index: lets the scheduler find the objects whose next run is due without
 * reading every record (on S3 each read costs a request).
 *
 * Time is cut into buckets of BUCKET_MS. When a status write sets an object's `nextRunAt`,
 * an empty marker record `DueIndex/<bucket>/<Kind>.<namespace>.<name>` is written (and the
 * marker of the previous time removed). A tick lists the buckets that ended since the last
 * tick (one LIST each; a cursor record remembers where it stopped) and gets the due
 * objects from the marker names alone. Markers are hints: a stale one costs one early
 * reconcile, never a missed one. Without a cursor (a new store, or a scheduler that was
 * away longer than MAX_GAP_MS) the caller does one full scan and the index starts over.
 */
import type { ObjectKey } from '../kube/object.js';
import { keyAsSegment, keyFromSegment } from './key.js';
import type { StateStore } from './store.js';

/** Width of one bucket. A due object runs at most this much (plus one tick) late. */
export const BUCKET_MS = 10_000;
/** A cursor older than this means the scheduler was away: rescan everything once. */
export const MAX_GAP_MS = 60 * 60_000;

const MARKER_KIND = 'DueIndex';
const CURSOR_KEY: ObjectKey = { kind: 'DueCursor', namespace: '', name: 'scheduler' };

interface Marker {
  key: ObjectKey;
}

interface Cursor {
  /** First bucket not yet handed out. */
  next: number;
}

/** The bucket of an ISO time or epoch ms. */
export function bucketOf(at: string | number): number {
  const ms = typeof at === 'number' ? at : Date.parse(at);
  return Math.floor(ms / BUCKET_MS);
}

function markerKey(bucket: number, key: ObjectKey): ObjectKey {
  return { kind: MARKER_KIND, namespace: `b${bucket}`, name: keyAsSegment(key) };
}

/** Files `key` as due at `at`, removing its marker for `previous` (when in another bucket). */
export async function scheduleDue(state: StateStore, key: ObjectKey, at: string, previous?: string): Promise<void> {
  const b = bucketOf(at);
  if (!Number.isFinite(b)) return;
  await state.put<Marker>(markerKey(b, key), { key });
  if (previous) {
    const pb = bucketOf(previous);
    if (Number.isFinite(pb) && pb !== b) await state.delete(markerKey(pb, key), { blind: true });
  }
}

/** What a tick found: the due objects, or `rescan` when the index cannot be trusted. */
export interface DueScan {
  due: ObjectKey[];
  /** True when the caller must scan every record once (no cursor, or too long a gap). */
  rescan: boolean;
  /** Call after the due objects were enqueued: removes their markers and moves the cursor. */
  commit(): Promise<void>;
}

/**
 * The objects whose bucket ended before `now`, since the last committed tick. Costs one
 * read (the cursor) and one LIST per elapsed bucket, plus one read per hashed marker.
 */
export async function dueSince(state: StateStore, now: number): Promise<DueScan> {
  const nowBucket = bucketOf(now);
  const cur = (await state.get<Cursor>(CURSOR_KEY))?.value;
  const start = cur?.next;
  const rescan = start === undefined || nowBucket - start > MAX_GAP_MS / BUCKET_MS;
  const from = rescan ? nowBucket : start;
  const due: ObjectKey[] = [];
  const markers: ObjectKey[] = [];
  for (let b = from; b < nowBucket; b++) {
    for (const mk of await state.list({ kind: MARKER_KIND, namespace: `b${b}` })) {
      markers.push(mk);
      const key = keyFromSegment(mk.name) ?? (await state.get<Marker>(mk))?.value.key;
      if (key) due.push(key);
    }
  }
  return {
    due,
    rescan,
    async commit() {
      await state.put<Cursor>(CURSOR_KEY, { next: nowBucket });
      for (const mk of markers) await state.delete(mk);
    },
  };
}

/** Drops the index (cursor and markers): the next tick rescans. */
export async function resetDueIndex(state: StateStore): Promise<void> {
  await state.delete(CURSOR_KEY);
  for (const mk of await state.list({ kind: MARKER_KIND })) await state.delete(mk);
}
