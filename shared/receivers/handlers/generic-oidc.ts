/** `generic-oidc` (Flux 2.9): `Authorization: Bearer <ID token>` verified against `spec.oidcProviders` (see oidc.ts). */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';

/** Verifies the bearer token; its claims feed the CEL filters as `claims`. */
export const genericOidc: ReceiverHandler = async (req, ctx) => {
  const check = await ctx.oidc.verify(req.header('authorization'), ctx.receiver.entry.spec.oidcProviders ?? []);
  if (!check.ok) return reject(check.status, check.reason);
  const details: Record<string, string> = {};
  if (typeof check.claims.sub === 'string') details.subject = check.claims.sub;
  if (typeof check.claims.iss === 'string') details.issuer = check.claims.iss;
  // No de-duplication by `jti`: a caller may use one token for several calls while it is valid.
  return { kind: 'accept', claims: check.claims, details };
};
