/**
 * The tags an ImageRepository scan found, kept in the state store next to (not inside) the
 * object's record, as image-reflector-controller keeps them in its database: one document
 * `ImageRepositoryTags/<namespace>/<name>` with the canonical image name, the tags (sorted
 * in descending byte-wise order, after the exclusion list) and their checksum.
 *
 * The checksum is what Flux's default (BadgerDB) store reports as `lastScanResult.revision`:
 * the decimal Adler-32 of the JSON array of the tags.
 */
import type { ObjectKey } from '../kube/object.js';
import type { StateStore } from '../state/store.js';

/** The state-store kind of the tag documents. */
export const TAGS_KIND = 'ImageRepositoryTags';
/** How many tags `lastScanResult.latestTags` shows. */
export const LATEST_TAGS_COUNT = 10;

/** One ImageRepository's stored scan. */
export interface StoredTags {
  canonicalImageName: string;
  /** Descending byte-wise order. */
  tags: string[];
  revision: string;
  scanTime: string;
}

/** The key of an ImageRepository's tag document. */
export function tagsKey(repo: ObjectKey): ObjectKey {
  return { kind: TAGS_KIND, namespace: repo.namespace, name: repo.name };
}

/** Adler-32 of bytes (hash/adler32). */
export function adler32(data: Uint8Array): number {
  const MOD = 65521;
  let a = 1;
  let b = 0;
  // Sums stay below 2^53 for chunks of 5552 bytes (zlib's NMAX), so reduce once per chunk.
  for (let i = 0; i < data.length; ) {
    const end = Math.min(i + 5552, data.length);
    for (; i < end; i++) {
      a += data[i];
      b += a;
    }
    a %= MOD;
    b %= MOD;
  }
  return ((b << 16) | a) >>> 0;
}

/** Flux's tag checksum: decimal Adler-32 of the JSON array (Go's json.Marshal; tags never need escaping). */
export function tagsRevision(tags: readonly string[]): string {
  return String(adler32(Buffer.from(JSON.stringify(tags))));
}

/** Go's sort of tags for the store: descending byte-wise (stable). */
export function sortTagsDescending(tags: readonly string[]): string[] {
  return [...tags].sort((a, b) => (a < b ? 1 : a > b ? -1 : 0));
}

/** Reads an ImageRepository's stored tags (undefined when it was never scanned). */
export async function readTags(state: StateStore, repo: ObjectKey): Promise<StoredTags | undefined> {
  return (await state.get<StoredTags>(tagsKey(repo)))?.value;
}

/** Stores a scan; returns what was stored. */
export async function writeTags(state: StateStore, repo: ObjectKey, canonicalImageName: string, tags: readonly string[], scanTime: Date): Promise<StoredTags> {
  const sorted = sortTagsDescending(tags);
  const doc: StoredTags = { canonicalImageName, tags: sorted, revision: tagsRevision(sorted), scanTime: scanTime.toISOString() };
  await state.put(tagsKey(repo), doc);
  return doc;
}

/** Deletes an ImageRepository's stored tags. */
export async function deleteTags(state: StateStore, repo: ObjectKey): Promise<void> {
  await state.delete(tagsKey(repo));
}
