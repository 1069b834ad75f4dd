/**
 * `gitlab`: `X-Gitlab-Token` equals the token; `spec.events` against `X-Gitlab-Event`. A
 * `Merge Request Hook` that brings new commits (open, reopen, update with `oldrev`) also
 * asks for a preview of the merge request (shared/preview).
 */
import { filterEvent, reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { isObject } from '../payload.js';
import { safeEqual } from '../signature.js';
import { gitlabPreviewRequest, previewAllowed } from '../../preview/request.js';

/** Verifies the GitLab token header. */
export const gitlab: ReceiverHandler = (req, ctx) => {
  const token = ctx.receiver.entry.token;
  const given = req.header('x-gitlab-token');
  if (given === undefined) return reject(401, 'the X-Gitlab-Token header is missing');
  if (token === '' || !safeEqual(given, token)) return reject(401, 'the X-Gitlab-Token header value does not match the receiver token');
  const event = req.header('x-gitlab-event') ?? '';
  const filtered = filterEvent(ctx.receiver, event, 'GitLab');
  if (filtered) return filtered;
  // Idempotency-Key (GitLab 17.4+) stays the same across retries; X-Gitlab-Event-UUID otherwise.
  const deliveryId = req.header('idempotency-key') ?? req.header('x-gitlab-event-uuid');
  if (event.toLowerCase() === 'merge request hook') {
    let payload: unknown;
    try {
      payload = JSON.parse(req.text() ?? '');
    } catch {
      payload = undefined; // Flux does not read the body: a body that is not JSON only means no preview
    }
    const preview = isObject(payload) ? gitlabPreviewRequest(payload) : undefined;
    if (preview && !previewAllowed(preview, ctx.receiver.entry.secret)) {
      return { kind: 'accept', event, deliveryId, details: { repository: preview.repository, mergeRequest: String(preview.number), preview: 'skipped: the merge request comes from a fork (set previewForks in the Receiver Secret)' } };
    }
    if (preview) return { kind: 'accept', event, deliveryId, details: { repository: preview.repository, mergeRequest: String(preview.number), commit: preview.headSha }, preview };
  }
  return { kind: 'accept', event, deliveryId };
};
