/**
 * `githubpullrequestcomment` (notifier/github_pull_request_comment.go): one comment per
 * object on the pull request named by the event's `change_request` metadata, found again
 * by its hidden marker among the first 100 comments of the authenticated user (or App)
 * and edited, else created.
 */
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import { upsertComment } from './change-request-comment.js';
import type { Notifier, ProviderOptions } from './common.js';
import { githubRepoClient } from './github-api.js';

interface IssueComment {
  id?: number;
  body?: string;
  user?: { login?: string };
}

/** The GitHub pull request comment notifier. */
export function githubPrCommentNotifier(o: ProviderOptions): Notifier {
  if (!o.providerUid) throw new PermanentDeliveryError('provider UID cannot be empty');
  return async (e) => {
    const gh = await githubRepoClient({ address: o.url, token: o.token, password: o.password, secretData: o.secretData, transport: o.transport, signal: o.signal, slug: true });
    const login = gh.appSlug ? `${gh.appSlug}[bot]` : (await gh.call<{ login?: string }>('GET', 'user', undefined, 'failed to get authenticated user info')).login ?? '';
    const pr = changeRequestNumber(e);
    const comments = await gh.call<IssueComment[]>('GET', `repos/${gh.owner}/${gh.repo}/issues/${pr}/comments?direction=asc&per_page=100&sort=created`, undefined, 'failed to list pull request comments');
    await upsertComment(
      e,
      { prefix: 'flux-pr-comment-key', providerUid: o.providerUid, me: login, comments: (comments ?? []).map((c) => ({ id: c.id, body: c.body, author: c.user?.login ?? '' })) },
      {
        edit: (id, body) => gh.call('PATCH', `repos/${gh.owner}/${gh.repo}/issues/comments/${id}`, S([['body', body]]), 'failed to update pull request comment'),
        create: (body) => gh.call('POST', `repos/${gh.owner}/${gh.repo}/issues/${pr}/comments`, S([['body', body]]), 'failed to create pull request comment'),
      },
    );
  };
}
