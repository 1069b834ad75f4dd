/**
 * The HTTP layer of the registry client, on node:http/https (no fetch: we need our own CA
 * bundle, client certificates and keep-alive agents per TLS configuration):
 *
 * - one keep-alive agent per TLS configuration, shared by every client in the process;
 * - redirects (blob downloads are often sent to object storage) followed for GET/HEAD, at
 *   most 10, and `Authorization` is dropped when a redirect leaves the origin;
 * - `https` first and, where plain HTTP is allowed (`insecure`, or a local address as
 *   go-containerregistry decides), `http` when the TLS connection cannot be made; the
 *   answer is remembered per host for the process;
 * - every request that reaches a server is counted (the image benchmark reports calls).
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import { RegistryUnreachableError } from './errors.js';

/** TLS settings (OCIRepository `certSecretRef`, `insecure`). */
export interface TlsOptions {
  /** PEM CA certificate(s) added to the system roots (`ca.crt`). */
  ca?: string;
  /** PEM client certificate (`tls.crt`); needs `key`. */
  cert?: string;
  /** PEM client key (`tls.key`); needs `cert`. */
  key?: string;
  /** Skip server certificate verification (only `insecure` without `certSecretRef`). */
  insecureSkipVerify?: boolean;
}

/** Reported for every request a server answered (after the fact). */
export interface RequestInfo {
  method: string;
  /** The URL without credentials or query secrets. */
  url: string;
  status: number;
}

/** Shared by every request of one RegistryClient. */
export interface TransportOptions {
  tls?: TlsOptions;
  /** Allow plain HTTP to every registry (OCIRepository `insecure`). */
  insecure?: boolean;
  userAgent?: string;
  /** Dial a different address for a host (`host:port` -> `ip:port`), like curl --resolve. */
  resolve?: Record<string, string>;
  onRequest?: (info: RequestInfo) => void;
}

/** One HTTP exchange to send. */
export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: Buffer;
  signal?: AbortSignal;
  /** Follow redirects (GET/HEAD only; default true). */
  followRedirects?: boolean;
}

/** A response whose body has not been read yet; read it or call `discard()`. */
export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The final URL after redirects. */
  url: URL;
  body: IncomingMessage;
  discard(): void;
}

const agents = new Map<string, http.Agent>();
const plainHttpHosts = new Map<string, boolean>();
const probing = new Map<string, Promise<string>>();

/** The keep-alive agent for a protocol and TLS configuration (process-wide). */
function agentFor(protocol: 'http:' | 'https:', t: TlsOptions | undefined): http.Agent {
  const key =
    protocol === 'http:'
      ? 'http'
      : 'https:' + createHash('sha256').update(JSON.stringify([t?.ca ?? '', t?.cert ?? '', t?.key ?? '', t?.insecureSkipVerify === true])).digest('hex');
  let a = agents.get(key);
  if (!a) {
    if (protocol === 'http:') {
      a = new http.Agent({ keepAlive: true, maxSockets: 32, keepAliveMsecs: 10_000 });
    } else {
      a = new https.Agent({
        keepAlive: true,
        maxSockets: 32,
        keepAliveMsecs: 10_000,
        ...(t?.ca ? { ca: [...tls.rootCertificates, t.ca] } : {}),
        ...(t?.cert ? { cert: t.cert } : {}),
        ...(t?.key ? { key: t.key } : {}),
        rejectUnauthorized: t?.insecureSkipVerify !== true,
      });
    }
    // Idle sockets must not keep a short-lived process (a CLI run, a test) alive.
    agents.set(key, a);
  }
  return a;
}

/** The URL without user info, for messages. */
export function redactUrl(u: URL): string {
  if (!u.username && !u.password) return u.toString();
  const c = new URL(u.toString());
  c.username = '';
  c.password = '';
  return c.toString();
}

/**
 * Sends one request (following redirects for GET/HEAD), returning the response with its
 * body unread. Network failures become RegistryUnreachableError.
 */
export async function send(req: HttpRequest, opts: TransportOptions): Promise<HttpResponse> {
  let url = req.url;
  let headers = { ...(req.headers ?? {}) };
  const follow = req.followRedirects !== false && (req.method === 'GET' || req.method === 'HEAD');
  for (let hop = 0; ; hop++) {
    const res = await sendOnce(req.method, url, headers, req.body, req.signal, opts);
    const loc = res.headers.location;
    if (follow && loc && [301, 302, 303, 307, 308].includes(res.status)) {
      res.discard();
      if (hop >= 10) throw new RegistryUnreachableError(`${req.method} ${redactUrl(req.url)}: stopped after 10 redirects`);
      const next = new URL(loc, url);
      if (next.protocol !== 'https:' && next.protocol !== 'http:') {
        throw new RegistryUnreachableError(`${req.method} ${redactUrl(req.url)}: redirect to unsupported scheme ${next.protocol}`);
      }
      if (next.origin !== url.origin) {
        const { authorization: _drop, Authorization: _drop2, ...rest } = headers;
        headers = rest;
      }
      url = next;
      continue;
    }
    return res;
  }
}

