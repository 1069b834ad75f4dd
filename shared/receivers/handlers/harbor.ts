/**
 * `harbor`: the `Authorization` header must equal the token byte for byte (Harbor's "Auth
 * Header" setting; Flux compares the whole value, so `Bearer <token>` only matches a token
 * that includes `Bearer `). Flux does not parse the body; the images of a
 * `PUSH_ARTIFACT` event are read when present, a body that is not JSON is still accepted.
 */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { arrayAt, objectAt, parseJsonObject, stringAt } from '../payload.js';
import { safeEqual } from '../signature.js';
import { artifactDetails } from './common.js';

/** Verifies Harbor's Authorization header. */
export const harbor: ReceiverHandler = (req, ctx) => {
  const given = req.header('authorization');
  if (given === undefined) return reject(401, 'the Authorization header is missing (set the webhook "Auth Header" in Harbor to the receiver token)');
  if (!safeEqual(given, ctx.receiver.entry.token)) return reject(401, 'the Harbor Authorization header value does not match the receiver token');

  const artifacts: RegistryArtifact[] = [];
  const p = parseJsonObject(req.text(), 'Harbor');
  if (typeof p !== 'string') {
    const data = objectAt(p, 'event_data');
    const action = stringAt(p, 'type');
    const repoName = stringAt(objectAt(data, 'repository'), 'repo_full_name');
    for (const r of arrayAt(data, 'resources') ?? []) {
      const url = stringAt(r, 'resource_url');
      const a = artifactFromReference(url ?? repoName ?? '', { tag: stringAt(r, 'tag'), digest: stringAt(r, 'digest'), action, defaultHost: '' });
      if (a) artifacts.push(a);
    }
  }
  return { kind: 'accept', artifacts, details: artifactDetails(artifacts) };
};
