/**
 * A small typed GitHub REST client, sending what go-github v64 sends (Flux's client):
 * `Accept: application/vnd.github.v3+json`, `User-Agent: go-github/v64.0.0`,
 * `X-GitHub-Api-Version: 2022-11-28`, `Authorization: Bearer <token>`, JSON bodies
 * without HTML escaping plus a newline. The API base is `https://api.github.com/` for
 * github.com and `<host>/api/v3/` for GitHub Enterprise (WithEnterpriseURLs).
 *
 * Tokens: a personal access token (Secret `token`, else `password`), or a GitHub App
 * installation token minted from `githubAppID`, `githubAppInstallationID` (or
 * `githubAppInstallationOwner`), `githubAppPrivateKey` and `githubAppBaseURL` (fluxcd/pkg
 * auth/githubapp): a 2-minute RS256 JWT, then `POST /app/installations/{id}/access_tokens`.
 * Installation tokens are cached in the process until 5 minutes before they expire.
 */
import { createPrivateKey } from 'node:crypto';
import { SignJWT } from 'jose';
import { errorMessage } from '../../util/errors.js';
import { PermanentDeliveryError, statusDeliveryError } from '../errors.js';
import { goEncodeNoEscape } from '../../util/gojson.js';
import { httpRequest, type HttpAnswer, type Transport } from '../http.js';
import { parseGitAddress } from './git-address.js';
import { trimEnd } from '../../util/trim.js';

/** go-github's version Flux builds with. */
export const GO_GITHUB_USER_AGENT = 'go-github/v64.0.0';
/** The API version header go-github sends. */
export const GITHUB_API_VERSION = '2022-11-28';

/** A GitHub API client bound to one repository. */
export interface GitHubRepoClient {
  owner: string;
  repo: string;
  /** `https://api.github.com/` or `<host>/api/v3/`. */
  baseUrl: string;
  /** The App's slug when authenticated as a GitHub App (comments then appear as `<slug>[bot]`). */
  appSlug?: string;
  /** One API call; `path` is relative to the base (`repos/o/r/...`). Non-2xx answers throw. */
  call<T>(method: string, path: string, body?: unknown, what?: string): Promise<T>;
  /** One API call returning the raw answer (any status). */
  raw(method: string, path: string, body?: unknown): Promise<HttpAnswer>;
}

/** The API base go-github uses for a host URL (`https://github.com` -> api.github.com). */
export function githubApiBase(host: string): string {
  const u = new URL(host);
  if (u.host === 'github.com') return 'https://api.github.com/';
  let p = u.pathname.endsWith('/') ? u.pathname : `${u.pathname}/`;
  if (!p.endsWith('/api/v3/') && !u.host.startsWith('api.') && !u.host.includes('.api.')) p += 'api/v3/';
  return `${u.protocol}//${u.host}${p}`;
}

/** go-github's error text for a non-2xx answer: `METHOD URL: STATUS MESSAGE`. */
function apiError(method: string, url: string, res: HttpAnswer, what: string | undefined): Error {
  let message = res.text();
  try {
    const doc = JSON.parse(message) as { message?: string };
    if (doc.message) message = doc.message;
  } catch {
    /* keep the body */
  }
  const text = `${method} ${url}: ${res.status} ${message}`;
  return statusDeliveryError(res.status, what ? `${what}: ${text}` : text);
}

