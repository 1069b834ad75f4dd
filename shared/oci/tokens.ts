/**
 * The registry token flow (distribution's "token authentication"): a 401 carries
 * `WWW-Authenticate: Bearer realm=...,service=...,scope=...`; we ask the realm for a token
 * for those scopes (GET with basic credentials, or the OAuth2 POST with a refresh token,
 * falling back to GET on 404, as go-containerregistry does), then retry with
 * `Authorization: Bearer <token>`. Tokens are cached per realm, service, scopes and
 * credential (a hash of it: two tenants never share a token) until 90% of `expires_in`
 * (60 s when the server gives none).
 *
 * The realm must be https, or http when the registry itself is reached over plain HTTP.
 * A realm on a link-local address (cloud metadata) is refused; a realm on a loopback or
 * private address is refused unless the registry is itself on such an address or on the
 * same host (a public registry must not point us at internal services).
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { RegistryAuthError, RegistryError, RegistryUnreachableError } from './errors.js';
import { readBody, redactUrl, send, type TransportOptions } from './http.js';
import type { Credential } from './keychain.js';
import { basicAuth } from '../util/basic-auth.js';

interface CachedToken {
  token: string;
  expiresAt: number;
}

const MAX_TOKEN_BODY = 1 << 20;
const cache = new Map<string, CachedToken>();
const inflight = new Map<string, Promise<string>>();
const MAX_CACHE = 4096;

/** What a Bearer challenge told us. */
export interface BearerChallenge {
  realm: string;
  service?: string;
}

/** Clears the process-wide token cache (tests). */
export function clearTokenCache(): void {
  cache.clear();
}

/** Identifies a credential in cache keys without keeping it. */
export function credentialId(c: Credential | undefined): string {
  if (!c) return 'anonymous';
  return createHash('sha256').update(JSON.stringify([c.username ?? '', c.password ?? '', c.identityToken ?? '', c.registryToken ?? ''])).digest('hex').slice(0, 32);
}

function cacheKey(ch: BearerChallenge, scopes: readonly string[], cred: Credential | undefined): string {
  return JSON.stringify([ch.realm, ch.service ?? '', [...scopes].sort(), credentialId(cred)]);
}

/** A cached token for these scopes, if still fresh. */
export function cachedToken(ch: BearerChallenge, scopes: readonly string[], cred: Credential | undefined, now = Date.now()): string | undefined {
  const hit = cache.get(cacheKey(ch, scopes, cred));
  if (!hit) return undefined;
  if (hit.expiresAt <= now) {
    cache.delete(cacheKey(ch, scopes, cred));
    return undefined;
  }
  return hit.token;
}

/** Drops a cached token (the registry refused it). */
export function forgetToken(ch: BearerChallenge, scopes: readonly string[], cred: Credential | undefined): void {
  cache.delete(cacheKey(ch, scopes, cred));
}

/** Checks the realm URL (see the module comment); throws RegistryAuthError when refused. */
export function checkRealm(realm: string, registry: string, registryIsHttp: boolean): URL {
  let u: URL;
  try {
    u = new URL(realm);
  } catch {
    throw new RegistryAuthError('GET', realm, 0, [], { message: `invalid realm '${realm}' in the registry's WWW-Authenticate challenge` });
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && registryIsHttp)) {
    throw new RegistryAuthError('GET', redactUrl(u), 0, [], {
      message: `realm scheme '${u.protocol.replace(':', '')}' not allowed for registry ${registry}: the token server must use https (or http for a plain-HTTP registry)`,
    });
  }
  if (u.host === registry) return u;
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const kind = addressKind(host);
  if (kind === 'link-local') {
    throw new RegistryAuthError('GET', redactUrl(u), 0, [], { message: `realm host '${host}' is a link-local address; refusing to send credentials there` });
  }
  if (kind === 'private') {
    const regHost = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    const regKind = addressKind(regHost);
    if (regKind !== 'private' && regHost !== 'localhost') {
      throw new RegistryAuthError('GET', redactUrl(u), 0, [], {
        message: `realm host '${host}' is a private or loopback address but registry ${registry} is not; refusing to send credentials there`,
      });
    }
  }
  return u;
}

function addressKind(host: string): 'public' | 'private' | 'link-local' {
  const v = isIP(host);
  if (v === 4) {
    const [a, b] = host.split('.').map(Number);
    if (a === 169 && b === 254) return 'link-local';
    if (a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168)) return 'private';
    return 'public';
  }
  if (v === 6) {
    const h = host.toLowerCase();
    if (h.startsWith('fe80:') || h === 'fd00:ec2::254') return 'link-local';
    if (h === '::1' || h === '::' || h.startsWith('fc') || h.startsWith('fd')) return 'private';
    return 'public';
  }
  return 'public';
}

/**
 * Gets a token for `scopes` from the challenge's realm (cached). Throws RegistryAuthError
 * when the token server refuses the credentials, RegistryError for other answers.
 */
