/**
 * `bitbucket` (Bitbucket Cloud, notifier/bitbucket.go with ktrysmt/go-bitbucket): a build
 * status keyed by the SHA-1 of the commit status id, `SUCCESSFUL` / `FAILED`, unless the
 * existing one says the same. The token is `<user>:<app password>` (basic auth); the
 * address only gives owner and repository; the API is api.bitbucket.org (go-bitbucket
 * reads BITBUCKET_API_BASE_URL, and so does Fluxless).
 */
import { createHash } from 'node:crypto';
import { eventCommit, nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import { PermanentDeliveryError, statusDeliveryError } from '../errors.js';
import { goMarshal, S } from '../../util/gojson.js';
import { httpRequest } from '../http.js';
import type { Notifier, ProviderOptions } from './common.js';
import { parseGitAddress } from './git-address.js';
import { basicAuth } from '../../util/basic-auth.js';
import { trimEnd } from '../../util/trim.js';

/** Bitbucket Cloud's API. */
export const BITBUCKET_API = 'https://api.bitbucket.org/2.0';

/** The Bitbucket commit status notifier. */
export function bitbucketNotifier(o: ProviderOptions): Notifier {
  if (o.token === '') throw new PermanentDeliveryError('bitbucket token cannot be empty');
  if (o.commitStatus === '') throw new PermanentDeliveryError('commit status cannot be empty');
  const { id } = parseGitAddress(o.url);
  const cred = o.token.split(':');
  if (cred.length !== 2) throw new PermanentDeliveryError('invalid token format, expected to be <user>:<password>');
  const parts = id.split('/');
  if (parts.length !== 2) throw new PermanentDeliveryError(`invalid repository id "${id}"`);
  const base = trimEnd(o.endpoints.bitbucket ?? process.env.BITBUCKET_API_BASE_URL ?? BITBUCKET_API, '/');
  const auth = basicAuth(cred[0], cred[1]);
  const [owner, repo] = parts;
  return async (e) => {
    if (e.reason === PROGRESSING_REASON) return false;
    const sha = eventCommit(e);
    const state = e.severity === 'error' ? 'FAILED' : 'SUCCESSFUL';
    const { name, description } = nameAndDescription(e);
    const key = createHash('sha1').update(o.commitStatus).digest('hex');
    const statusUrl = `${base}/repositories/${owner}/${repo}/commit/${sha}/statuses/build`;
    const got = await httpRequest({ method: 'GET', url: `${statusUrl}/${key}`, headers: { Authorization: auth }, signal: o.signal }, o.transport);
    if (got.status !== 404 && (got.status < 200 || got.status >= 300)) {
      throw statusDeliveryError(got.status, `could not get commit status: ${got.status} ${got.text()}`);
    }
    if (got.status !== 404) {
      let cur: { state?: string; description?: string } = {};
      try {
        cur = JSON.parse(got.text()) as typeof cur;
      } catch {
        /* not a status: post ours */
      }
      if (cur.state === state && cur.description === description) return false;
    }
    const res = await httpRequest(
      { method: 'POST', url: statusUrl, headers: { Authorization: auth, 'Content-Type': 'application/json' }, body: goMarshal(S([['key', key], ['url', 'https://bitbucket.org'], ['state', state], ['name', name], ['description', description]])), signal: o.signal },
      o.transport,
    );
    if (res.status < 200 || res.status >= 300) {
      throw statusDeliveryError(res.status, `${res.status} ${res.text()}`);
    }
  };
}
