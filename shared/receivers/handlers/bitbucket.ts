/** `bitbucket` (Bitbucket Server / Data Center): X-Hub-Signature as GitHub; `spec.events` against `X-Event-Key`. */
import { filterEvent } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { hubSignedPayload, payloadDetails } from './common.js';

/** Verifies a Bitbucket Server webhook. */
export const bitbucket: ReceiverHandler = async (req, ctx) => {
  const signed = await hubSignedPayload(req, ctx.receiver.entry.token, 'Bitbucket');
  if (!signed.ok) return signed.verdict;
  const event = req.header('x-event-key') ?? '';
  if (event.toLowerCase() === 'diagnostics:ping') return { kind: 'ping', event: `Bitbucket ${event}` };
  const filtered = filterEvent(ctx.receiver, event, 'Bitbucket');
  if (filtered) return filtered;
  const deliveryId = req.header('x-request-id') ?? req.header('x-request-uuid');
  return { kind: 'accept', event, deliveryId, details: payloadDetails(signed.payload) };
};
