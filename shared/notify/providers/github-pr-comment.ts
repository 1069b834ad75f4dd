/**
 * `githubpullrequestcomment` (notifier/github_pull_request_comment.go): one comment per
 * object on the pull request named by the event's `change_request` metadata, found again
 * by its hidden marker among the first 100 comments of the authenticated user (or App)
 * and edited, else created.
 */
import type { NotificationEvent } from '../event.js';
import { changeRequestNumber } from '../commit-status.js';
import { PermanentDeliveryError } from '../errors.js';
import { S } from '../../util/gojson.js';
import type { Notifier, ProviderOptions } from './common.js';
import { githubRepoClient } from './github-api.js';

/** The hidden marker of an object's comment. */
export function commentMarker(prefix: string, providerUid: string, e: NotificationEvent): string {
  return `<!-- ${prefix}:${providerUid}/${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name} -->`;
}

/** notifier/markdown.go formatMarkdownPost. */
export function markdownPost(e: NotificationEvent): string {
  const emoji = e.severity === 'error' ? '⚠️' : 'ℹ️';
  const id = `${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name}`;
  const keys = Object.keys(e.metadata ?? {})
    .filter((k) => k !== 'change_request')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = keys.map((k) => `* \`${k}\`: ${e.metadata![k]}\n`).join('');
  return `## Flux Status\n\n${emoji} ${id}\n\n${e.message}\n\nMetadata:\n${lines}`;
}

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
    const marker = commentMarker('flux-pr-comment-key', o.providerUid, e);
    const body = `${marker}\n\n${markdownPost(e)}`;
    const pr = changeRequestNumber(e);
    const comments = await gh.call<IssueComment[]>('GET', `repos/${gh.owner}/${gh.repo}/issues/${pr}/comments?direction=asc&per_page=100&sort=created`, undefined, 'failed to list pull request comments');
    const mine = (comments ?? []).find((c) => (c.user?.login ?? '') === login && (c.body ?? '').includes(marker));
    if (mine?.id !== undefined) {
      await gh.call('PATCH', `repos/${gh.owner}/${gh.repo}/issues/comments/${mine.id}`, S([['body', body]]), 'failed to update pull request comment');
    } else {
      await gh.call('POST', `repos/${gh.owner}/${gh.repo}/issues/${pr}/comments`, S([['body', body]]), 'failed to create pull request comment');
    }
  };
}
