/**
 * Test helper: an HTTP proxy in front of fauxqs that enforces S3 conditional writes the way
 * AWS S3 does (fauxqs accepts If-Match / If-None-Match but ignores them):
 *
 * - PUT with `If-None-Match: *` on an existing key -> 412 PreconditionFailed
 * - PUT / DELETE with `If-Match: <etag>` -> 404 NoSuchKey when the key is missing, 412 when
 *   the ETag differs
 *
 * Writes (PUT, DELETE) pass one at a time, so check-then-write is atomic like on S3. Errors
 * are S3's XML error documents, so the AWS SDK parses them as it would AWS's.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ConditionalProxy {
  endpoint: string;
  /** Requests refused with 412 / 404 because of a condition. */
  refused: () => number;
  close(): Promise<void>;
}

function forward(target: URL, req: http.IncomingMessage, body: Buffer, method = req.method ?? 'GET'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: target.host };
    if (method === 'HEAD') {
      delete headers['content-length'];
      delete headers['content-type'];
    }
    const r = http.request(
      { host: target.hostname, port: target.port, method, path: req.url, headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 500, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    r.end(method === 'HEAD' ? undefined : body);
  });
}

function s3Error(res: http.ServerResponse, status: number, code: string, message: string): void {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>proxy</RequestId></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

export async function startConditionalProxy(upstream: string): Promise<ConditionalProxy> {
  const target = new URL(upstream);
  let chain: Promise<unknown> = Promise.resolve();
  let refused = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const isWrite = req.method === 'PUT' || req.method === 'DELETE';
      const handle = async () => {
        const ifMatch = req.headers['if-match'];
        const ifNoneMatch = req.headers['if-none-match'];
        const isObject = (req.url ?? '').split('?')[0]!.split('/').filter(Boolean).length >= 2;
        if (isWrite && isObject && (ifMatch || ifNoneMatch)) {
          const head = await forward(target, req, Buffer.alloc(0), 'HEAD');
          const exists = head.status === 200;
          if (ifNoneMatch === '*' && exists) {
            refused++;
            return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          }
          if (ifMatch && !exists) {
            refused++;
            return s3Error(res, 404, 'NoSuchKey', 'The specified key does not exist.');
          }
          if (ifMatch && head.headers.etag !== ifMatch) {
            refused++;
            return s3Error(res, 412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold');
          }
        }
        const out = await forward(target, req, body);
        res.writeHead(out.status, out.headers);
        res.end(out.body);
      };
      const run = isWrite ? (chain = chain.then(handle, handle)) : handle();
      run.catch((err: unknown) => {
        if (!res.headersSent) s3Error(res, 500, 'InternalError', String(err));
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused: () => refused,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
