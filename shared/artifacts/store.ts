/**
 * ArtifactStore: where built artifacts live, keyed by content. Two implementations behave the
 * same: FsArtifactStore (local mode) and S3ArtifactStore (Lambda).
 *
 * Key: `<kind>/<namespace|_>/<name>/<sha256 hex>.tar.gz`, relative to the store's root or
 * prefix. Putting the same bytes again (a new revision with identical content) rewrites the
 * record's revision and time, so it becomes the newest. Every read checks the digest.
 * Retention (`gc`): keep the newest `keep` (Flux: 2) per source, never the protected ones.
 */
import { NotFoundError, ValidationError } from '../util/errors.js';
import { CLUSTER_SCOPE_SEGMENT, isValidSegment, keySegments, type ObjectKey } from '../state/key.js';

/** The source object an artifact belongs to (GitRepository, OCIRepository, Bucket, ...). */
export type ArtifactRef = ObjectKey;

/** A stored artifact as a source's status.artifact describes it: key, digest, size, revision, URL and time. */
export interface ArtifactRecord {
  /** `<kind>/<namespace|_>/<name>/<hex>.tar.gz`. */
  key: string;
  /** `sha256:<hex>` of the stored bytes. */
  digest: string;
  size: number;
  /** The source revision it was built from (e.g. `main@sha1:<40 hex>`). */
  revision: string;
  /** Where the bytes are: `file:///...` or `s3://bucket/key`. */
  url?: string;
  /** ISO time of the last put of these bytes for this source. */
  lastUpdateTime: string;
}

/** Options of ArtifactStore.gc: keys it must never delete. */
export interface GcOptions {
  /** Keys never deleted (e.g. the artifact in the object's status). */
  protect?: readonly string[];
}

/** Content-keyed storage of source artifacts, with Flux's retention of the newest few per source. */
export interface ArtifactStore {
  /** Stores `data` for `ref` at `revision`; returns its record. */
  put(ref: ArtifactRef, revision: string, data: Buffer): Promise<ArtifactRecord>;
  /**
   * Reads an artifact and checks its digest (`expectedDigest`, else the record's digest, else
   * the hash in the key). Throws NotFoundError when gone, ArtifactDigestMismatch when corrupt.
   */
  get(recordOrKey: ArtifactRecord | string, expectedDigest?: string): Promise<Buffer>;
  /** Records of `ref`, newest first. */
  list(ref: ArtifactRef): Promise<ArtifactRecord[]>;
  /** Deletes all but the newest `keep` (default 2) of `ref`; returns the deleted keys. */
  gc(ref: ArtifactRef, keep?: number, opts?: GcOptions): Promise<string[]>;
  /** Deletes one artifact; false when it did not exist. */
  delete(recordOrKey: ArtifactRecord | string): Promise<boolean>;
  /** Deletes every artifact of `ref` (the source object was deleted); returns how many. */
  deleteAll(ref: ArtifactRef): Promise<number>;
}

/** File extension of every artifact key. */
export const ARTIFACT_EXT = '.tar.gz';
const HEX64 = /^[0-9a-f]{64}$/;

/** `<kind>/<ns>/<name>/` for a ref. */
export function refPrefix(ref: ArtifactRef): string {
  return keySegments(ref).join('/') + '/';
}

/** The store key of a source's artifact with the given sha256: `<kind>/<namespace|_>/<name>/<hex>.tar.gz`. */
export function artifactKey(ref: ArtifactRef, sha256Hex: string): string {
  return `${refPrefix(ref)}${sha256Hex}${ARTIFACT_EXT}`;
}

/** Validates a key string and returns its parts; refuses anything that could escape. */
export function parseArtifactKey(key: string): { segments: [string, string, string]; hex: string } {
  const parts = typeof key === 'string' ? key.split('/') : [];
  const file = parts[3] ?? '';
  const hex = file.endsWith(ARTIFACT_EXT) ? file.slice(0, -ARTIFACT_EXT.length) : '';
  const [kind, ns, name] = parts as [string, string, string];
  if (
    parts.length !== 4 ||
    !HEX64.test(hex) ||
    !isValidSegment(kind) ||
    !(isValidSegment(ns) || ns === CLUSTER_SCOPE_SEGMENT) ||
    !isValidSegment(name)
  ) {
    throw new ValidationError(`invalid artifact key ${JSON.stringify(key)}: expected "<kind>/<namespace>/<name>/<sha256 hex>.tar.gz"`);
  }
  return { segments: [kind, ns, name], hex };
}

/** The store key of a record, or the key itself when given a string. */
export function keyOf(recordOrKey: ArtifactRecord | string): string {
  return typeof recordOrKey === 'string' ? recordOrKey : recordOrKey.key;
}

/** The digest a read must match: the caller's, else the record's, else the key's hash. */
export function expectedDigestFor(recordOrKey: ArtifactRecord | string, expectedDigest?: string): string {
  if (expectedDigest) return expectedDigest;
  if (typeof recordOrKey !== 'string' && recordOrKey.digest) return recordOrKey.digest;
  return `sha256:${parseArtifactKey(keyOf(recordOrKey)).hex}`;
}

/** The NotFoundError a store raises for a missing artifact, with a hint to reconcile the source again. */
export function notFound(key: string, where: string): NotFoundError {
  return new NotFoundError(`artifact ${key} not found in ${where}`, {
    hint: 'It may have been garbage-collected; reconcile the source again to rebuild it.',
  });
}

/** Newest first; ties broken by key so every store orders identically. */
export function sortNewestFirst(records: ArtifactRecord[]): ArtifactRecord[] {
  return records.sort((a, b) => (a.lastUpdateTime < b.lastUpdateTime ? 1 : a.lastUpdateTime > b.lastUpdateTime ? -1 : a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Which records gc deletes. */
export function garbage(records: ArtifactRecord[], keep: number, protect: readonly string[] = []): ArtifactRecord[] {
  if (!Number.isInteger(keep) || keep < 0) throw new ValidationError(`gc keep must be a whole number >= 0, got ${keep}`);
  const sorted = sortNewestFirst([...records]);
  return sorted.slice(keep).filter((r) => !protect.includes(r.key));
}

/**
 * Monotonic ms timestamps within this process, so two puts in the same millisecond still
 * order as they happened.
 */
let lastStamp = 0;
/** Returns a millisecond timestamp later than every earlier one in this process. */
export function nextStamp(): number {
  const now = Date.now();
  lastStamp = now > lastStamp ? now : lastStamp + 1;
  return lastStamp;
}
