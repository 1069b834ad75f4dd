/**
 * `gitea` (notifier/gitea.go, Gitea's Go SDK): a commit status (`pending` for
 * Progressing, else `success` / `failure`), unless the first status with this context
 * already says the same. `Authorization: token <t>`; API at `<host>/api/v1`; the SDK asks
 * the server for its version when the client is made.
 */
import { eventCommit, nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import { PermanentDeliveryError, statusDeliveryError } from '../errors.js';
import { goMarshal, S } from '../../util/gojson.js';
import { httpRequest } from '../http.js';
import type { Notifier, ProviderOptions } from './common.js';
import { parseGitAddress } from './git-address.js';
import { trimEnd } from '../../util/trim.js';

interface GiteaStatus {
  status?: string;
  description?: string;
  context?: string;
}

/** A small Gitea API client as the Go SDK sends requests (`Authorization: token <t>`). */
export interface GiteaRepoClient {
  /** The repository's owner and name, path-escaped. */
  owner: string;
  repo: string;
  /** One call relative to `<host>/api/v1`; non-2xx answers throw `<what>: <status> <body>`. */
  call<T>(method: string, path: string, body?: unknown, what?: string): Promise<T>;
}

/** The client for a Provider's repository address and token (or password). */
export function giteaRepoClient(o: ProviderOptions): GiteaRepoClient {
  const token = o.token || o.password;
  if (!token) throw new PermanentDeliveryError('gitea token cannot be empty');
  const { host, id } = parseGitAddress(o.url);
  const parts = id.split('/');
  if (parts.length !== 2) throw new PermanentDeliveryError(`invalid repository id "${id}"`);
  const [owner, repo] = parts.map((p) => encodeURIComponent(p));
  const api = `${trimEnd(host, '/')}/api/v1`;
  const call = async <T>(method: string, path: string, body?: unknown, what?: string): Promise<T> => {
    const res = await httpRequest({ method, url: api + path, headers: { Authorization: `token ${token}`, 'Content-Type': 'application/json' }, body: body === undefined ? undefined : goMarshal(body), signal: o.signal }, o.transport);
    if (res.status < 200 || res.status >= 300) {
      throw statusDeliveryError(res.status, `${what ? `${what}: ` : ''}${res.status} ${res.text()}`);
    }
    const text = res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  };
  return { owner: owner!, repo: repo!, call };
}

/** The Gitea commit status notifier. */
export function giteaNotifier(o: ProviderOptions): Notifier {
  if (o.commitStatus === '') throw new PermanentDeliveryError('commit status cannot be empty');
  const { owner, repo, call } = giteaRepoClient(o);
  return async (e) => {
    await call('GET', '/version', undefined, 'failed creating Gitea client');
    const sha = eventCommit(e);
    const state = e.reason === PROGRESSING_REASON ? 'pending' : e.severity === 'error' ? 'failure' : 'success';
    const { description } = nameAndDescription(e);
    const statuses = await call<GiteaStatus[]>('GET', `/repos/${owner}/${repo}/commits/${sha}/statuses?limit=50&page=1`, undefined, 'could not list commit statuses');
    const same = (statuses ?? []).find((s) => s.context && s.status && s.description && s.context === o.commitStatus);
    if (same && same.status === state && same.description === description) return false;
    await call('POST', `/repos/${owner}/${repo}/statuses/${sha}`, S([['state', state], ['target_url', ''], ['description', description], ['context', o.commitStatus]]));
  };
}
