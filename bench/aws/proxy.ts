/**
 * A counting HTTP proxy in front of fauxqs: every S3 and SQS request the functions send is
 * forwarded unchanged and counted, by API class, at the endpoint (the most honest count: it
 * sees retries, HEADs and batch calls as AWS would bill them). One listener per caller
 * (worker, webhook, schedule, bench) so the counts say who sent what.
 *
 * fauxqs ignores S3's conditional writes (If-Match, If-None-Match on PutObject and
 * DeleteObject), which the S3 state store relies on when containers race on one record.
 * The proxies enforce them as S3 does, atomically per object across every caller: a HEAD
 * upstream (not counted: S3 checks internally) under a per-object lock, 412
 * PreconditionFailed when the condition does not hold, else the request is forwarded.
 */
import { appendFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** `BENCH_AWS_TRACE=<file>`: every S3 request is also appended there as `<caller> <class> <key>`, to see which keys a reconcile reads and writes. */
const TRACE = process.env.BENCH_AWS_TRACE;

/** Request counts by AWS API, e.g. `s3:GET`, `s3:LIST`, `sqs:SendMessage`. */
export type Counts = Record<string, number>;

/** One listening proxy for one caller. */
export interface CountingProxy {
  /** `http://127.0.0.1:<port>`: the endpoint to give the caller. */
  url: string;
  port: number;
  label: string;
  counts: Counts;
  close(): Promise<void>;
}

/** The S3 request class of a path-style request (`/bucket`, `/bucket/key`), as S3 prices them. */
export function s3Class(method: string, url: URL): string {
  const key = url.pathname.split('/').slice(2).join('/');
  const q = url.searchParams;
  if (method === 'GET' && !key) return q.has('uploads') ? 's3:LIST' : q.has('location') || q.has('versioning') ? 's3:GET' : 's3:LIST';
  if (method === 'GET') return 's3:GET';
  if (method === 'HEAD') return 's3:HEAD';
  if (method === 'PUT' && !key) return 's3:CreateBucket';
  if (method === 'PUT') return q.has('partNumber') ? 's3:UploadPart' : 's3:PUT';
  if (method === 'DELETE') return key ? 's3:DELETE' : 's3:DeleteBucket';
  if (method === 'POST') return q.has('delete') ? 's3:DeleteObjects' : 's3:POST';
  return `s3:${method}`;
}

/** The SQS action of a request: the JSON protocol's X-Amz-Target, or the query protocol's Action. */
function sqsAction(headers: http.IncomingHttpHeaders, body: Buffer): string | undefined {
  const target = headers['x-amz-target'];
  if (typeof target === 'string' && target.startsWith('AmazonSQS.')) return target.slice('AmazonSQS.'.length);
  const type = headers['content-type'] ?? '';
  if (type.includes('x-www-form-urlencoded')) {
    const action = new URLSearchParams(body.toString('utf8')).get('Action');
    if (action) return action;
  }
  return undefined;
}

/** Entries in an SQS batch request (DeleteMessageBatch, ...), for the per-message view. */
function batchEntries(action: string, body: Buffer): number {
  if (!action.endsWith('Batch')) return 1;
  try {
    const parsed = JSON.parse(body.toString('utf8')) as { Entries?: unknown[] };
    return Array.isArray(parsed.Entries) ? parsed.Entries.length : 1;
  } catch {
    return 1;
  }
}

/** Per S3 object path: the tail of the conditional writes queued on it (shared by every proxy of this process). */
const objectLocks = new Map<string, Promise<void>>();

/** Runs `fn` after every earlier holder of `path`'s lock; the lock is released when `fn`'s promise settles. */
async function withObjectLock<T>(path: string, fn: () => Promise<T>): Promise<T> {
  const prev = objectLocks.get(path) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const tail = prev.then(() => mine);
  objectLocks.set(path, tail);
  await prev;
  try {
    return await fn();
  } finally {
    release();
    if (objectLocks.get(path) === tail) objectLocks.delete(path);
  }
}

/** The object's ETag upstream, undefined when it does not exist. */
function headEtag(up: URL, path: string, agent: http.Agent, headers: http.IncomingHttpHeaders): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const auth = headers.authorization ? { authorization: headers.authorization } : {};
    const r = http.request({ host: up.hostname, port: up.port, method: 'HEAD', path, headers: { host: headers.host ?? up.host, ...auth }, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? String(res.headers.etag ?? '') : undefined));
    });
    r.on('error', reject);
    r.end();
  });
}