export async function fetchToken(
  ch: BearerChallenge,
  scopes: readonly string[],
  cred: Credential | undefined,
  ctx: { registry: string; registryIsHttp: boolean; transport: TransportOptions; signal?: AbortSignal; now?: () => number },
): Promise<string> {
  const now = ctx.now ?? Date.now;
  const hit = cachedToken(ch, scopes, cred, now());
  if (hit) return hit;
  if (cred?.registryToken) return cred.registryToken;
  // Concurrent requests for the same token share one exchange.
  const key = cacheKey(ch, scopes, cred);
  const pending = inflight.get(key);
  if (pending) return pending;
  const p = exchange(ch, scopes, cred, { ...ctx, now }).finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}

async function exchange(
  ch: BearerChallenge,
  scopes: readonly string[],
  cred: Credential | undefined,
  ctx: { registry: string; registryIsHttp: boolean; transport: TransportOptions; signal?: AbortSignal; now: () => number },
): Promise<string> {
  const now = ctx.now;
  const realm = checkRealm(ch.realm, ctx.registry, ctx.registryIsHttp);
  let body: Buffer;
  if (cred?.identityToken) {
    try {
      body = await tokenPost(realm, ch, scopes, cred.identityToken, ctx);
    } catch (err) {
      if (!(err instanceof RegistryError && err.status === 404)) throw err;
      body = await tokenGet(realm, ch, scopes, cred, ctx);
    }
  } else {
    body = await tokenGet(realm, ch, scopes, cred, ctx);
  }
  let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
  try {
    parsed = JSON.parse(body.toString('utf8')) as typeof parsed;
  } catch {
    throw new RegistryError('GET', redactUrl(realm), 200, [], { message: `token server ${realm.origin} answered with something that is not JSON` });
  }
  const token = typeof parsed.token === 'string' && parsed.token ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : '';
  if (!token) throw new RegistryError('GET', redactUrl(realm), 200, [], { message: `token server ${realm.origin} answered without a token` });
  const expiresIn = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60;
  if (cache.size >= MAX_CACHE) cache.clear();
  cache.set(cacheKey(ch, scopes, cred), { token, expiresAt: now() + expiresIn * 900 });
  return token;
}

async function tokenGet(
  realm: URL,
  ch: BearerChallenge,
  scopes: readonly string[],
  cred: Credential | undefined,
  ctx: { registry: string; transport: TransportOptions; signal?: AbortSignal },
): Promise<Buffer> {
  const u = new URL(realm.toString());
  for (const s of scopes) u.searchParams.append('scope', s);
  if (ch.service !== undefined) u.searchParams.set('service', ch.service);
  const headers: Record<string, string> = {};
  if (cred && (cred.username || cred.password)) {
    headers.authorization = basicAuth(cred.username ?? '', cred.password ?? '');
  }
  return tokenRequest('GET', u, headers, undefined, !!headers.authorization, ctx);
}

async function tokenPost(
  realm: URL,
  ch: BearerChallenge,
  scopes: readonly string[],
  refreshToken: string,
  ctx: { registry: string; transport: TransportOptions; signal?: AbortSignal },
): Promise<Buffer> {
  const form = new URLSearchParams();
  form.set('scope', scopes.join(' '));
  if (ch.service !== undefined) form.set('service', ch.service);
  form.set('client_id', 'fluxless');
  form.set('grant_type', 'refresh_token');
  form.set('refresh_token', refreshToken);
  return tokenRequest('POST', realm, { 'content-type': 'application/x-www-form-urlencoded' }, Buffer.from(form.toString()), true, ctx);
}

async function tokenRequest(
  method: string,
  u: URL,
  headers: Record<string, string>,
  body: Buffer | undefined,
  withCredentials: boolean,
  ctx: { registry: string; transport: TransportOptions; signal?: AbortSignal },
): Promise<Buffer> {
  const shown = `${u.origin}${u.pathname}`;
  const res = await send({ method, url: u, headers, body, signal: ctx.signal }, ctx.transport);
  if (res.status === 200) return readBody(res, MAX_TOKEN_BODY, `token response from ${shown}`);
  const text = await readBody(res, 64 * 1024, 'token error').catch(() => Buffer.alloc(0));
  const detail = tokenErrorDetail(text);
  if (res.status === 401 || res.status === 403) {
    throw new RegistryAuthError(method, shown, res.status, [], {
      message: withCredentials
        ? `token server ${shown} refused the credentials for registry ${ctx.registry} (HTTP ${res.status})${detail}`
        : `token server ${shown} requires credentials for registry ${ctx.registry} (HTTP ${res.status})${detail}; give a pull secret (spec.secretRef)`,
    });
  }
  if (res.status === 0) throw new RegistryUnreachableError(`${method} ${shown}: no answer`);
  throw new RegistryError(method, shown, res.status, [], { message: `token server ${shown} answered HTTP ${res.status} for registry ${ctx.registry}${detail}` });
}

function tokenErrorDetail(b: Buffer): string {
  if (b.length === 0) return '';
  try {
    const j = JSON.parse(b.toString('utf8')) as { details?: unknown; error?: unknown; error_description?: unknown; errors?: { message?: string }[] };
    const msg = typeof j.details === 'string' ? j.details : typeof j.error_description === 'string' ? j.error_description : typeof j.error === 'string' ? j.error : j.errors?.[0]?.message;
    return msg ? `: ${String(msg).slice(0, 200)}` : '';
  } catch {
    return '';
  }
}
