/**
 * `quay`: no authentication beyond the secret path (Flux). A Repository Push notification
 * must decode (`docker_url`, `updated_tags`; else 400); one artifact per updated tag.
 */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { arrayAt, parseJsonObject, stringAt, wrongType } from '../payload.js';
import { artifactDetails } from './common.js';

/** Decodes a Quay repository push notification. */
export const quay: ReceiverHandler = (req) => {
  const p = parseJsonObject(req.text(), 'Quay');
  if (typeof p === 'string') return reject(400, `cannot decode Quay webhook payload: ${p}`);
  const bad = wrongType(p, 'docker_url', 'string') ?? wrongType(p, 'updated_tags', 'array');
  if (bad) return reject(400, `cannot decode Quay webhook payload: ${bad}`);
  const tags = arrayAt(p, 'updated_tags') ?? [];
  if (tags.some((t) => typeof t !== 'string')) return reject(400, 'cannot decode Quay webhook payload: updated_tags must be a list of strings');

  const url = stringAt(p, 'docker_url');
  const artifacts: RegistryArtifact[] = [];
  if (url !== undefined) {
    for (const tag of tags.length > 0 ? (tags as string[]) : [undefined]) {
      const a = artifactFromReference(url, { tag, action: 'push', defaultHost: 'quay.io' });
      if (a) artifacts.push(a);
    }
  }
  return { kind: 'accept', artifacts, details: artifactDetails(artifacts) };
};
