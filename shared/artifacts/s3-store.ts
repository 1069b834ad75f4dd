/**
 * ArtifactStore on S3: object `<prefix><kind>/<ns>/<name>/<hex>.tar.gz`, with the record in
 * the object's user metadata (`x-amz-meta-revision` (URI-encoded), `-digest`, `-updated` in
 * ms). S3 PUTs are atomic (readers see the old object or the new one) and the upload carries
 * its SHA-256 checksum, so S3 itself refuses bytes damaged in transit. Listing issues one HEAD
 * per artifact of the source (a handful, after gc).
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { isS3NotFound, readS3Body } from '../util/s3.js';
import { computeDigest, verifyDigest } from './digest.js';
import {
  artifactKey,
  expectedDigestFor,
  garbage,
  keyOf,
  nextStamp,
  notFound,
  parseArtifactKey,
  refPrefix,
  sortNewestFirst,
  type ArtifactRecord,
  type ArtifactRef,
  type ArtifactStore,
  type GcOptions,
} from './store.js';

/** Options of S3ArtifactStore: client, bucket, key prefix and upload checksums. */
export interface S3ArtifactStoreOptions {
  client: S3Client;
  bucket: string;
  /** Key prefix, e.g. `artifacts/` (a trailing `/` is added when missing). */
  prefix?: string;
  /** Send the SHA-256 checksum with each upload (default true; S3 verifies it). */
  uploadChecksum?: boolean;
}

/** ArtifactStore on S3 (Lambda mode), keeping each artifact's record in the object's user metadata. */
export class S3ArtifactStore implements ArtifactStore {
  readonly bucket: string;
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly uploadChecksum: boolean;

  constructor(opts: S3ArtifactStoreOptions) {
    this.client = opts.client;
    this.bucket = opts.bucket;
    const p = (opts.prefix ?? '').replace(/^\/+/, '');
    this.prefix = p === '' || p.endsWith('/') ? p : p + '/';
    this.uploadChecksum = opts.uploadChecksum ?? true;
  }

  objectKeyFor(key: string): string {
    parseArtifactKey(key);
    return this.prefix + key;
  }

  async put(ref: ArtifactRef, revision: string, data: Buffer): Promise<ArtifactRecord> {
    const digest = computeDigest(data);
    const hex = digest.slice('sha256:'.length);
    const key = artifactKey(ref, hex);
    const updated = nextStamp();
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.prefix + key,
        Body: data,
        ContentType: 'application/gzip',
        ContentLength: data.length,
        ChecksumSHA256: this.uploadChecksum ? Buffer.from(hex, 'hex').toString('base64') : undefined,
        Metadata: { revision: encodeURIComponent(revision), digest, updated: String(updated) },
      }),
    );
    return { key, digest, size: data.length, revision, url: this.urlFor(key), lastUpdateTime: new Date(updated).toISOString() };
  }

  async get(recordOrKey: ArtifactRecord | string, expectedDigest?: string): Promise<Buffer> {
    const key = keyOf(recordOrKey);
    const expected = expectedDigestFor(recordOrKey, expectedDigest);
    let data: Buffer;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKeyFor(key) }));
      data = await readS3Body(res.Body);
    } catch (err) {
      if (isS3NotFound(err)) throw notFound(key, this.toString());
      throw err;
    }
    verifyDigest(data, expected, `artifact ${key}`);
    return data;
  }

  async list(ref: ArtifactRef): Promise<ArtifactRecord[]> {
    const prefix = refPrefix(ref);
    const keys: { key: string; size: number; lastModified?: Date }[] = [];
    let token: string | undefined;
    do {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        const rel = o.Key?.slice(this.prefix.length) ?? '';
        const file = rel.slice(prefix.length);
        if (!/^[0-9a-f]{64}\.tar\.gz$/.test(file)) continue;
        keys.push({ key: rel, size: o.Size ?? 0, lastModified: o.LastModified });
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
    const records = await Promise.all(keys.map((k) => this.head(k.key, k.size, k.lastModified)));
    return sortNewestFirst(records.filter((r): r is ArtifactRecord => r !== undefined));
  }

  async gc(ref: ArtifactRef, keep = 2, opts: GcOptions = {}): Promise<string[]> {
    const doomed = garbage(await this.list(ref), keep, opts.protect);
    const deleted: string[] = [];
    for (const r of doomed) if (await this.delete(r.key)) deleted.push(r.key);
    return deleted;
  }

  async delete(recordOrKey: ArtifactRecord | string): Promise<boolean> {
    const key = keyOf(recordOrKey);
    const objectKey = this.objectKeyFor(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    } catch (err) {
      if (isS3NotFound(err)) return false;
      throw err;
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: objectKey }));
    return true;
  }

  async deleteAll(ref: ArtifactRef): Promise<number> {
    let n = 0;
    for (const r of await this.list(ref)) if (await this.delete(r.key)) n++;
    return n;
  }

  toString(): string {
    return `S3ArtifactStore(s3://${this.bucket}/${this.prefix})`;
  }

  private urlFor(key: string): string {
    return `s3://${this.bucket}/${this.prefix}${key}`;
  }

  private async head(key: string, size: number, lastModified?: Date): Promise<ArtifactRecord | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      const md = res.Metadata ?? {};
      const updated = Number(md.updated);
      const when = Number.isFinite(updated) && updated > 0 ? new Date(updated) : (res.LastModified ?? lastModified ?? new Date(0));
      return {
        key,
        digest: md.digest ?? `sha256:${parseArtifactKey(key).hex}`,
        size: res.ContentLength ?? size,
        revision: md.revision !== undefined ? safeDecode(md.revision) : '',
        url: this.urlFor(key),
        lastUpdateTime: when.toISOString(),
      };
    } catch (err) {
      if (isS3NotFound(err)) return undefined; // deleted between list and head
      throw err;
    }
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

