/**
 * StateStore on S3 (Lambda): object `<prefix><kind>/<namespace|_>/<name>.json` per record.
 * The version is the object's ETag; every write stores a fresh nonce, so the ETag changes on
 * every write. Conditions use S3 conditional requests: `If-Match: <etag>` for ifVersion,
 * `If-None-Match: *` for ifAbsent, `If-Match` on DeleteObject; S3 answers 412 (or 409 when two
 * conditional writes race) and we raise ConflictError.
 *
 * `update` first writes against the version this process last read or wrote (when recent
 * and small), without a GET: a reconcile reads its record, then writes its status, and the
 * update would otherwise re-read what the process has just seen. The conditional PUT makes that safe: if
 * anyone wrote the record meanwhile, it fails with 412 and the update re-reads and retries
 * as usual. An updater that finds nothing to change on the remembered value is run again on
 * a fresh read, so "no change" is never decided on a stale copy.
 *
 * S3-compatible servers that ignore conditional headers (fauxqs used in tests) would silently
 * accept a stale write; `emulateConditions: true` adds a HEAD check before each conditional
 * write (correct for sequential writers; not atomic against racing ones).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { randomBytes } from 'node:crypto';
import { ConflictError } from '../util/errors.js';
import { SharedReads } from '../util/shared-read.js';
import { isS3NotFound, isS3PreconditionFailed, readS3Body } from '../util/s3.js';
import { CLUSTER_SCOPE_SEGMENT, compareKeys, isValidSegment, keyFromSegments, keySegments, prefixSegments, type ObjectKey } from './key.js';
import {
  ENVELOPE_TAG,
  checkPutOptions,
  conflict,
  parseEnvelope,
  updateWithRetry,
  type DeleteOptions,
  type PutOptions,
  type StateStore,
  type StoredEnvelope,
  type UpdateOptions,
  type Updater,
  type Versioned,
} from './store.js';

/** Options of S3StateStore: client, bucket, key prefix, and HEAD-checked preconditions for servers that ignore If-Match. */
export interface S3StateStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. `state/` (a trailing `/` is added when missing). */
  prefix?: string;
  /** Check preconditions with a HEAD first, for servers that ignore If-Match (fauxqs). */
  emulateConditions?: boolean;
}

const SUFFIX = '.json';
/** Remembered versions older than this are not written against (a stale one costs a failed PUT). */
const HINT_MAX_AGE_MS = 60_000;
/** Records remembered at most (the least recently used are forgotten). */
const HINT_MAX_ENTRIES = 512;
/** Larger documents are not remembered (512 of them stay under 64 MiB). */
const HINT_MAX_BODY_BYTES = 128 * 1024;

/** A record as this process last read or wrote it: its stored document and version. */
interface Hint {
  body: Buffer | string;
  version: string;
  at: number;
}

