/**
 * `gitlabmergerequestcomment` (notifier/gitlab_merge_request_comment.go): one note per
 * object on the merge request named by the event's `change_request` metadata, found again
 * by its hidden marker among the first 100 notes (oldest first) written by the token's user,
 * and edited, else created. `PRIVATE-TOKEN` auth, API at `<host>/api/v4/`.
 */
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import type { Notifier, ProviderOptions } from './common.js';
import { parseGitAddress } from './git-address.js';
import { commentMarker, markdownPost } from './github-pr-comment.js';
import { gitlabApiBase, gitlabClient, gitlabPathEscape } from './gitlab.js';

interface Note {
  id?: number;
  body?: string;
  author?: { username?: string };
}

/** The GitLab merge request comment notifier. */
export function gitlabMrCommentNotifier(o: ProviderOptions): Notifier {
  if (!o.providerUid) throw new PermanentDeliveryError('provider UID cannot be empty');
  const token = o.token || o.password;
  if (!token) throw new PermanentDeliveryError('gitlab token cannot be empty');
  const { host, id } = parseGitAddress(o.url);
  const project = gitlabPathEscape(id);
  return async (e) => {
    const gl = gitlabClient({ base: gitlabApiBase(host), token, transport: o.transport, signal: o.signal });
    const user = await gl.call<{ username?: string }>('GET', 'user', undefined, 'failed to get authenticated user info');
    const marker = commentMarker('flux-mr-comment-key', o.providerUid, e);
    const body = `${marker}\n\n${markdownPost(e)}`;
    const mr = changeRequestNumber(e);
    const notes = await gl.call<Note[]>('GET', `projects/${project}/merge_requests/${mr}/notes?order_by=created_at&per_page=100&sort=asc`, undefined, 'failed to list merge request notes');
    const mine = (notes ?? []).find((n) => (n.author?.username ?? '') === (user?.username ?? '') && (n.body ?? '').includes(marker));
    if (mine?.id !== undefined) {
      await gl.call('PUT', `projects/${project}/merge_requests/${mr}/notes/${mine.id}`, S([['body', body]]), 'failed to update merge request note');
    } else {
      await gl.call('POST', `projects/${project}/merge_requests/${mr}/notes`, S([['body', body]]), 'failed to create merge request note');
    }
  };
}
