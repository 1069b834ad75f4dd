/**
 * How the preview reaches the Git host's API (to post the check run or the merge request
 * note), from the Receiver's Secret first, then the GitRepository's:
 * - the API base: the Receiver Secret's `apiURL`, else derived from the GitRepository URL
 *   (github.com -> https://api.github.com/, other hosts `<host>/api/v3/` for GitHub
 *   Enterprise, `<host>/api/v4/` for GitLab);
 * - GitHub: a GitHub App (`githubAppID`, `githubAppInstallationID` or
 *   `githubAppInstallationOwner`, `githubAppPrivateKey`, optional `githubAppBaseURL`;
 *   check runs need an App installation token with Checks: write), else `apiToken`
 *   (Receiver Secret), else the GitRepository Secret's `bearerToken` or `password`;
 * - GitLab: `apiToken`, else the GitRepository Secret's `password` or `bearerToken`
 *   (a token with the `api` scope).
 */
import type { PreviewRequest } from '../queue/message.js';
import { PermanentDeliveryError } from '../notify/errors.js';
import type { Transport } from '../notify/http.js';
import { parseGitAddress } from '../notify/providers/git-address.js';
import { githubApiBase, githubAppKeys, githubAppToken } from '../notify/providers/github-api.js';
import { gitlabApiBase } from '../notify/providers/gitlab.js';
import type { PreviewSource } from './sources.js';

/** The API of the pull request's host. */
export interface ApiAccess {
  host: PreviewRequest['host'];
  /** With a trailing slash. */
  baseUrl: string;
  token: string;
  transport: Transport;
}

function withSlash(u: string): string {
  return u.endsWith('/') ? u : `${u}/`;
}

/** The API base and token for `req`, from the Receiver's Secret and the source's. */
export async function apiAccess(receiverSecret: Readonly<Record<string, string>>, src: PreviewSource, req: PreviewRequest, signal?: AbortSignal): Promise<ApiAccess> {
  const transport: Transport = receiverSecret['ca.crt'] ? { tls: { ca: receiverSecret['ca.crt'] } } : {};
  let host: string;
  try {
    host = parseGitAddress(src.spec.url).host;
  } catch {
    host = '';
  }
  if (req.host === 'gitlab') {
    const baseUrl = receiverSecret.apiURL ? withSlash(receiverSecret.apiURL.trim()) : host ? gitlabApiBase(host) : '';
    const token = receiverSecret.apiToken ?? src.secret.password ?? src.secret.bearerToken ?? '';
    if (!baseUrl) throw new PermanentDeliveryError(`cannot tell the GitLab API of ${src.spec.url}: set apiURL in the Receiver's Secret`);
    if (!token) throw new PermanentDeliveryError('no GitLab API token for the preview: set apiToken in the Receiver\'s Secret (a token with the api scope)');
    return { host: 'gitlab', baseUrl, token: token.trim(), transport };
  }
  const baseUrl = receiverSecret.apiURL ? withSlash(receiverSecret.apiURL.trim()) : host ? githubApiBase(host) : '';
  if (!baseUrl) throw new PermanentDeliveryError(`cannot tell the GitHub API of ${src.spec.url}: set apiURL in the Receiver's Secret`);
  const app = githubAppKeys(receiverSecret) ?? (receiverSecret.apiToken ? undefined : githubAppKeys(src.secret));
  if (app) {
    const keys = { ...app, baseUrl: app.baseUrl ?? receiverSecret.apiURL ?? (baseUrl === 'https://api.github.com/' ? undefined : baseUrl) };
    return { host: 'github', baseUrl, token: (await githubAppToken(keys, { transport, signal })).token, transport };
  }
  const token = receiverSecret.apiToken ?? src.secret.bearerToken ?? src.secret.password ?? '';
  if (!token) throw new PermanentDeliveryError("no GitHub API credentials for the preview: give the Receiver's Secret GitHub App keys (githubAppID, githubAppInstallationID, githubAppPrivateKey) or apiToken");
  return { host: 'github', baseUrl, token: token.trim(), transport };
}
