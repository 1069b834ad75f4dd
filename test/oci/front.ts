/**
 * A loopback front for the harness's docker-registry, for the tests that need what the
 * registry itself cannot do here: token auth (a token server on the same host, like
 * Harbor's), basic auth, Link pagination of tag lists (distribution 2.8 ignores `n`), the
 * OCI 1.1 referrers API (served, in Link-paginated pages, from the `sha256-<hex>` referrers
 * tag index, which distribution 2.8 stores but cannot serve as the API),
 * TLS with client certificates, and a byte flipped in blob downloads. It records every
 * request it gets.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface FrontOptions {
  /** host:port of the real registry. */
  upstream: string;
  /** Serve tag lists in pages of at most this many, with Link headers. */
  paginate?: number;
  /** Serve `GET /v2/<name>/referrers/<digest>` in pages of at most this many, with Link headers. */
  referrersPage?: number;
  /** Require a token from /token (basic credentials from `users`, anonymous pull if `anonymousPull`). */
  bearer?: { users: Record<string, string>; service?: string; anonymousPull?: boolean; expiresIn?: number; refreshTokens?: Record<string, string> };
  /** Require HTTP basic credentials from `users`. */
  basic?: { users: Record<string, string> };
  /** Flip one byte of every blob download. */
  corruptBlobs?: boolean;
  tls?: { key: string; cert: string; ca?: string; requireClientCert?: boolean };
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization?: string;
}

export interface Front {
  host: string;
  requests: RecordedRequest[];
  tokenRequests: { method?: string; authorization?: string; scopes: string[]; service?: string; grantType?: string }[];
  close(): Promise<void>;
}

interface Grant {
  user: string;
  scopes: Set<string>;
}

export async function startFront(opts: FrontOptions): Promise<Front> {
  const requests: RecordedRequest[] = [];
  const tokenRequests: Front['tokenRequests'] = [];
  const tokens = new Map<string, Grant>();
  const service = opts.bearer?.service ?? 'fluxless-test-registry';
  let host = '';
  const scheme = opts.tls ? 'https' : 'http';

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `${scheme}://${host}`);
    const authz = req.headers.authorization;
    if (url.pathname === '/token') {
      let scopes = url.searchParams.getAll('scope');
      let user: string | undefined;
      if (req.method === 'POST') {
        // The OAuth2 flow (docker's identitytoken): a refresh token in a form body.
        const form = new URLSearchParams(await readAll(req));
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        tokenRequests.push({ method: 'POST', scopes, service: form.get('service') ?? undefined, grantType: form.get('grant_type') ?? undefined });
        user = opts.bearer?.refreshTokens?.[form.get('refresh_token') ?? ''];
        if (!user) return json(res, 401, { error: 'invalid_grant' });
      } else {
        tokenRequests.push({ authorization: authz, scopes, service: url.searchParams.get('service') ?? undefined });
        user = checkBasic(authz, opts.bearer?.users ?? {});
        if (authz && !user) return json(res, 401, { details: 'incorrect username or password' });
      }
      const granted = new Set<string>();
      for (const s of scopes) {
        const [type, name, actions] = s.split(':');
        for (const a of (actions ?? '').split(',')) {
          if (a === 'pull' && (user || opts.bearer?.anonymousPull)) granted.add(`${type}:${name}:pull`);
          if (a === 'push' && user) granted.add(`${type}:${name}:push`);
        }
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, { user: user ?? '', scopes: granted });
      return json(res, 200, { token, expires_in: opts.bearer?.expiresIn ?? 300, issued_at: new Date().toISOString() });
    }
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, ...(authz ? { authorization: authz } : {}) });
    const m = /^\/v2\/(.+?)\/(tags\/list|manifests\/|blobs\/|referrers\/)/.exec(url.pathname);
    const repo = m?.[1];
    const action = req.method === 'GET' || req.method === 'HEAD' ? 'pull' : 'push';
    if (opts.bearer) {
      const grant = authz?.startsWith('Bearer ') ? tokens.get(authz.slice(7)) : undefined;
      const needed = repo ? `repository:${repo}:${action}` : undefined;
      if (!grant || (needed && !grant.scopes.has(needed))) {
        const scope = repo ? `,scope="repository:${repo}:${action === 'push' ? 'pull,push' : 'pull'}"` : '';
        res.setHeader('www-authenticate', `Bearer realm="${scheme}://${host}/token",service="${service}"${scope}`);
        return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] });
      }
    }
    if (opts.basic && !checkBasic(authz, opts.basic.users)) {
      res.setHeader('www-authenticate', 'Basic realm="fluxless test"');
      return json(res, 401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] });
    }
    if (opts.paginate && req.method === 'GET' && m?.[2] === 'tags/list') return paginate(res, repo!, url, opts);
    if (opts.referrersPage && req.method === 'GET' && m?.[2] === 'referrers/') return referrers(res, repo!, url, opts.upstream, opts.referrersPage);
    const corrupt = opts.corruptBlobs && req.method === 'GET' && m?.[2] === 'blobs/';
    proxy(req, res, opts.upstream, host, scheme, corrupt === true);
  };

  const server = opts.tls
    ? https.createServer({ key: opts.tls.key, cert: opts.tls.cert, ca: opts.tls.ca, requestCert: opts.tls.requireClientCert === true, rejectUnauthorized: opts.tls.requireClientCert === true }, (q, r) => void handler(q, r))
    : http.createServer((q, r) => void handler(q, r));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    host,
    requests,
    tokenRequests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function checkBasic(authz: string | undefined, users: Record<string, string>): string | undefined {
  if (!authz?.startsWith('Basic ')) return undefined;
  const text = Buffer.from(authz.slice(6), 'base64').toString('utf8');
  const i = text.indexOf(':');
  const user = text.slice(0, i);
  return i > 0 && users[user] !== undefined && users[user] === text.slice(i + 1) ? user : undefined;
}

