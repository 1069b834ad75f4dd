/**
 * API Gateway (HTTP API, payload format 2.0) on a local port: each request becomes the
 * event API Gateway would send for the routes serverless.yml declares (`POST
 * /hook/{digest}`, `GET /healthz`), one invocation of the webhook function, and the
 * function's response is written back (statusCode, headers, cookies, base64 bodies).
 * Requests API Gateway would refuse (no route, body over 10 MB) get its answers.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FunctionPool } from './pool.js';

const MAX_BODY = 10 * 1024 * 1024;

interface LambdaHttpResponse {
  statusCode?: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
  body?: string;
  isBase64Encoded?: boolean;
}

/** The route a request matches, with its path parameters, as API Gateway matches them. */
export function matchRoute(method: string, rawPath: string): { routeKey: string; pathParameters?: Record<string, string> } | undefined {
  if (method === 'GET' && rawPath === '/healthz') return { routeKey: 'GET /healthz' };
  const m = /^\/hook\/([^/]+)$/.exec(rawPath);
  if (method === 'POST' && m) return { routeKey: 'POST /hook/{digest}', pathParameters: { digest: decodeURIComponent(m[1]!) } };
  return undefined;
}

/** An API Gateway v2 event for one request. */
export function httpApiEvent(req: { method: string; url: string; headers: http.IncomingHttpHeaders; body: Buffer; sourceIp: string }, route: { routeKey: string; pathParameters?: Record<string, string> }) {
  const u = new URL(req.url, 'http://local');
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (k === 'cookie') cookies.push(...String(v).split(/;\s*/));
    else headers[k] = Array.isArray(v) ? v.join(',') : v;
  }
  headers.host = 'abc123.execute-api.us-east-1.amazonaws.com';
  headers['x-forwarded-proto'] = 'https';
  headers['x-forwarded-port'] = '443';
  headers['x-forwarded-for'] = req.sourceIp;
  const text = req.body.toString('utf8');
  // API Gateway base64-encodes bodies that are not valid UTF-8 text.
  const binary = !Buffer.from(text, 'utf8').equals(req.body);
  const now = new Date();
  return {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: u.pathname,
    rawQueryString: u.search.slice(1),
    ...(cookies.length ? { cookies } : {}),
    headers,
    ...(u.search ? { queryStringParameters: Object.fromEntries(u.searchParams) } : {}),
    requestContext: {
      accountId: '123456789012',
      apiId: 'abc123',
      domainName: headers.host,
      domainPrefix: 'abc123',
      http: { method: req.method, path: u.pathname, protocol: 'HTTP/1.1', sourceIp: req.sourceIp, userAgent: headers['user-agent'] ?? '' },
      requestId: randomBytes(8).toString('hex'),
      routeKey: route.routeKey,
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(route.pathParameters ? { pathParameters: route.pathParameters } : {}),
    ...(req.body.length ? { body: binary ? req.body.toString('base64') : text, isBase64Encoded: binary } : { isBase64Encoded: false }),
  };
}

/** A local API Gateway in front of the webhook function. */
export async function startHttpApi(pool: FunctionPool): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        const route = matchRoute(req.method ?? 'GET', new URL(req.url ?? '/', 'http://local').pathname);
        if (!route) {
          res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
          return;
        }
        if (size > MAX_BODY) {
          res.writeHead(413, { 'content-type': 'application/json' }).end('{"message":"Request Entity Too Large"}');
          return;
        }
        const event = httpApiEvent({ method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks), sourceIp: req.socket.remoteAddress ?? '127.0.0.1' }, route);
        const out = await pool.invoke(event);
        if (!out.ok) {
          res.writeHead(out.timedOut ? 504 : 500, { 'content-type': 'application/json' }).end('{"message":"Internal Server Error"}');
          return;
        }
        const r = (out.result ?? {}) as LambdaHttpResponse;
        const headers: Record<string, string | string[]> = { ...(r.headers ?? {}) };
        for (const [k, v] of Object.entries(r.multiValueHeaders ?? {})) headers[k] = v;
        if (r.cookies?.length) headers['set-cookie'] = r.cookies;
        res.writeHead(r.statusCode ?? 200, headers);
        res.end(r.body === undefined ? '' : r.isBase64Encoded ? Buffer.from(r.body, 'base64') : r.body);
      })().catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
