/** One handler per Receiver type. */
import type { ReceiverHandler } from '../handler.js';
import type { ReceiverType } from '../spec.js';
import { acr } from './acr.js';
import { bitbucket } from './bitbucket.js';
import { cdevents } from './cdevents.js';
import { distribution } from './distribution.js';
import { dockerhub } from './dockerhub.js';
import { gcr } from './gcr.js';
import { generic } from './generic.js';
import { genericHmac } from './generic-hmac.js';
import { genericOidc } from './generic-oidc.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import { harbor } from './harbor.js';
import { nexus } from './nexus.js';
import { quay } from './quay.js';

/** The handler of each `spec.type`. */
export const RECEIVER_HANDLERS: Readonly<Record<ReceiverType, ReceiverHandler>> = {
  generic,
  'generic-hmac': genericHmac,
  'generic-oidc': genericOidc,
  github,
  gitlab,
  bitbucket,
  harbor,
  dockerhub,
  quay,
  gcr,
  nexus,
  acr,
  cdevents,
  distribution,
};
