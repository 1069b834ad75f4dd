/** `generic-hmac`: `X-Signature: <algo>=<hex>` HMAC of the raw body with the token (Flux uses go-github ValidateSignature). */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { verifyHmacSignature } from '../signature.js';

/** Verifies X-Signature. */
export const genericHmac: ReceiverHandler = async (req, ctx) => {
  const sig = await verifyHmacSignature(req.header('x-signature'), req.body, undefined, ctx.receiver.entry.token);
  if (!sig.ok) return reject(401, `unable to validate HMAC signature: ${sig.reason}`);
  return { kind: 'accept' };
};