/** StateStore on S3 (Lambda mode): one object per record, with conditional requests on the ETag for optimistic concurrency. */
export class S3StateStore implements StateStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly emulate: boolean;
  private readonly hints = new Map<string, Hint>();
  private readonly reads = new SharedReads<{ body: Buffer; version: string } | undefined>();

  constructor(opts: S3StateStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    this.prefix = normPrefix(opts.prefix);
    this.emulate = opts.emulateConditions ?? false;
  }

  objectKeyFor(key: ObjectKey): string {
    const [kind, ns, name] = keySegments(key);
    return `${this.prefix}${kind}/${ns}/${name}${SUFFIX}`;
  }

  /**
   * Concurrent gets of one record share a GetObject (util/shared-read.ts: each caller's read
   * started after its call); each caller parses its own copy of the value.
   */
  async get<T>(key: ObjectKey): Promise<Versioned<T> | undefined> {
    const k = this.objectKeyFor(key);
    const got = await this.reads.read(k, () => this.fetch(k));
    if (!got) return undefined;
    return { value: parseEnvelope<T>(got.body, `s3://${this.bucket}/${k}`).value, version: got.version };
  }

  /** One GetObject: the stored document and its ETag, undefined when missing. */
  private async fetch(k: string): Promise<{ body: Buffer; version: string } | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
      const body = await readS3Body(res.Body);
      if (!res.ETag) throw new Error(`S3 returned no ETag for s3://${this.bucket}/${k}`);
      this.remember(k, body, res.ETag);
      return { body, version: res.ETag };
    } catch (err) {
      this.hints.delete(k);
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  async put<T>(key: ObjectKey, value: T, opts: PutOptions = {}): Promise<string> {
    checkPutOptions(key, opts);
    const k = this.objectKeyFor(key);
    const env: StoredEnvelope<T> = {
      fluxless: ENVELOPE_TAG,
      key: { kind: key.kind, namespace: key.namespace ?? '', name: key.name },
      nonce: randomBytes(12).toString('hex'),
      updatedAt: new Date().toISOString(),
      value,
    };
    if (this.emulate && (opts.ifAbsent || opts.ifVersion !== undefined)) await this.checkEmulated(key, k, opts.ifVersion, opts.ifAbsent);
    const body = JSON.stringify(env);
    // Forgotten until the write is known to have landed (a failed or unknown one tells nothing).
    this.hints.delete(k);
    try {
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: k,
          Body: body,
          ContentType: 'application/json',
          IfMatch: opts.ifVersion,
          IfNoneMatch: opts.ifAbsent ? '*' : undefined,
        }),
      );
      if (!res.ETag) throw new Error(`S3 returned no ETag for s3://${this.bucket}/${k}`);
      this.remember(k, body, res.ETag);
      return res.ETag;
    } catch (err) {
      if (isS3PreconditionFailed(err)) {
        throw conflict(key, opts.ifAbsent ? 'already exists' : `changed since version ${opts.ifVersion}`);
      }
      // If-Match on a missing object: S3 answers 404.
      if (opts.ifVersion !== undefined && isS3NotFound(err)) throw conflict(key, `does not exist (expected version ${opts.ifVersion})`);
      throw err;
    }
  }

  async delete(key: ObjectKey, opts: DeleteOptions = {}): Promise<boolean> {
    const k = this.objectKeyFor(key);
    this.hints.delete(k);
    if (opts.blind && opts.ifVersion === undefined) {
      // S3 answers 204 whether or not the object existed.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k }));
      return true;
    }
    const cur = await this.head(k);
    if (opts.ifVersion !== undefined && cur !== opts.ifVersion) {
      throw conflict(key, cur === undefined ? `does not exist (expected version ${opts.ifVersion})` : `changed since version ${opts.ifVersion}`);
    }
    if (cur === undefined) return false;
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: k, IfMatch: opts.ifVersion }));
    } catch (err) {
      if (isS3PreconditionFailed(err) || (opts.ifVersion !== undefined && isS3NotFound(err))) {
        throw conflict(key, `changed since version ${opts.ifVersion}`);
      }
      throw err;
    }
    return true;
  }

  async list(prefix: { kind?: string; namespace?: string } = {}): Promise<ObjectKey[]> {
    const segs = prefixSegments(prefix);
    const listPrefix = this.prefix + segs.map((s) => s + '/').join('');
    const out: ObjectKey[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: listPrefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        if (!o.Key || !o.Key.endsWith(SUFFIX)) continue;
        const parts = o.Key.slice(this.prefix.length, -SUFFIX.length).split('/');
        if (parts.length !== 3) continue;
        const [kind, ns, name] = parts as [string, string, string];
        if (isValidSegment(kind) && (isValidSegment(ns) || ns === CLUSTER_SCOPE_SEGMENT) && isValidSegment(name)) {
          out.push(keyFromSegments(kind, ns, name));
        }
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    return out.sort(compareKeys);
  }

  async update<T>(key: ObjectKey, fn: Updater<T>, opts?: UpdateOptions): Promise<Versioned<T> | undefined> {
    const k = this.objectKeyFor(key);
    const hint = this.hints.get(k);
    let remembered: T | undefined;
    try {
      // A private copy of the remembered value (the updater may keep or change what it gets).
      if (hint && Date.now() - hint.at <= HINT_MAX_AGE_MS) remembered = parseEnvelope<T>(hint.body, `s3://${this.bucket}/${k}`).value;
    } catch {
      this.hints.delete(k); // not a valid document: the read below reports it, or finds it repaired
    }
    if (hint && remembered !== undefined) {
      const next = fn(remembered);
      if (next !== undefined) {
        try {
          return { value: next, version: await this.put(key, next, { ifVersion: hint.version }) };
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          // Written by someone else since: the usual read-modify-write below.
        }
      }
    }
    return updateWithRetry(this, key, fn, opts);
  }

  /** Remembers a record as read or written, as the most recently used. */
  private remember(k: string, body: Buffer | string, version: string): void {
    this.hints.delete(k);
    if (body.length > HINT_MAX_BODY_BYTES) return;
    this.hints.set(k, { body, version, at: Date.now() });
    if (this.hints.size > HINT_MAX_ENTRIES) this.hints.delete(this.hints.keys().next().value!);
  }

  private async head(k: string): Promise<string | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: k }));
      return res.ETag;
    } catch (err) {
      if (isS3NotFound(err)) return undefined;
      throw err;
    }
  }

  private async checkEmulated(key: ObjectKey, k: string, ifVersion: string | undefined, ifAbsent: boolean | undefined): Promise<void> {
    const cur = await this.head(k);
    if (ifAbsent && cur !== undefined) throw conflict(key, 'already exists');
    if (ifVersion !== undefined && cur !== ifVersion) {
      throw conflict(key, cur === undefined ? `does not exist (expected version ${ifVersion})` : `changed since version ${ifVersion}`);
    }
  }

  toString(): string {
    return `S3StateStore(s3://${this.bucket}/${this.prefix})`;
  }
}

/** Normalises an S3 key prefix: no leading `/`, and a trailing `/` unless it is empty. */
export function normPrefix(p: string | undefined): string {
  if (!p) return '';
  const trimmed = p.replace(/^\/+/, '');
  return trimmed === '' || trimmed.endsWith('/') ? trimmed : trimmed + '/';
}

