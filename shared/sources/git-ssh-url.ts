/**
 * SSH remote addresses. A GitRepository's spec.url must be `ssh://[user@]host[:port]/path`
 * (source-controller's CRD pattern is `^(http|https|ssh)://.*$`, so the scp-like
 * `git@host:path` form is refused by the API server); the scp-like form is recognised here
 * only to say how to write it. The remote command is `git-upload-pack '<path>'`, quoted like
 * git does, so restricted accounts (git-shell, ForceCommand wrappers) accept it.
 */
import { ValidationError } from '../util/errors.js';

/** Where an SSH git remote lives and which repository path to ask for. */
export interface SshRemote {
  /** From the URL; `git` when the URL has none (fluxcd/pkg DefaultPublicKeyAuthUser). */
  user: string;
  /** Lowercase; IPv6 without brackets. */
  host: string;
  port: number;
  /** The repository path sent to git-upload-pack (`/org/repo.git`, or `~/repo.git` for `/~/repo.git`). */
  path: string;
}

/** True for `ssh://...` URLs (any case). */
export function isSshUrl(url: string): boolean {
  return /^ssh:\/\//i.test(url);
}

/** The parts of an scp-like address (`[user@]host:path`), or undefined when `s` is not one. */
export function parseScpLike(s: string): { user?: string; host: string; path: string } | undefined {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(s)) return undefined;
  const m = /^(?:([^@/:\s]+)@)?(\[[^\]/]+\]|[^@/:\s[\]]{2,}):(.+)$/.exec(s);
  if (!m) return undefined;
  return { ...(m[1] ? { user: m[1] } : {}), host: m[2], path: m[3] };
}

/**
 * The ssh:// URL for an scp-like address as Git hosts (GitHub, GitLab, Bitbucket, Gitea)
 * resolve it: `git@github.com:org/repo.git` -> `ssh://git@github.com/org/repo.git`.
 */
export function sshUrlForScpLike(s: string): string | undefined {
  const p = parseScpLike(s);
  if (!p) return undefined;
  const path = p.path.startsWith('/') ? p.path : `/${p.path}`;
  return `ssh://${p.user ? `${p.user}@` : ''}${p.host}${path}`;
}

/** Parses an `ssh://` URL. Throws ValidationError (prefixed with `field`) naming what is wrong. */
export function parseSshUrl(url: string, field = 'spec.url'): SshRemote {
  // A common mix of both forms: ssh://git@github.com:org/repo (a path where the port goes).
  const mixed = /^ssh:\/\/((?:[^@/]+@)?[^/:[\]]+):([^0-9/][^/]*(?:\/.*)?)$/i.exec(url);
  if (mixed) {
    throw new ValidationError(`${field} '${url}' mixes the ssh:// and scp-like forms: use 'ssh://${mixed[1]}/${mixed[2]}'`, {
      hint: 'in an ssh:// URL a colon after the host starts a port number; the path starts with /',
    });
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError(`${field} '${url}' is not a valid ssh:// URL`, { hint: 'use ssh://[user@]host[:port]/path, e.g. ssh://git@github.com/org/repo' });
  }
  if (u.protocol !== 'ssh:') throw new ValidationError(`${field} '${url}' is not an ssh:// URL`);
  let host = u.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (!host) throw new ValidationError(`${field} '${url}' has no host`, { hint: 'use ssh://[user@]host[:port]/path' });
  const port = u.port ? Number(u.port) : 22;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new ValidationError(`${field} '${url}' has an invalid port`);
  let path: string;
  try {
    path = decodeURIComponent(u.pathname);
  } catch {
    throw new ValidationError(`${field} '${url}' has an invalid percent-encoding in its path`);
  }
  if (!path || path === '/') throw new ValidationError(`${field} '${url}' has no repository path`, { hint: 'e.g. ssh://git@github.com/org/repo' });
  if (u.search || u.hash) throw new ValidationError(`${field} '${url}' must not have a query or fragment`);
  // Like git's connect.c: ssh://host/~user/path is relative to a home directory.
  if (path.startsWith('/~')) path = path.slice(1);
  const user = u.username ? decodeURIComponent(u.username) : 'git';
  return { user, host, port, path };
}

/** Quotes `s` for the remote shell like git's sq_quote_buf: '...' with ' and ! escaped. */
export function gitShellQuote(s: string): string {
  return `'${s.replace(/['!]/g, (c) => `'\\${c}'`)}'`;
}

/** The command git runs on the server for a fetch from this path. */
export function uploadPackCommand(path: string): string {
  return `git-upload-pack ${gitShellQuote(path)}`;
}

/** `ssh://user@host[:port]/path` for messages (no secrets are ever in an SSH URL we keep). */
export function displaySshUrl(r: SshRemote): string {
  const host = r.host.includes(':') ? `[${r.host}]` : r.host;
  const path = r.path.startsWith('/') ? r.path : `/${r.path}`;
  return `ssh://${r.user}@${host}${r.port === 22 ? '' : `:${r.port}`}${path}`;
}
