/**
 * StateStore on S3 (Lambda): object `<prefix><kind>/<namespace|_>/<name>.json` per record.
 * The version is the object's ETag; every write stores a fresh nonce, so the ETag changes on
 * every write. Conditions use S3 conditional requests: `If-Match: <etag>` for ifVersion,
 * `If-None-Match: *` for ifAbsent, `If-Match` on DeleteObject; S3 answers 412 (or 409 when two
 * conditional writes race) and we raise ConflictError.
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

/** StateStore on S3 (Lambda mode): one object per record, with conditional requests on the ETag for optimistic concurrency. */
export class S3StateStore implements StateStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly emulate: boolean;

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

  async get<T>(key: ObjectKey): Promise<Versioned<T> | undefined> {
    const k = this.objectKeyFor(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: k }));
      const env = parseEnvelope<T>(await readS3Body(res.Body), `s3://${this.bucket}/${k}`);
      if (!res.ETag) throw new Error(`S3 returned no ETag for s3://${this.bucket}/${k}`);
      return { value: env.value, version: res.ETag };
    } catch (err) {
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
    try {
      const res = await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: k,
          Body: JSON.stringify(env),
          ContentType: 'application/json',
          IfMatch: opts.ifVersion,
          IfNoneMatch: opts.ifAbsent ? '*' : undefined,
        }),
      );
      if (!res.ETag) throw new Error(`S3 returned no ETag for s3://${this.bucket}/${k}`);
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

  update<T>(key: ObjectKey, fn: Updater<T>, opts?: UpdateOptions): Promise<Versioned<T> | undefined> {
    return updateWithRetry(this, key, fn, opts);
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

