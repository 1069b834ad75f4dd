/**
 * Common S3 helpers: a client factory (path-style addressing when an endpoint is given, as
 * S3-compatible servers such as fauxqs or MinIO need), error classification, and reading a
 * response body into a Buffer.
 */
import { CreateBucketCommand, HeadBucketCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

/** How to reach S3 or an S3-compatible server: endpoint, region, credentials and path-style addressing. */
export interface S3ConnectionInfo {
  /** Custom endpoint (fauxqs, MinIO, LocalStack). Omit for AWS. */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Defaults to true when an endpoint is given. */
  forcePathStyle?: boolean;
}

/**
 * Settings every S3 client of ours takes: checksums only where S3 requires them. The SDK's
 * default computes a CRC32 of every PutObject body and checks one on every GetObject, CPU on
 * each of the dozen small requests a reconcile makes; what we read is checked anyway (an
 * artifact against its sha256 digest, a state record as a JSON envelope).
 */
export const S3_CLIENT_DEFAULTS = { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' } as const satisfies S3ClientConfig;

/** Creates an S3 client; with no arguments it uses the AWS SDK defaults (env, Lambda role). */
export function createS3Client(info: S3ConnectionInfo = {}): S3Client {
  const cfg: S3ClientConfig = { ...S3_CLIENT_DEFAULTS };
  if (info.region) cfg.region = info.region;
  else if (!process.env.AWS_REGION && !process.env.AWS_DEFAULT_REGION && info.endpoint) cfg.region = 'us-east-1';
  if (info.endpoint) cfg.endpoint = info.endpoint;
  if (info.credentials) cfg.credentials = info.credentials;
  cfg.forcePathStyle = info.forcePathStyle ?? info.endpoint !== undefined;
  return new S3Client(cfg);
}

interface ServiceErrorShape {
  name?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** HTTP status of an S3 error, if it carries one. */
export function s3Status(err: unknown): number | undefined {
  return (err as ServiceErrorShape | undefined)?.$metadata?.httpStatusCode;
}

function s3Code(err: unknown): string | undefined {
  const e = err as ServiceErrorShape | undefined;
  return e?.name ?? e?.Code;
}

/** True when an S3 error means the object or bucket does not exist (404, NoSuchKey, NotFound). */
export function isS3NotFound(err: unknown): boolean {
  const code = s3Code(err);
  return s3Status(err) === 404 || code === 'NoSuchKey' || code === 'NotFound';
}

/** 412 PreconditionFailed (If-Match / If-None-Match lost) or 409 ConditionalRequestConflict. */
export function isS3PreconditionFailed(err: unknown): boolean {
  const code = s3Code(err);
  return s3Status(err) === 412 || code === 'PreconditionFailed' || code === 'ConditionalRequestConflict';
}

/** Reads an S3 GetObject body (SDK stream mixin) into one Buffer. */
export async function readS3Body(body: unknown): Promise<Buffer> {
  if (!body) return Buffer.alloc(0);
  const b = body as { transformToByteArray?: () => Promise<Uint8Array> } & AsyncIterable<Uint8Array>;
  if (typeof b.transformToByteArray === 'function') {
    const arr = await b.transformToByteArray();
    return Buffer.from(arr.buffer, arr.byteOffset, arr.byteLength);
  }
  const chunks: Buffer[] = [];
  for await (const c of b) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Creates the bucket unless it exists (local mode and tests; in AWS the stack creates it). */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (err) {
    if (!isS3NotFound(err)) throw err;
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const code = s3Code(err);
    if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err;
  }
}
