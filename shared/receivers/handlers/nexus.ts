/**
 * `nexus` (Sonatype Nexus Repository webhooks): `X-Nexus-Webhook-Signature` must be the
 * lowercase hex HMAC-SHA1 of the raw body with the token (constant-time); a missing
 * header is refused. The payload must decode (`action`, `repositoryName`; else 400). For
 * a docker component, the image is `component.name` and the tag `component.version`;
 * Nexus does not say on which host its docker connector listens.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { reject } from '../handler.js';
import type { ReceiverHandler } from '../handler.js';
import type { RegistryArtifact } from '../images.js';
import { objectAt, parseJsonObject, stringAt, wrongType } from '../payload.js';
import { artifactDetails } from './common.js';

/** Verifies the Nexus HMAC-SHA1 signature. */
export const nexus: ReceiverHandler = (req, ctx) => {
  const signature = req.header('x-nexus-webhook-signature');
  if (signature === undefined) return reject(401, 'the Nexus signature is missing from header X-Nexus-Webhook-Signature');
  const expected = Buffer.from(createHmac('sha1', ctx.receiver.entry.token).update(req.body).digest('hex'), 'utf8');
  const given = Buffer.from(signature, 'utf8');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return reject(401, 'invalid Nexus signature');

  const p = parseJsonObject(req.text(), 'Nexus');
  if (typeof p === 'string') return reject(400, `cannot decode Nexus webhook payload: ${p}`);
  const bad = wrongType(p, 'action', 'string') ?? wrongType(p, 'repositoryName', 'string');
  if (bad) return reject(400, `cannot decode Nexus webhook payload: ${bad}`);

  const component = objectAt(p, 'component');
  const artifacts: RegistryArtifact[] = [];
  const name = stringAt(component, 'name');
  if (name !== undefined && (stringAt(component, 'format') ?? 'docker') === 'docker') {
    const group = stringAt(component, 'group');
    const repository = group ? `${group}/${name}` : name;
    const a: RegistryArtifact = { image: repository, host: '', repository };
    const version = stringAt(component, 'version');
    if (version) a.tag = version;
    const action = stringAt(p, 'action');
    if (action) a.action = action;
    artifacts.push(a);
  }
  const details = artifactDetails(artifacts) ?? {};
  const repoName = stringAt(p, 'repositoryName');
  if (repoName) details.nexusRepository = repoName;
  return {
    kind: 'accept',
    deliveryId: req.header('x-nexus-webhook-delivery'),
    artifacts,
    details: Object.keys(details).length > 0 ? details : undefined,
  };
};
