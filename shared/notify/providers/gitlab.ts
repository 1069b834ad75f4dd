/**
 * `gitlab` (notifier/gitlab.go, GitLab's client-go): a commit status (`success` /
 * `failed`) named by the commit status id, unless the commit already has one with the same
 * name, status and description. `PRIVATE-TOKEN` auth; API at `<host>/api/v4/`; the project
 * is the address path (URL-encoded) or a numeric id.
 */
import { eventCommit, nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import { PermanentDeliveryError, statusDeliveryError } from '../errors.js';
import { goMarshal, S } from '../../util/gojson.js';
import { httpRequest, type Transport } from '../http.js';
import type { Notifier, ProviderOptions } from './common.js';
import { parseGitAddress } from './git-address.js';

/** Go's url.PathEscape, plus client-go's escaping of `.`. */
export function gitlabPathEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_~$&+:=@]/.test(c)) out += c;
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** A small GitLab v4 client as client-go sends requests. */
export interface GitLabClient {
  base: string;
  call<T>(method: string, path: string, body?: unknown, what?: string): Promise<T>;
}

/** `<host>/api/v4/`, client-go's base URL for a host. */
export function gitlabApiBase(host: string): string {
  const b = host.endsWith('/') ? host : `${host}/`;
  return b.endsWith('api/v4/') ? b : `${b}api/v4/`;
}

/** A client for a v4 API base (`https://gitlab.example.com/api/v4/`) with a private token. */
export function gitlabClient(o: { base: string; token: string; transport: Transport; signal?: AbortSignal }): GitLabClient {
  const base = o.base.endsWith('/') ? o.base : `${o.base}/`;
  return {
    base,
    async call<T>(method: string, path: string, body?: unknown, what?: string): Promise<T> {
      const headers: Record<string, string> = { Accept: 'application/json', 'User-Agent': 'go-gitlab', 'PRIVATE-TOKEN': o.token };
      if (method === 'POST' || method === 'PUT' || method === 'PATCH') headers['Content-Type'] = 'application/json';
      const url = base + path;
      const res = await httpRequest({ method, url, headers, body: body === undefined ? undefined : goMarshal(body), signal: o.signal }, o.transport);
      if (res.status < 200 || res.status >= 300) {
        throw statusDeliveryError(res.status, `${what ? `${what}: ` : ''}${method} ${url.split('?')[0]}: ${res.status} ${res.text()}`);
      }
      const text = res.text();
      return (text ? JSON.parse(text) : undefined) as T;
    },
  };
}

interface CommitStatus {
  sha?: string;
  status?: string;
  name?: string;
  description?: string;
}

/** A Provider's GitLab project: its escaped id and a client with the Provider's token. */
export function gitlabProject(o: ProviderOptions): { project: string; gl: GitLabClient } {
  const token = o.token || o.password;
  if (!token) throw new PermanentDeliveryError('gitlab token cannot be empty');
  const { host, id } = parseGitAddress(o.url);
  return { project: gitlabPathEscape(id), gl: gitlabClient({ base: gitlabApiBase(host), token, transport: o.transport, signal: o.signal }) };
}

/** The GitLab commit status notifier. */
export function gitlabNotifier(o: ProviderOptions): Notifier {
  const { project, gl } = gitlabProject(o);
  if (o.commitStatus === '') throw new PermanentDeliveryError('commit status cannot be empty');
  return async (e) => {
    if (e.reason === PROGRESSING_REASON) return false;
    const sha = eventCommit(e);
    const state = e.severity === 'error' ? 'failed' : 'success';
    const { description } = nameAndDescription(e);
    const q = new URLSearchParams({ name: o.commitStatus }).toString();
    const statuses = await gl.call<CommitStatus[]>('GET', `projects/${project}/repository/commits/${sha}/statuses?${q}`, undefined, 'unable to list commit status');
    if ((statuses ?? []).some((s) => s.sha === sha && s.status === state && s.description === description && s.name === o.commitStatus)) return false;
    await gl.call('POST', `projects/${project}/statuses/${sha}`, S([['state', state], ['name', o.commitStatus], ['description', description]]));
  };
}
