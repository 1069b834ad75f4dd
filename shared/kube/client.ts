/**
 * A small, fast Kubernetes REST client: keep-alive HTTPS with the credentials of a
 * KubeConfig (@kubernetes/client-node does the auth: tokens, certificates, basic auth, exec
 * plugins). Generic over resources, so the apply engine can talk to any kind, CRDs included.
 *
 * Hooks for remote clusters (kube/targets.ts): `bearerToken` supplies a short-lived token
 * per request (EKS), per-request `headers` carry impersonation (kube/impersonate.ts), and
 * `onClose` lets an owner release what it cached for this client.
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { shareable } from '../util/abort.js';
import { FluxlessError } from '../util/errors.js';
import { trimEnd } from '../util/trim.js';

/** One cause of a Status error (field validation details). */
export interface KubeStatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** An error answer from the API server, with its HTTP code and Status reason. */
export class KubeApiError extends FluxlessError {
  readonly status: number;
  readonly reason: string;
  readonly causes: KubeStatusCause[];
  constructor(status: number, reason: string, message: string, causes: KubeStatusCause[] = []) {
    super(`Kube${reason || 'Error'}`, message);
    this.status = status;
    this.reason = reason;
    this.causes = causes;
  }
  get notFound(): boolean {
    return this.status === 404;
  }
}

/** True for an API 404. */
export function isNotFound(err: unknown): boolean {
  return err instanceof KubeApiError && err.status === 404;
}

/** Options of one request. */
export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
  timeoutMs?: number;
  /** Extra request headers (impersonation); they override the client's own except Authorization. */
  headers?: Record<string, string>;
  /** Called with the status and headers of the response before it is read (ETag, 304 Not Modified: the body is then undefined). */
  onResponse?: (status: number, headers: http.IncomingHttpHeaders) => void;
}

/** A Kubernetes API client (one cluster, one identity). */
export interface KubeClient {
  readonly server: string;
  request<T = unknown>(method: string, path: string, opts?: RequestOptions): Promise<T>;
  /** Number of requests sent so far (benchmarks report calls per object). */
  readonly requestCount: number;
  close(): void;
}

const AUTH_REFRESH_MS = 60_000;

/** Options of createKubeClient. */
export interface KubeClientOptions {
  maxSockets?: number;
  /**
   * A bearer token for each request, replacing the kubeconfig's credentials (EKS tokens:
   * the provider caches and refreshes them before they expire).
   */
  bearerToken?: () => Promise<string>;
  /** Request timeout when a request names none (default 60 s; Flux uses 30 s for remote clusters). */
  timeoutMs?: number;
  /** Called once when the client is closed. */
  onClose?: () => void;
}

/** A client for the current context of `kc`. */
export function createKubeClient(kc: KubeConfig, opts: KubeClientOptions = {}): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new FluxlessError('NoCluster', 'the kubeconfig has no current cluster', {
      hint: 'set current-context in the kubeconfig, or point KUBECONFIG at another file',
    });
  }
  const server = trimEnd(cluster.server, '/');
  const url = new URL(server);
  const isHttps = url.protocol === 'https:';
  let base: https.RequestOptions | undefined;
  let baseAt = 0;
  let agent: http.Agent | undefined;
  let count = 0;
  let closed = false;

  async function auth(): Promise<https.RequestOptions> {
    if (base && Date.now() - baseAt < AUTH_REFRESH_MS) return base;
    const o: https.RequestOptions = { headers: {} };
    await kc.applyToHTTPSOptions(o);
    // Basic auth (kubeconfig username/password) comes back as `auth`; requests only send headers.
    const basic = (o as { auth?: string }).auth;
    if (basic) {
      o.headers = { ...(o.headers as Record<string, string>), authorization: `Basic ${Buffer.from(basic).toString('base64')}` };
      delete (o as { auth?: string }).auth;
    }
    if (!agent) {
      const agentOpts = {
        keepAlive: true,
        maxSockets: opts.maxSockets ?? 64,
        ca: o.ca,
        cert: o.cert,
        key: o.key,
        pfx: o.pfx,
        passphrase: o.passphrase,
        rejectUnauthorized: o.rejectUnauthorized,
        servername: o.servername,
      };
      agent = isHttps ? new https.Agent(agentOpts) : new http.Agent({ keepAlive: true, maxSockets: agentOpts.maxSockets });
    }
    base = o;
    baseAt = Date.now();
    return o;
  }

  async function request<T>(method: string, path: string, ro: RequestOptions = {}): Promise<T> {
    const o = await auth();
    let fullPath = (trimEnd(url.pathname, '/') || '') + path;
    if (ro.query) {
      const q = new URLSearchParams();
      for (const [k, v] of Object.entries(ro.query)) if (v !== undefined) q.set(k, String(v));
      const s = q.toString();
      if (s) fullPath += (fullPath.includes('?') ? '&' : '?') + s;
    }
    const payload =
      ro.body === undefined ? undefined : typeof ro.body === 'string' ? ro.body : JSON.stringify(ro.body);
    const headers: Record<string, string> = {
      ...(o.headers as Record<string, string>),
      accept: 'application/json',
      ...ro.headers,
    };
    if (opts.bearerToken) {
      delete headers.Authorization;
      headers.authorization = `Bearer ${await opts.bearerToken()}`;
    }
    if (payload !== undefined) {
      headers['content-type'] = ro.contentType ?? 'application/json';
      headers['content-length'] = String(Buffer.byteLength(payload));
    }
    count++;
    const mod = isHttps ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = mod.request(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          method,
          path: fullPath,
          headers,
          agent,
          signal: shareable(ro.signal),
          timeout: ro.timeoutMs ?? opts.timeoutMs ?? 60_000,
        },
        (res) => {
          ro.onResponse?.(res.statusCode ?? 0, res.headers);
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            let body: unknown = undefined;
            if (text) {
              try {
                body = JSON.parse(text);
              } catch {
                body = text;
              }
            }
            if (status >= 400) {
              const st = (body && typeof body === 'object' ? body : {}) as {
                reason?: string;
                message?: string;
                details?: { causes?: KubeStatusCause[] };
              };
              reject(
                new KubeApiError(
                  status,
                  st.reason ?? '',
                  st.message ?? (typeof body === 'string' ? body.slice(0, 500) : `HTTP ${status} from ${method} ${path}`),
                  st.details?.causes ?? [],
                ),
              );
              return;
            }
            resolve(body as T);
          });
        },
      );
      req.on('timeout', () => req.destroy(new FluxlessError('Timeout', `${method} ${path} timed out`)));
      req.on('error', (err) => {
        if (err instanceof FluxlessError) reject(err);
        else reject(new FluxlessError('Unreachable', `cannot reach the Kubernetes API at ${server}: ${err.message}`));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  return {
    server,
    request,
    get requestCount() {
      return count;
    },
    close() {
      if (closed) return;
      closed = true;
      agent?.destroy();
      opts.onClose?.();
    },
  };
}