/** A client for `baseUrl` with a bearer token. */
export function githubClient(o: { baseUrl: string; token: string; owner: string; repo: string; transport: Transport; signal?: AbortSignal; appSlug?: string }): GitHubRepoClient {
  const raw = (method: string, path: string, body?: unknown) => {
    const headers: Record<string, string> = {
      Accept: 'application/vnd.github.v3+json',
      'User-Agent': GO_GITHUB_USER_AGENT,
      'X-GitHub-Api-Version': GITHUB_API_VERSION,
      Authorization: `Bearer ${o.token}`,
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    return httpRequest({ method, url: new URL(path, o.baseUrl).toString(), headers, body: body === undefined ? undefined : goEncodeNoEscape(body), signal: o.signal }, o.transport);
  };
  return {
    owner: o.owner,
    repo: o.repo,
    baseUrl: o.baseUrl,
    appSlug: o.appSlug,
    raw,
    async call<T>(method: string, path: string, body?: unknown, what?: string): Promise<T> {
      const res = await raw(method, path, body);
      if (res.status < 200 || res.status >= 300) throw apiError(method, new URL(path, o.baseUrl).toString(), res, what);
      const text = res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}

/** GitHub App credentials from a Secret. */
export interface GitHubAppKeys {
  appId: string;
  installationId?: string;
  installationOwner?: string;
  privateKey: string;
  /** API base of the App endpoints (default https://api.github.com). */
  baseUrl?: string;
}

/** The GitHub App keys of a Secret, when it has `githubAppID`. */
export function githubAppKeys(data: Readonly<Record<string, string>>): GitHubAppKeys | undefined {
  if (!data.githubAppID) return undefined;
  const out: GitHubAppKeys = { appId: data.githubAppID.trim(), privateKey: data.githubAppPrivateKey ?? '' };
  if (data.githubAppInstallationID) out.installationId = data.githubAppInstallationID.trim();
  if (data.githubAppInstallationOwner) out.installationOwner = data.githubAppInstallationOwner.trim();
  if (data.githubAppBaseURL) out.baseUrl = data.githubAppBaseURL.trim();
  return out;
}

interface CachedToken {
  token: string;
  slug?: string;
  expiresAt: number;
}
const appTokens = new Map<string, CachedToken>();

/** An installation token (and, with `slug`, the App's slug) for the App keys; cached until 5 minutes before expiry. */
export async function githubAppToken(keys: GitHubAppKeys, o: { transport: Transport; signal?: AbortSignal; slug?: boolean; now?: () => number }): Promise<{ token: string; slug?: string }> {
  const now = o.now ?? Date.now;
  const base = `${trimEnd(keys.baseUrl ?? 'https://api.github.com', '/')}/`;
  const cacheKey = `${base}|${keys.appId}|${keys.installationId ?? ''}|${keys.installationOwner ?? ''}|${o.slug ? 's' : ''}`;
  const hit = appTokens.get(cacheKey);
  if (hit && hit.expiresAt - 5 * 60_000 > now()) return { token: hit.token, slug: hit.slug };
  if (!/^\d+$/.test(keys.appId)) throw new PermanentDeliveryError('app ID must be provided to use github app authentication');
  if (!keys.installationId && !keys.installationOwner) throw new PermanentDeliveryError('app installation owner or ID must be provided to use github app authentication');
  if (keys.installationId && keys.installationOwner) throw new PermanentDeliveryError('only one of app installation owner or ID must be provided to use github app authentication');
  if (!keys.privateKey) throw new PermanentDeliveryError('private key must be provided to use github app authentication');
  let jwt: string;
  try {
    const iat = Math.floor(now() / 1000) - 30;
    jwt = await new SignJWT({}).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuer(keys.appId).setIssuedAt(iat).setExpirationTime(iat + 120).sign(createPrivateKey(keys.privateKey));
  } catch (err) {
    throw new PermanentDeliveryError(`could not parse private key: ${errorMessage(err)}`, { cause: err });
  }
  const app = githubClient({ baseUrl: base, token: jwt, owner: '', repo: '', transport: o.transport, signal: o.signal });
  let slug: string | undefined;
  if (o.slug) slug = (await app.call<{ slug?: string }>('GET', 'app', undefined, 'failed to get app information')).slug;
  let installationId = keys.installationId;
  if (!installationId) {
    const owner = encodeURIComponent(keys.installationOwner!);
    const org = await app.raw('GET', `orgs/${owner}/installation`);
    if (org.status === 200) installationId = String((JSON.parse(org.text()) as { id: number }).id);
    else installationId = String((await app.call<{ id: number }>('GET', `users/${owner}/installation`, undefined, 'failed to find user installation')).id);
  }
  const res = await app.call<{ token: string; expires_at?: string }>('POST', `app/installations/${installationId}/access_tokens`, undefined, 'failed to create installation token');
  const expiresAt = res.expires_at ? Date.parse(res.expires_at) : now() + 3_600_000;
  appTokens.set(cacheKey, { token: res.token, slug, expiresAt });
  return { token: res.token, slug };
}

/** The client for a Provider's `address` (Flux's NewGitHubClient): token, else GitHub App, else an error. */
export async function githubRepoClient(o: {
  address: string;
  token: string;
  password: string;
  secretData: Readonly<Record<string, string>>;
  transport: Transport;
  signal?: AbortSignal;
  slug?: boolean;
}): Promise<GitHubRepoClient> {
  let token = o.token || o.password;
  let appSlug: string | undefined;
  if (!token) {
    const keys = githubAppKeys(o.secretData);
    if (!keys) throw new PermanentDeliveryError('github token or github app details must be specified');
    const t = await githubAppToken(keys, { transport: o.transport, signal: o.signal, slug: o.slug });
    token = t.token;
    appSlug = t.slug;
  }
  const { host, id } = parseGitAddress(o.address);
  const parts = id.split('/');
  if (parts.length !== 2) throw new PermanentDeliveryError(`invalid repository id: '${id}'`);
  return githubClient({ baseUrl: githubApiBase(host), token, owner: parts[0], repo: parts[1], transport: o.transport, signal: o.signal, appSlug });
}
