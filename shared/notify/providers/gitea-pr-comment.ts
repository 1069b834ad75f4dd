/**
 * `giteapullrequestcomment` (notifier/gitea_pull_request_comment.go): one comment per
 * object on the pull request named by the event's `change_request` metadata, found again by
 * its hidden marker among the first 100 comments posted by the token's user, and edited,
 * else created.
 */
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import { upsertComment } from './change-request-comment.js';
import type { Notifier, ProviderOptions } from './common.js';
import { giteaRepoClient } from './gitea.js';

interface Comment {
  id?: number;
  body?: string;
  user?: { login?: string } | null;
}

/** The Gitea pull request comment notifier. */
export function giteaPrCommentNotifier(o: ProviderOptions): Notifier {
  if (!o.providerUid) throw new PermanentDeliveryError('provider UID cannot be empty');
  const { owner, repo, call } = giteaRepoClient(o);
  return async (e) => {
    await call('GET', '/version', undefined, 'failed creating Gitea client');
    const me = await call<{ login?: string }>('GET', '/user', undefined, 'failed to get user info');
    const pr = changeRequestNumber(e);
    const comments = await call<Comment[]>('GET', `/repos/${owner}/${repo}/issues/${pr}/comments?limit=100&page=1`, undefined, 'failed to list pull request comments');
    await upsertComment(
      e,
      { prefix: 'flux-pr-comment-key', providerUid: o.providerUid, me: me?.login ?? '', comments: (comments ?? []).map((c) => ({ id: c.id, body: c.body, author: c.user ? (c.user.login ?? '') : undefined })) },
      {
        edit: (id, body) => call('PATCH', `/repos/${owner}/${repo}/issues/comments/${id}`, S([['body', body]]), 'failed to update pull request comment'),
        create: (body) => call('POST', `/repos/${owner}/${repo}/issues/${pr}/comments`, S([['body', body]]), 'failed to create pull request comment'),
      },
    );
  };
}
