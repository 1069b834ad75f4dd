/**
 * The HTTP getter for chart repositories, after Helm's httpgetter as source-controller
 * configures it: basic auth only to the repository's own scheme+host (unless
 * `passCredentials`), TLS from `certSecretRef` on top of the system CAs, an overall
 * timeout, a size cap, redirects followed (credentials dropped when the host changes).
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { RepositoryError } from './errors.js';

/** Basic auth from a HelmRepository `secretRef`. */
export interface BasicAuth {
  username: string;
  password: string;
}

/** TLS material from a `certSecretRef` (PEM). */
export interface TlsMaterial {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
}

/** How to reach a chart repository. */
export interface RepositoryAccess {
  /** The repository URL the credentials belong to (normalized, trailing slash). */
  url: string;
  auth?: BasicAuth;
  tls?: TlsMaterial;
  /** Send the credentials to other hosts too (HelmRepository `passCredentials`). */
  passCredentials?: boolean;
  /** Per request; default 60s. */
  timeoutMs?: number;
  /** Plain HTTP is allowed for http:// URLs; this only matters for TLS verification of https. */
  insecureSkipVerify?: boolean;
}

/** Options of one GET. */
export interface GetOptions {
  /** Maximum body size; larger bodies fail. */
  maxBytes: number;
  signal?: AbortSignal;
  /** Name of what is fetched, for the size error ("index", "chart"). */
  what?: string;
}

const USER_AGENT = 'Helm/4.1.4 fluxless';
const MAX_REDIRECTS = 10;

/** A URL with any `user:password@` removed, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url.replace(/\/\/[^/@]*@/, '//');
  }
}

/** helm httpgetter's rule: credentials go along when passCredentials, or scheme and host:port match. */
export function credentialsApply(access: RepositoryAccess, target: string): boolean {
  if (access.passCredentials) return true;
  try {
    const a = new URL(access.url);
    const b = new URL(target);
    return a.protocol === b.protocol && a.host === b.host;
  } catch {
    return false;
  }
}

/** The CA bundle for a user CA: the system roots plus it (source-controller keeps the system pool). */
function caBundle(ca: string | Buffer | undefined): (string | Buffer)[] | undefined {
  if (!ca) return undefined;
  return [...tls.rootCertificates, ca];
}

function describeNetworkError(url: string, err: NodeJS.ErrnoException): string {
  const u = new URL(url);
  const host = u.port ? u.host : `${u.hostname}:${u.protocol === 'https:' ? 443 : 80}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return `Get "${redactUrl(url)}": dial tcp ${host}: connect: connection refused`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `Get "${redactUrl(url)}": dial tcp: lookup ${u.hostname}: no such host`;
    case 'ECONNRESET':
      return `Get "${redactUrl(url)}": connection reset by peer`;
    default:
      if (err.code && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS/.test(err.code)) {
        return `Get "${redactUrl(url)}": tls: failed to verify certificate: ${err.message}`;
      }
      return `Get "${redactUrl(url)}": ${err.message}`;
  }
}

/**
 * GETs `url` with the repository's access settings. Returns the body; throws
 * RepositoryError (`failed to fetch <url> : 404 Not Found`, network and TLS errors,
 * timeouts, size cap).
 */
export async function repositoryGet(access: RepositoryAccess, url: string, opts: GetOptions): Promise<Buffer> {
  const timeoutMs = access.timeoutMs ?? 60_000;
  const deadline = AbortSignal.timeout(timeoutMs);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  let current = url;
  let sendAuth = credentialsApply(access, url);
  for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
    const res = await requestOnce(access, current, sendAuth, opts, signal, timeoutMs);
    if (res.redirect) {
      const next = new URL(res.redirect, current).toString();
      if (new URL(next).host !== new URL(current).host) sendAuth = false;
      current = next;
      continue;
    }
    return res.body!;
  }
  throw new RepositoryError('Failed', `Get "${redactUrl(url)}": stopped after ${MAX_REDIRECTS} redirects`);
}

function requestOnce(
  access: RepositoryAccess,
  url: string,
  sendAuth: boolean,
  opts: GetOptions,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ body?: Buffer; redirect?: string }> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      reject(new RepositoryError('URLInvalid', `invalid URL '${redactUrl(url)}'`));
      return;
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') {
      reject(new RepositoryError('URLInvalid', `no getter for scheme '${u.protocol.replace(/:$/, '')}' in '${redactUrl(url)}'`));
      return;
    }
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, accept: '*/*' };
    if (sendAuth && access.auth && access.auth.username && access.auth.password) {
      headers.authorization = 'Basic ' + Buffer.from(`${access.auth.username}:${access.auth.password}`).toString('base64');
    }
    const isHttps = u.protocol === 'https:';
    const options: https.RequestOptions = {
      method: 'GET',
      hostname: u.hostname.replace(/^\[|\]$/g, ''),
      port: u.port || (isHttps ? 443 : 80),
      path: u.pathname + u.search,
      headers,
      signal,
    };
    if (isHttps) {
      const ca = caBundle(access.tls?.ca);
      if (ca) options.ca = ca;
      if (access.tls?.cert) options.cert = access.tls.cert;
      if (access.tls?.key) options.key = access.tls.key;
      if (access.insecureSkipVerify) options.rejectUnauthorized = false;
      options.servername = u.hostname;
    }
    const req = (isHttps ? https : http).request(options, (res) => {
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        resolve({ redirect: res.headers.location });
        return;
      }
      if (status !== 200) {
        res.resume();
        const text = `${status} ${res.statusMessage ?? http.STATUS_CODES[status] ?? ''}`.trim();
        reject(
          new RepositoryError('Failed', `failed to fetch ${redactUrl(url)} : ${text}`, {
            status,
            hint:
              status === 401 || status === 403
                ? 'check the username and password in the Secret named by spec.secretRef'
                : status === 404
                  ? 'check the URL: the repository must serve index.yaml (and the chart archives) under it'
                  : undefined,
          }),
        );
        return;
      }
      const len = Number(res.headers['content-length'] ?? NaN);
      if (Number.isFinite(len) && len > opts.maxBytes) {
        res.destroy();
        reject(new RepositoryError('Failed', `${opts.what ?? 'response'} exceeds the maximum ${opts.what ?? 'response'} file size of ${opts.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > opts.maxBytes) {
          res.destroy();
          reject(new RepositoryError('Failed', `${opts.what ?? 'response'} exceeds the maximum ${opts.what ?? 'response'} file size of ${opts.maxBytes} bytes`));
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => resolve({ body: Buffer.concat(chunks, size) }));
      res.on('error', (err) => reject(new RepositoryError('Failed', describeNetworkError(url, err as NodeJS.ErrnoException))));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (signal.aborted) {
        const timedOut = (signal.reason as { name?: string } | undefined)?.name === 'TimeoutError';
        reject(
          new RepositoryError(
            'Failed',
            timedOut
              ? `Get "${redactUrl(url)}": context deadline exceeded (Client.Timeout of ${timeoutMs / 1000}s exceeded)`
              : `Get "${redactUrl(url)}": context canceled`,
            { hint: timedOut ? 'the repository did not answer in time; raise spec.timeout or check the server' : undefined },
          ),
        );
        return;
      }
      reject(new RepositoryError('Failed', describeNetworkError(url, err)));
    });
    req.end();
  });
}
