/**
 * `gcr` (Google Container Registry / Artifact Registry through a Pub/Sub push
 * subscription), as in Flux 2.9: the Secret must hold `email` and `audience` besides
 * `token`; `Authorization: Bearer <Google ID token>` must verify (see oidc.ts); the
 * Pub/Sub envelope's base64 `message.data` decodes to `{action, digest, tag}`, which is
 * what the CEL filters see as `req`.
 */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { isObject, objectAt, parseJsonObject, stringAt } from '../payload.js';
import { artifactDetails } from './common.js';

/** Authenticates and unwraps a Pub/Sub push of a GCR / Artifact Registry notification. */
export const gcr: ReceiverHandler = async (req, ctx) => {
  const { entry } = ctx.receiver;
  const secretName = `${entry.namespace}/${entry.spec.secretRef.name}`;
  const email = entry.secret?.email ?? '';
  if (email === '') {
    return reject(400, `invalid secret data: Secret ${secretName} needs the key 'email' (the service account of the Pub/Sub push subscription) for a gcr Receiver`);
  }
  const audience = entry.secret?.audience ?? '';
  if (audience === '') {
    return reject(400, `invalid secret data: Secret ${secretName} needs the key 'audience' (the push subscription's OIDC audience) for a gcr Receiver`);
  }
  const auth = await ctx.google.verify(req.header('authorization'), email, audience);
  if (!auth.ok) return reject(auth.status, `cannot authenticate GCR request: ${auth.reason}`, auth.detail);

  const p = parseJsonObject(req.text(), 'GCR');
  if (typeof p === 'string') return reject(400, `cannot decode GCR webhook payload: ${p}`);
  const message = objectAt(p, 'message');
  const data = stringAt(message, 'data') ?? '';
  // Flux ignores a base64 error; the empty result then fails to decode as JSON.
  const raw = /^[A-Za-z0-9+/]*={0,2}$/.test(data) ? Buffer.from(data, 'base64').toString('utf8') : '';
  let inner: unknown;
  try {
    inner = JSON.parse(raw);
  } catch {
    return reject(400, 'cannot decode GCR webhook body: message.data is not base64-encoded JSON');
  }
  if (!isObject(inner)) return reject(400, 'cannot decode GCR webhook body: message.data must hold a JSON object');
  const filterBody = { action: str(inner.action), digest: str(inner.digest), tag: str(inner.tag) };
  if (filterBody.action === undefined || filterBody.digest === undefined || filterBody.tag === undefined) {
    return reject(400, 'cannot decode GCR webhook body: action, digest and tag must be strings');
  }

  const artifacts: RegistryArtifact[] = [];
  // tag: "gcr.io/project/image:1.1", digest: "gcr.io/project/image@sha256:..."
  const ref = filterBody.tag || filterBody.digest;
  if (ref) {
    const digestRef = filterBody.digest ? artifactFromReference(filterBody.digest, { defaultHost: '' }) : undefined;
    const a = artifactFromReference(ref, { digest: digestRef?.digest, action: filterBody.action || undefined, defaultHost: '' });
    if (a) artifacts.push(a);
  }
  return {
    kind: 'accept',
    deliveryId: stringAt(message, 'messageId') ?? stringAt(message, 'message_id'),
    artifacts,
    filterBody,
    details: artifactDetails(artifacts),
  };
};

/** A string field as Go's decoder reads it into a string: missing is "", another type is undefined (an error). */
function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : undefined;
}