function sendOnce(
  method: string,
  url: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
  signal: AbortSignal | undefined,
  opts: TransportOptions,
): Promise<HttpResponse> {
  const isHttps = url.protocol === 'https:';
  const mod = isHttps ? https : http;
  const dial = opts.resolve?.[url.host];
  let hostname = url.hostname.replace(/^\[|\]$/g, '');
  let port = url.port || (isHttps ? '443' : '80');
  if (dial) {
    const i = dial.lastIndexOf(':');
    hostname = i > 0 ? dial.slice(0, i).replace(/^\[|\]$/g, '') : dial;
    if (i > 0) port = dial.slice(i + 1);
  }
  const h: Record<string, string> = { 'user-agent': opts.userAgent ?? 'fluxless', host: url.host, ...headers };
  if (body) h['content-length'] = String(body.length);
  return new Promise((resolve, reject) => {
    const r = mod.request(
      {
        method,
        hostname,
        port,
        path: url.pathname + url.search,
        headers: h,
        agent: agentFor(isHttps ? 'https:' : 'http:', opts.tls),
        servername: isHttps && !/^[0-9.]+$|:/.test(url.hostname) ? url.hostname : undefined,
        signal,
      },
      (res) => {
        const status = res.statusCode ?? 0;
        opts.onRequest?.({ method, url: `${url.origin}${url.pathname}`, status });
        resolve({
          status,
          headers: res.headers,
          url,
          body: res,
          discard: () => {
            res.resume();
          },
        });
      },
    );
    r.on('error', (err: NodeJS.ErrnoException) => {
      if (signal?.aborted) {
        reject(new RegistryUnreachableError(`${method} ${redactUrl(url)}: ${abortReason(signal)}`, { cause: err }));
        return;
      }
      reject(new RegistryUnreachableError(`${method} ${redactUrl(url)}: ${err.message}`, { cause: err }));
    });
    r.end(body);
  });
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === 'TimeoutError') return 'timed out';
  if (r instanceof Error) return r.message;
  return 'the operation was aborted';
}

/** True when the server does not speak TLS on that port (then plain HTTP may be tried). */
function isNotTlsError(err: unknown): boolean {
  const cause = (err as { cause?: NodeJS.ErrnoException }).cause;
  const code = cause?.code ?? '';
  return (
    code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    code === 'ECONNRESET' ||
    (code === 'EPROTO' && /wrong version number|packet length too long|unknown protocol|http request/i.test(cause?.message ?? ''))
  );
}

/**
 * The base URL (`https://host` or `http://host`) for a registry: https, or, where plain
 * HTTP is allowed, http when the server does not speak TLS (remembered per host).
 */
export async function registryBase(registry: string, allowHttp: boolean, probe: (base: string) => Promise<void>): Promise<string> {
  if (!allowHttp) return `https://${registry}`;
  const known = plainHttpHosts.get(registry);
  if (known !== undefined) return known ? `http://${registry}` : `https://${registry}`;
  // Concurrent first requests to a host share one probe.
  let p = probing.get(registry);
  if (!p) {
    p = probeScheme(registry, probe).finally(() => probing.delete(registry));
    probing.set(registry, p);
  }
  return p;
}

async function probeScheme(registry: string, probe: (base: string) => Promise<void>): Promise<string> {
  try {
    await probe(`https://${registry}`);
    plainHttpHosts.set(registry, false);
    return `https://${registry}`;
  } catch (err) {
    if (!isNotTlsError(err)) throw err;
    try {
      await probe(`http://${registry}`);
    } catch (err2) {
      throw new RegistryUnreachableError(`registry ${registry} answers neither https (${(err as Error).message}) nor http (${(err2 as Error).message})`, { cause: err2 });
    }
  }
  plainHttpHosts.set(registry, true);
  return `http://${registry}`;
}

/** Reads a whole body up to `max` bytes; throws when it is longer. */
export async function readBody(res: HttpResponse, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of res.body) {
    const b = c as Buffer;
    size += b.length;
    if (size > max) {
      res.body.destroy();
      throw new RangeError(`${what} is larger than ${max} bytes`);
    }
    chunks.push(b);
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size);
}

/** Forgets remembered schemes (tests). */
export function resetTransportCaches(): void {
  plainHttpHosts.clear();
}
