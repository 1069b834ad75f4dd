/**
 * What the pull/merge request comment notifiers share (notifier/git_change_request_comment.go
 * and markdown.go): the Markdown post of an event, the hidden marker that finds an object's
 * comment again, and "edit the comment with the marker written by us, else create one".
 */
import type { NotificationEvent } from '../event.js';

/** notifier/markdown.go formatMarkdownPost (also the content zulip posts). */
export function markdownPost(e: NotificationEvent): string {
  const emoji = e.severity === 'error' ? '⚠️' : 'ℹ️';
  const id = `${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name}`;
  const keys = Object.keys(e.metadata ?? {})
    .filter((k) => k !== 'change_request')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines = keys.map((k) => `* \`${k}\`: ${e.metadata![k]}\n`).join('');
  return `## Flux Status\n\n${emoji} ${id}\n\n${e.message}\n\nMetadata:\n${lines}`;
}

/** The hidden marker of an object's comment (`<prefix>` is `flux-pr-comment-key` or `flux-mr-comment-key`). */
export function commentMarker(prefix: string, providerUid: string, e: NotificationEvent): string {
  return `<!-- ${prefix}:${providerUid}/${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name} -->`;
}

/** One comment as a forge lists it: its id, body and author (undefined: none, never ours). */
export interface ForgeComment {
  id?: number;
  body?: string;
  author: string | undefined;
}

/**
 * Posts the event's comment: the marker, then the Markdown post. The first of `comments` by
 * `me` that holds the marker is edited, else a comment is created.
 */
export async function upsertComment(
  e: NotificationEvent,
  o: { prefix: string; providerUid: string; me: string; comments: readonly ForgeComment[] },
  write: { edit(id: number, body: string): Promise<unknown>; create(body: string): Promise<unknown> },
): Promise<void> {
  const marker = commentMarker(o.prefix, o.providerUid, e);
  const body = `${marker}\n\n${markdownPost(e)}`;
  const mine = o.comments.find((c) => c.author === o.me && (c.body ?? '').includes(marker));
  if (mine?.id !== undefined) await write.edit(mine.id, body);
  else await write.create(body);
}
