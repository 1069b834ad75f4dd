/**
 * `gitlabmergerequestcomment` (notifier/gitlab_merge_request_comment.go): one note per
 * object on the merge request named by the event's `change_request` metadata, found again
 * by its hidden marker among the first 100 notes (oldest first) written by the token's user,
 * and edited, else created. `PRIVATE-TOKEN` auth, API at `<host>/api/v4/`.
 */
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import { upsertComment } from './change-request-comment.js';
import type { Notifier, ProviderOptions } from './common.js';
import { gitlabProject } from './gitlab.js';

interface Note {
  id?: number;
  body?: string;
  author?: { username?: string };
}

/** The GitLab merge request comment notifier. */
export function gitlabMrCommentNotifier(o: ProviderOptions): Notifier {
  if (!o.providerUid) throw new PermanentDeliveryError('provider UID cannot be empty');
  const { project, gl } = gitlabProject(o);
  return async (e) => {
    const user = await gl.call<{ username?: string }>('GET', 'user', undefined, 'failed to get authenticated user info');
    const mr = changeRequestNumber(e);
    const notes = await gl.call<Note[]>('GET', `projects/${project}/merge_requests/${mr}/notes?order_by=created_at&per_page=100&sort=asc`, undefined, 'failed to list merge request notes');
    await upsertComment(
      e,
      { prefix: 'flux-mr-comment-key', providerUid: o.providerUid, me: user?.username ?? '', comments: (notes ?? []).map((n) => ({ id: n.id, body: n.body, author: n.author?.username ?? '' })) },
      {
        edit: (id, body) => gl.call('PUT', `projects/${project}/merge_requests/${mr}/notes/${id}`, S([['body', body]]), 'failed to update merge request note'),
        create: (body) => gl.call('POST', `projects/${project}/merge_requests/${mr}/notes`, S([['body', body]]), 'failed to create merge request note'),
      },
    );
  };
}
