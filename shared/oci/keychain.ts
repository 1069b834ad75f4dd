/**
 * Registry credentials. A Keychain answers "which credential for this repository?"; the
 * one built from a pull Secret follows go-containerregistry's k8schain (what Flux uses):
 *
 * - `.dockerconfigjson` (`{"auths": {...}}`) or the older `.dockercfg` (the map itself);
 * - each key may carry a scheme (`https://`) and a path; `/v1/` and `/v2/` prefixes count
 *   as the bare host (`https://index.docker.io/v1/` is Docker Hub);
 * - a key matches a repository `registry/path` when the port is equal, the host has as many
 *   dot-separated parts and each part matches as a glob (`*.example.com`), and the key's
 *   path is a prefix of the repository path;
 * - keys are tried in reverse lexical order, the first matching one wins;
 * - `auth` (base64 `user:password`, padded or not) or `username` + `password`;
 *   `identitytoken` (an OAuth2 refresh token) and `registrytoken` (a bearer token) too.
 */
import { ValidationError } from '../util/errors.js';
import { compileGoGlob } from '../artifacts/ignore.js';
import type { RepositoryName } from './reference.js';

/** What we send a registry (or its token server); docker's AuthConfig. */
export interface Credential {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token, exchanged at the token server (docker's `identitytoken`). */
  identityToken?: string;
  /** A bearer token sent to the registry as is (docker's `registrytoken`). */
  registryToken?: string;
}

/** Resolves the credential for a repository; undefined = anonymous. */
export interface Keychain {
  resolve(target: RepositoryName): Promise<Credential | undefined>;
  /** A short label for logs and messages (never a secret). */
  readonly description: string;
}

/** No credentials at all. */
export const anonymousKeychain: Keychain = { resolve: async () => undefined, description: 'anonymous' };

/** One fixed credential for every repository (`--creds user:password`, tests). */
export function staticKeychain(cred: Credential, description = 'static credentials'): Keychain {
  return { resolve: async () => cred, description };
}

interface AuthEntry {
  username?: string;
  password?: string;
  auth?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The data of a pull Secret (decoded values), and where it came from for messages. */
export interface PullSecretData {
  /** Decoded Secret data: `.dockerconfigjson` or `.dockercfg`. */
  data: Record<string, string>;
  /** Secret type when known; must be kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg. */
  type?: string;
  /** `namespace/name`, for messages. */
  name?: string;
}

/**
 * Builds the keychain of one or more pull Secrets (k8schain.NewFromPullSecrets). Throws
 * ValidationError naming the Secret when it is not a docker config or does not parse.
 */
export function pullSecretKeychain(secrets: PullSecretData[]): Keychain {
  const index: string[] = [];
  const creds = new Map<string, Credential[]>();
  for (const secret of secrets) {
    const what = secret.name ? `Secret '${secret.name}'` : 'the pull Secret';
    if (secret.type && secret.type !== 'kubernetes.io/dockerconfigjson' && secret.type !== 'kubernetes.io/dockercfg') {
      throw new ValidationError(`${what} has type '${secret.type}': registry credentials must be a Secret of type kubernetes.io/dockerconfigjson`, {
        hint: 'create it with `kubectl create secret docker-registry NAME --docker-server=HOST --docker-username=USER --docker-password=PASSWORD`',
      });
    }
    let auths: Record<string, AuthEntry>;
    const json = secret.data['.dockerconfigjson'];
    const legacy = secret.data['.dockercfg'];
    try {
      if (json !== undefined && json !== '') {
        const parsed = JSON.parse(json) as { auths?: Record<string, AuthEntry> };
        auths = isRecord(parsed) && isRecord(parsed.auths) ? parsed.auths : {};
      } else if (legacy !== undefined && legacy !== '') {
        const parsed = JSON.parse(legacy) as Record<string, AuthEntry>;
        auths = isRecord(parsed) ? parsed : {};
      } else {
        throw new ValidationError(`${what} has no '.dockerconfigjson' key: registry credentials must be a Secret of type kubernetes.io/dockerconfigjson`, {
          hint: 'create it with `kubectl create secret docker-registry NAME --docker-server=HOST --docker-username=USER --docker-password=PASSWORD`',
        });
      }
    } catch (err) {
      if (err instanceof ValidationError) throw err;
      throw new ValidationError(`${what}: '.dockerconfigjson' is not valid JSON: ${(err as Error).message}`);
    }
    for (const [registry, entry] of Object.entries(auths)) {
      if (!isRecord(entry)) continue;
      const key = keyringKey(registry, what);
      const cred = toCredential(entry as AuthEntry, registry, what);
      if (!creds.has(key)) {
        index.push(key);
        creds.set(key, []);
      }
      if (cred) creds.get(key)!.push(cred);
    }
  }
  index.sort().reverse();
  const names = secrets.map((s) => s.name).filter(Boolean).join(', ');
  return {
    description: names ? `pull secret ${names}` : 'pull secret',
    async resolve(target) {
      const image = `${target.registry}/${target.repository}`;
      for (const k of index) {
        if (urlsMatch(k, image)) {
          const list = creds.get(k)!;
          if (list.length > 0) return list[0];
        }
      }
      return undefined;
    },
  };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The keyring key of a `.dockerconfigjson` entry: host plus any path, `/v1/` and `/v2/` dropped. */
export function keyringKey(registry: string, what = 'the pull Secret'): string {
  const value = /^https?:\/\//.test(registry) ? registry : `https://${registry}`;
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    throw new ValidationError(`${what}: entry ${JSON.stringify(registry)} in .dockerconfigjson is not a valid registry address`);
  }
  let p = decodeURIComponent(u.pathname);
  if (p.startsWith('/v2/') || p.startsWith('/v1/')) p = p.slice(3);
  // WHATWG URL lowercases the host and drops default ports; Go keeps the text: use the raw authority.
  const authority = rawAuthority(value);
  return p.length > 0 && p !== '/' ? authority + p : authority;
}

function rawAuthority(url: string): string {
  const rest = url.replace(/^https?:\/\//, '');
  const end = rest.search(/[/?#]/);
  const auth = end < 0 ? rest : rest.slice(0, end);
  const at = auth.lastIndexOf('@');
  return at >= 0 ? auth.slice(at + 1) : auth;
}

function toCredential(e: AuthEntry, registry: string, what: string): Credential | undefined {
  const c: Credential = {};
  if (typeof e.auth === 'string' && e.auth.length > 0) {
    const decoded = decodeAuth(e.auth);
    if (!decoded) throw new ValidationError(`${what}: the 'auth' of ${JSON.stringify(registry)} must be base64 of 'username:password'`);
    c.username = decoded.username;
    c.password = decoded.password;
  } else {
    if (typeof e.username === 'string' && e.username) c.username = e.username;
    if (typeof e.password === 'string' && e.password) c.password = e.password;
  }
  if (typeof e.identitytoken === 'string' && e.identitytoken) c.identityToken = e.identitytoken;
  if (typeof e.registrytoken === 'string' && e.registrytoken) c.registryToken = e.registrytoken;
  return Object.keys(c).length > 0 ? c : undefined;
}

/** Decodes docker's `auth` field (padded or unpadded base64 of `user:password`). */
export function decodeAuth(field: string): { username: string; password: string } | undefined {
  const f = field.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(f)) return undefined;
  const text = Buffer.from(f, 'base64').toString('utf8');
  const i = text.indexOf(':');
  if (i < 0) return undefined;
  return { username: text.slice(0, i), password: text.slice(i + 1) };
}

/** k8schain's urlsMatch: host parts glob-matched one by one, same port, key path a prefix. */
export function urlsMatch(glob: string, target: string): boolean {
  const g = splitSchemeless(glob);
  const t = splitSchemeless(target);
  if (g.port !== t.port) return false;
  if (g.parts.length !== t.parts.length) return false;
  if (!t.path.startsWith(g.path)) return false;
  for (let i = 0; i < g.parts.length; i++) {
    const m = compileGoGlob(g.parts[i]);
    if (!m || !m(t.parts[i])) return false;
  }
  return true;
}

function splitSchemeless(s: string): { parts: string[]; port: string; path: string } {
  const slash = s.indexOf('/');
  const host = slash < 0 ? s : s.slice(0, slash);
  const path = slash < 0 ? '' : s.slice(slash);
  let hostname = host;
  let port = '';
  const bracket = /^\[([^\]]+)\](?::(\d*))?$/.exec(host);
  if (bracket) {
    hostname = bracket[1];
    port = bracket[2] ?? '';
  } else if ((host.match(/:/g) ?? []).length === 1) {
    const i = host.indexOf(':');
    hostname = host.slice(0, i);
    port = host.slice(i + 1);
  }
  return { parts: hostname.split('.'), port, path };
}