/** Whether S3 would accept a write with these conditional headers on an object whose ETag is `etag`. */
function conditionHolds(headers: http.IncomingHttpHeaders, etag: string | undefined): boolean {
  const ifMatch = headers['if-match'];
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch === '*' && etag !== undefined) return false;
  if (typeof ifMatch === 'string' && (etag === undefined || ifMatch.replace(/"/g, '') !== etag.replace(/"/g, ''))) return false;
  return true;
}

const PRECONDITION_FAILED =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>';

/** Starts a proxy to `upstream` (fauxqs) counting into a fresh `counts`. */
export async function startCountingProxy(upstream: string, label: string): Promise<CountingProxy> {
  const up = new URL(upstream);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const counts: Counts = {};
  const add = (k: string, n = 1) => {
    counts[k] = (counts[k] ?? 0) + n;
  };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const action = sqsAction(req.headers, body);
      if (action) {
        add(`sqs:${action}`);
        if (action.endsWith('Batch')) add(`sqs:${action}:entries`, batchEntries(action, body));
      } else {
        const cls = s3Class(req.method ?? 'GET', url);
        add(cls);
        if (TRACE) appendFileSync(TRACE, `${label} ${cls} ${decodeURIComponent(url.pathname)}${url.search}\n`);
      }
      const conditional =
        !action && (req.method === 'PUT' || req.method === 'DELETE') && url.pathname.split('/').length > 2 && (req.headers['if-match'] !== undefined || req.headers['if-none-match'] !== undefined);
      if (conditional) {
        void withObjectLock(url.pathname, async () => {
          const etag = await headEtag(up, req.url ?? '/', agent, req.headers);
          if (!conditionHolds(req.headers, etag)) {
            add('s3:PreconditionFailed');
            res.writeHead(412, { 'content-type': 'application/xml' });
            res.end(PRECONDITION_FAILED);
            return;
          }
          await new Promise<void>((done) => {
            forward(() => done());
          });
        }).catch((err: Error) => {
          add('proxy:error');
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${err.message}`);
        });
        return;
      }
      forward(() => undefined);

      function forward(finished: () => void): void {
        const fwd = http.request(
          { host: up.hostname, port: up.port, method: req.method, path: req.url, headers: req.headers, agent },
          (upRes) => {
            if (action === 'ReceiveMessage') {
              // Empty receives (long polls that found nothing) are billed too: count them apart.
              const out: Buffer[] = [];
              upRes.on('data', (c: Buffer) => out.push(c));
              upRes.on('end', () => {
                const text = Buffer.concat(out);
                if (!/"MessageId"|<MessageId>/.test(text.toString('utf8'))) add('sqs:ReceiveMessage:empty');
                res.writeHead(upRes.statusCode ?? 502, upRes.headers);
                res.end(text);
              });
              return;
            }
            res.writeHead(upRes.statusCode ?? 502, upRes.headers);
            upRes.pipe(res);
            upRes.on('end', finished);
          },
        );
        fwd.on('error', (err) => {
          add('proxy:error');
          if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(`proxy: ${err.message}`);
          finished();
        });
        fwd.end(body);
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    label,
    counts,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
        agent.destroy();
      }),
  };
}

/** A copy of the counts (to subtract later). */
export function snapshot(c: Counts): Counts {
  return { ...c };
}

/** `after - before`, keys with zero dropped. */
export function diff(after: Counts, before: Counts): Counts {
  const out: Counts = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d) out[k] = d;
  }
  return out;
}

/** Sums several count sets. */
export function sum(...all: Counts[]): Counts {
  const out: Counts = {};
  for (const c of all) for (const [k, v] of Object.entries(c)) out[k] = (out[k] ?? 0) + v;
  return out;
}

/** S3 requests in S3's price classes: PUT/COPY/POST/LIST, GET/HEAD/other, DELETE (free). */
export function s3PriceClasses(c: Counts): { put: number; get: number; del: number } {
  let put = 0;
  let get = 0;
  let del = 0;
  for (const [k, v] of Object.entries(c)) {
    if (!k.startsWith('s3:')) continue;
    if (k === 's3:DELETE' || k === 's3:DeleteBucket' || k === 's3:DeleteObjects') del += v;
    else if (k === 's3:PUT' || k === 's3:POST' || k === 's3:LIST' || k === 's3:CreateBucket' || k === 's3:UploadPart') put += v;
    else get += v;
  }
  return { put, get, del };
}

/** SQS requests (each API call is one billed request; payloads here stay under 64 KB). */
export function sqsRequests(c: Counts): number {
  let n = 0;
  for (const [k, v] of Object.entries(c)) if (k.startsWith('sqs:') && !k.endsWith(':entries') && !k.endsWith(':empty')) n += v;
  return n;
}