async function readAll(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString();
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const b = Buffer.from(JSON.stringify(body));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': b.length });
  res.end(b);
}

async function paginate(res: ServerResponse, repo: string, url: URL, opts: FrontOptions): Promise<void> {
  const up = await fetch(`http://${opts.upstream}/v2/${repo}/tags/list`);
  if (up.status !== 200) {
    res.writeHead(up.status, { 'content-type': 'application/json' });
    res.end(await up.text());
    return;
  }
  const all = ((await up.json()) as { tags: string[] }).tags.slice().sort();
  const n = Math.min(Number(url.searchParams.get('n') ?? opts.paginate), opts.paginate!);
  const last = url.searchParams.get('last');
  const from = last ? all.findIndex((t) => t > last) : 0;
  const page = from < 0 ? [] : all.slice(from, from + n);
  if (from >= 0 && from + n < all.length) {
    res.setHeader('link', `</v2/${repo}/tags/list?last=${encodeURIComponent(page[page.length - 1])}&n=${n}>; rel="next"`);
  }
  json(res, 200, { name: repo, tags: page });
}

async function referrers(res: ServerResponse, repo: string, url: URL, upstream: string, size: number): Promise<void> {
  const digest = url.pathname.slice(url.pathname.lastIndexOf('/') + 1);
  const up = await fetch(`http://${upstream}/v2/${repo}/manifests/${digest.replace(':', '-')}`, { headers: { accept: 'application/vnd.oci.image.index.v1+json' } });
  const all = up.status === 200 ? ((await up.json()) as { manifests: unknown[] }).manifests : [];
  const from = Number(url.searchParams.get('page') ?? '0');
  if ((from + 1) * size < all.length) res.setHeader('link', `</v2/${repo}/referrers/${digest}?page=${from + 1}>; rel="next"`);
  const b = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: all.slice(from * size, (from + 1) * size) }));
  res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': b.length });
  res.end(b);
}

function proxy(req: IncomingMessage, res: ServerResponse, upstream: string, host: string, scheme: string, corrupt: boolean): void {
  const [uh, up] = upstream.split(':');
  const headers = { ...req.headers, host, 'x-forwarded-proto': scheme };
  delete headers.authorization;
  const out = http.request({ host: uh, port: Number(up), method: req.method, path: req.url, headers }, (ur) => {
    if (!corrupt || ur.statusCode !== 200) {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
      return;
    }
    const chunks: Buffer[] = [];
    ur.on('data', (c: Buffer) => chunks.push(c));
    ur.on('end', () => {
      const b = Buffer.concat(chunks);
      if (b.length > 0) b[Math.floor(b.length / 2)] ^= 0x01;
      res.writeHead(200, ur.headers);
      res.end(b);
    });
  });
  out.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(out);
}
