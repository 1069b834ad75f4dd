/**
 * `distribution` (Fluxless, not Flux): the CNCF distribution registry's own notifications
 * (docker-registry; Harbor's and GitLab's registries are built on it). Configure an
 * endpoint in the registry's config.yml with `headers: {Authorization: ["Bearer <token>"]}`:
 * that header is the authentication (constant-time compare). The body is the envelope
 * `{"events": [...]}` (media type application/vnd.docker.distribution.events.v1+json up to
 * distribution 2.8, v2+json from 3.0; the envelope is the same).
 *
 * Only manifest events count (blob uploads are `push` events too), and by default only
 * `push`; list other actions (`delete`, `mount`, `pull`) in `spec.events` to act on them.
 * An envelope with nothing that counts is answered 200 `ignored` (a non-2xx answer makes
 * the registry retry and hold back its later events). The CEL filters see the envelope as
 * `req`.
 */
import { createHash } from 'node:crypto';
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { arrayAt, isObject, mediaType, objectAt, parseJsonObject, stringAt } from '../payload.js';
import { safeEqual } from '../signature.js';
import { artifactDetails } from './common.js';

/** The envelope media types of distribution's notifications (2.x, 3.x). */
export const DISTRIBUTION_EVENTS_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.events.v1+json',
  'application/vnd.docker.distribution.events.v2+json',
  'application/json',
]);

/** Manifest and index media types: the events about an image or artifact version. */
export const MANIFEST_MEDIA_TYPES: ReadonlySet<string> = new Set([
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.artifact.manifest.v1+json',
]);

/** Verifies and decodes a distribution notification envelope. */
export const distribution: ReceiverHandler = (req, ctx) => {
  const given = req.header('authorization');
  if (given === undefined) {
    return reject(401, 'the Authorization header is missing: set notifications.endpoints[].headers.Authorization to ["Bearer <token>"] in the registry config');
  }
  if (!safeEqual(given, `Bearer ${ctx.receiver.entry.token}`)) return reject(401, 'the Authorization header does not match "Bearer <receiver token>"');

  const type = mediaType(req.header('content-type'));
  if (!DISTRIBUTION_EVENTS_MEDIA_TYPES.has(type)) {
    return reject(400, `unsupported Content-Type ${JSON.stringify(req.header('content-type') ?? '')}: expected application/vnd.docker.distribution.events.v1+json or v2+json`);
  }
  const envelope = parseJsonObject(req.text(), 'registry notification');
  if (typeof envelope === 'string') return reject(400, envelope);
  const events = arrayAt(envelope, 'events');
  if (events === undefined) return reject(400, 'the registry notification has no "events" list');

  const wanted = ctx.receiver.events ?? new Set(['push']);
  const artifacts: RegistryArtifact[] = [];
  const ids: string[] = [];
  for (const ev of events) {
    if (!isObject(ev)) continue;
    const action = (stringAt(ev, 'action') ?? '').toLowerCase();
    if (!wanted.has(action)) continue;
    const target = objectAt(ev, 'target');
    const repository = stringAt(target, 'repository');
    if (repository === undefined) continue;
    const media = stringAt(target, 'mediaType');
    // Deletes carry only the repository and a digest or tag; everything else must be a manifest.
    if (action !== 'delete' && (media === undefined || !MANIFEST_MEDIA_TYPES.has(media))) continue;
    const host = stringAt(objectAt(ev, 'request'), 'host');
    const a = artifactFromReference(host ? `${host}/${repository}` : repository, {
      tag: stringAt(target, 'tag'),
      digest: stringAt(target, 'digest'),
      action,
      mediaType: media,
      defaultHost: '',
    });
    if (!a) continue;
    artifacts.push(a);
    ids.push(stringAt(ev, 'id') ?? JSON.stringify(a));
  }
  if (artifacts.length === 0) {
    return { kind: 'ignored', reason: `no ${[...wanted].join('/')} event for a manifest in the notification (${events.length} event(s))` };
  }
  // The registry resends the same envelope after a failure: its event ids identify the delivery.
  const deliveryId = `distribution-${createHash('sha256').update(ids.join('\n')).digest('hex').slice(0, 32)}`;
  return { kind: 'accept', event: artifacts[0].action, deliveryId, artifacts, filterBody: envelope, details: artifactDetails(artifacts) };
};
