/**
 * `bitbucketserver` (notifier/bitbucketserver.go): a build status on the commit in Bitbucket
 * Server / Data Center, through `<context>/rest/api/latest/projects/<key>/repos/<slug>/commits/
 * <sha>/builds`, the project and repository taken from the HTTP(S) clone URL (`.../scm/<key>/
 * <slug>.git`). Keyed by the SHA-1 of the commit status id, `SUCCESSFUL` / `FAILED`, named
 * `<kind>/<name> [<reason in words>]`; not posted again when the existing status says the
 * same. A token is sent as a bearer token, else username and password as basic auth. Flux's
 * client has TLS settings but no proxy.
 */
import { createHash } from 'node:crypto';
import { eventRevision, commitHash, nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import { PermanentDeliveryError, statusDeliveryError } from '../errors.js';
import { goJsonEncode, S } from '../../util/gojson.js';
import { errorMessage } from '../../util/errors.js';
import { httpRequest } from '../http.js';
import type { Notifier, ProviderOptions } from './common.js';
import { basicAuth } from '../../util/basic-auth.js';

/** Go's http.StatusText for the answers a status API gives. */
const STATUS_TEXT: Readonly<Record<number, string>> = {
  400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 405: 'Method Not Allowed', 409: 'Conflict',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout',
};

/** The commits endpoint of a clone URL (parseBitbucketServerGitAddress). */
export function bitbucketServerCommitsUrl(address: string): string {
  let u: URL;
  try {
    u = new URL(address);
  } catch (err) {
    throw new PermanentDeliveryError(`could not parse git address: ${errorMessage(err)}`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new PermanentDeliveryError(`could not parse git address: unsupported scheme type in address: ${scheme}. Must be http or https`);
  const idWithContext = u.pathname.replace(/\.git$/, '');
  const i = idWithContext.lastIndexOf('/scm/');
  if (i < 0) throw new PermanentDeliveryError('could not parse git address: supplied provider address is not http(s) git clone url');
  const id = idWithContext.slice(i + '/scm/'.length);
  const comp = id.split('/');
  if (comp.length !== 2) throw new PermanentDeliveryError(`could not parse git address: invalid repository id ${JSON.stringify(id)}`);
  return `${u.protocol}//${u.host}${idWithContext.slice(0, i)}/rest/api/latest/projects/${comp[0]}/repos/${comp[1]}/commits`;
}

/** The Bitbucket Server build status notifier. */
export function bitbucketServerNotifier(o: ProviderOptions): Notifier {
  const commits = bitbucketServerCommitsUrl(o.url);
  if (o.commitStatus === '') throw new PermanentDeliveryError('commit status cannot be empty');
  if (!o.token && (!o.username || !o.password)) throw new PermanentDeliveryError('invalid credentials, expected to be one of username/password or API Token');
  const headers: Record<string, string> = {
    Authorization: o.token ? `Bearer ${o.token}` : basicAuth(o.username, o.password),
    'x-atlassian-token': 'no-check',
    'x-requested-with': 'XMLHttpRequest',
  };
  const transport = { tls: o.transport.tls };
  return async (e) => {
    if (e.reason === PROGRESSING_REASON) return false;
    const rev = eventRevision(e);
    if (rev === undefined) throw new PermanentDeliveryError('missing revision metadata');
    let sha: string;
    try {
      sha = commitHash(rev);
    } catch (err) {
      throw new PermanentDeliveryError(`could not parse revision: ${errorMessage(err)}`);
    }
    const state = e.severity === 'error' ? 'FAILED' : 'SUCCESSFUL';
    const { name: objName, description } = nameAndDescription(e);
    const name = `${objName} [${description}]`;
    const key = createHash('sha1').update(o.commitStatus).digest('hex');
    const builds = `${commits}/${sha}/builds`;
    const got = await httpRequest({ method: 'GET', url: `${builds}?key=${key}`, headers, signal: o.signal }, transport);
    if (got.status > 399 && got.status !== 404) {
      throw statusDeliveryError(got.status, `could not get existing commit status: failed api call to check duplicate commit status: ${got.status} - ${STATUS_TEXT[got.status] ?? ''}`);
    }
    if (got.status === 200) {
      let cur: { key?: string; state?: string; description?: string; name?: string };
      try {
        cur = JSON.parse(got.text()) as typeof cur;
      } catch (err) {
        throw new PermanentDeliveryError(`could not get existing commit status: could not unmarshal json response body for duplicate commit status: ${errorMessage(err)}`);
      }
      if (cur.key === key && cur.state === state && cur.description === description && cur.name === name) return false;
    }
    const body = goJsonEncode(S([['description', description], ['key', key], ['name', name], ['state', state], ['url', o.url]]));
    const res = await httpRequest({ method: 'POST', url: builds, headers: { ...headers, 'Content-Type': 'application/json' }, body, signal: o.signal }, transport);
    if (res.status > 399) throw statusDeliveryError(res.status, `could not post build status: could not post build commit status: ${res.status} - ${STATUS_TEXT[res.status] ?? ''}`);
  };
}
