/**
 * `giteapullrequestcomment` (notifier/gitea_pull_request_comment.go): one comment per
 * object on the pull request named by the event's `change_request` metadata, found again by
 * its hidden marker among the first 100 comments posted by the token's user, and edited,
 * else created.
 */
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import type { Notifier, ProviderOptions } from './common.js';
import { giteaRepoClient } from './gitea.js';
import { commentMarker, markdownPost } from './github-pr-comment.js';

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
    const marker = commentMarker('flux-pr-comment-key', o.providerUid, e);
    const body = `${marker}\n\n${markdownPost(e)}`;
    const pr = changeRequestNumber(e);
    const comments = await call<Comment[]>('GET', `/repos/${owner}/${repo}/issues/${pr}/comments?limit=100&page=1`, undefined, 'failed to list pull request comments');
    const mine = (comments ?? []).find((c) => c.user && (c.user.login ?? '') === (me?.login ?? '') && (c.body ?? '').includes(marker));
    if (mine?.id !== undefined) {
      await call('PATCH', `/repos/${owner}/${repo}/issues/comments/${mine.id}`, S([['body', body]]), 'failed to update pull request comment');
    } else {
      await call('POST', `/repos/${owner}/${repo}/issues/${pr}/comments`, S([['body', body]]), 'failed to create pull request comment');
    }
  };
}
