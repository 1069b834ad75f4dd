/**
 * `acr` (Azure Container Registry webhooks): no authentication beyond the secret path
 * (Flux). The payload must decode (`action`, `target.repository`, `target.tag`; else 400);
 * the registry host is `request.host`.
 */
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import { artifactFromReference } from '../images.js';
import type { RegistryArtifact } from '../images.js';
import { objectAt, parseJsonObject, stringAt, wrongType } from '../payload.js';
import { artifactDetails } from './common.js';

/** Decodes an ACR webhook. */
export const acr: ReceiverHandler = (req) => {
  const p = parseJsonObject(req.text(), 'ACR');
  if (typeof p === 'string') return reject(400, `cannot decode ACR webhook payload: ${p}`);
  const target = objectAt(p, 'target');
  const bad = wrongType(p, 'action', 'string') ?? wrongType(p, 'target', 'object')
    ?? (target && (wrongType(target, 'repository', 'string') ?? wrongType(target, 'tag', 'string')));
  if (bad) return reject(400, `cannot decode ACR webhook payload: ${bad}`);

  const repository = stringAt(target, 'repository');
  const host = stringAt(objectAt(p, 'request'), 'host');
  const artifacts: RegistryArtifact[] = [];
  if (repository !== undefined) {
    const a = artifactFromReference(host ? `${host}/${repository}` : repository, {
      tag: stringAt(target, 'tag'),
      digest: stringAt(target, 'digest'),
      action: stringAt(p, 'action'),
      mediaType: stringAt(target, 'mediaType'),
      defaultHost: '',
    });
    if (a) artifacts.push(a);
  }
  return { kind: 'accept', deliveryId: stringAt(p, 'id'), artifacts, details: artifactDetails(artifacts) };
};
