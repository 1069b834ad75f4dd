/** `gitlab`: `X-Gitlab-Token` equals the token; `spec.events` against `X-Gitlab-Event`. */
import { filterEvent, reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { safeEqual } from '../signature.js';

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
  return { kind: 'accept', event, deliveryId };
};
