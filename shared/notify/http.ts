/**
 * The HTTP client of the notification providers and the PR-preview API calls, on
 * node:http/https: one request, no redirects, a deadline (the Provider `timeout`, through
 * an AbortSignal), TLS from a `certSecretRef` (CA added to the system roots, client
 * certificate), and an HTTP(S) proxy (`proxySecretRef` or the deprecated `spec.proxy`):
 * absolute-form requests for http:// targets, a CONNECT tunnel for https:// ones. SOCKS5
 * proxies are refused with a clear error. A network failure or a timeout is a
 * TransientDeliveryError (the queue retries it).
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import tls from 'node:tls';
import { errorMessage } from '../util/errors.js';
import { PermanentDeliveryError, TransientDeliveryError } from './errors.js';
import { basicAuth } from '../util/basic-auth.js';

/** TLS material (PEM) from a `certSecretRef`. */
export interface TlsMaterial {
  ca?: string;
  cert?: string;
  key?: string;
}

/** A proxy: `http://`, `https://` (socks5 is refused). */
export interface ProxyConfig {
  url: string;
  username?: string;
  password?: string;
}

/** How requests reach a provider. */
export interface Transport {
  tls?: TlsMaterial;
  proxy?: ProxyConfig;
}

/** One request. */
export interface HttpCall {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  signal?: AbortSignal;
}

/** The answer (any status). */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text(): string;
}

/** Responses larger than this are cut (providers answer with small documents). */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

function tlsOptions(t: TlsMaterial | undefined): tls.ConnectionOptions {
  if (!t) return {};
  const out: tls.ConnectionOptions = {};
  if (t.ca) out.ca = [...tls.rootCertificates, t.ca];
  if (t.cert && t.key) {
    out.cert = t.cert;
    out.key = t.key;
  }
  return out;
}

function proxyAuth(p: ProxyConfig): Record<string, string> {
  const u = new URL(p.url);
  const user = p.username ?? decodeURIComponent(u.username);
  const pass = p.password ?? decodeURIComponent(u.password);
  return user || pass ? { 'Proxy-Authorization': basicAuth(user, pass) } : {};
}

function portOf(u: URL): number {
  return u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
}

/** Opens a CONNECT tunnel to `target` through the proxy. */
function tunnel(p: ProxyConfig, target: URL, signal: AbortSignal | undefined): Promise<Socket> {
  const pu = new URL(p.url);
  const mod = pu.protocol === 'https:' ? https : http;
  const authority = `${target.hostname}:${portOf(target)}`;
  return new Promise((resolve, reject) => {
    const req = mod.request({ host: pu.hostname, port: portOf(pu), method: 'CONNECT', path: authority, headers: { Host: authority, ...proxyAuth(p) }, signal, agent: false });
    req.once('connect', (res, socket) => {
      if (res.statusCode !== 200) {
        socket.destroy();
        reject(new TransientDeliveryError(`failed to execute request: proxy ${pu.host} refused CONNECT ${authority}: ${res.statusCode} ${res.statusMessage ?? ''}`.trim()));
        return;
      }
      resolve(socket);
    });
    req.once('error', (err) => reject(new TransientDeliveryError(`failed to execute request: proxy ${pu.host}: ${errorMessage(err)}`, { cause: err })));
    req.end();
  });
}

/** Sends one request; throws TransientDeliveryError when no answer came (network, timeout). */
export async function httpRequest(call: HttpCall, transport: Transport = {}): Promise<HttpAnswer> {
  let url: URL;
  try {
    url = new URL(call.url);
  } catch {
    throw new PermanentDeliveryError(`invalid URL ${JSON.stringify(call.url)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new PermanentDeliveryError(`unsupported protocol scheme "${url.protocol.replace(/:$/, '')}" in ${url.origin}`);
  const proxy = transport.proxy;
  if (proxy) {
    let pu: URL;
    try {
      pu = new URL(proxy.url);
    } catch {
      throw new PermanentDeliveryError('invalid proxy URL');
    }
    if (pu.protocol !== 'http:' && pu.protocol !== 'https:') {
      throw new PermanentDeliveryError(`proxy scheme "${pu.protocol.replace(/:$/, '')}" is not supported by Fluxless (use an http:// or https:// proxy)`);
    }
  }
  const body = call.body === undefined ? undefined : Buffer.isBuffer(call.body) ? call.body : Buffer.from(call.body, 'utf8');
  const headers: Record<string, string> = { ...(call.headers ?? {}) };
  if (body) headers['Content-Length'] = String(body.length);
  const secure = url.protocol === 'https:';
  const base: https.RequestOptions = { method: call.method, headers, signal: call.signal, agent: false, ...tlsOptions(transport.tls) };
  let options: https.RequestOptions;
  let mod: typeof http | typeof https = secure ? https : http;
  if (proxy && secure) {
    const socket = await tunnel(proxy, url, call.signal);
    options = {
      ...base,
      host: url.hostname,
      port: portOf(url),
      path: `${url.pathname}${url.search}`,
      createConnection: () => tls.connect({ socket, servername: url.hostname, ...tlsOptions(transport.tls) }),
    };
  } else if (proxy) {
    const pu = new URL(proxy.url);
    mod = pu.protocol === 'https:' ? https : http;
    options = { ...base, host: pu.hostname, port: portOf(pu), path: url.href, headers: { ...headers, Host: url.host, ...proxyAuth(proxy) } };
  } else {
    options = { ...base, host: url.hostname, port: portOf(url), path: `${url.pathname}${url.search}` };
  }
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = mod.request(options, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
      });
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: buf, text: () => buf.toString('utf8') });
      });
      res.on('error', (err) => reject(new TransientDeliveryError(`failed to read the response of ${url.origin}: ${errorMessage(err)}`, { cause: err })));
    });
    req.on('error', (err) => {
      const aborted = call.signal?.aborted;
      reject(new TransientDeliveryError(`failed to execute request: ${call.method} ${url.origin}${url.pathname}: ${aborted ? 'context deadline exceeded' : errorMessage(err)}`, { cause: err }));
    });
    if (body) req.end(body);
    else req.end();
  });
}
