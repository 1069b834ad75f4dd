/** Flux Receivers (webhooks): the Hono app, its hardened HTTP server, the Receiver API and the per-type checks. */
export { createReceiverApp } from './app.js';
export type { ReceiverAppDeps, ReconcileRequestInfo, ReconcileRequester } from './app.js';
export { BODY_DEADLINE_MS, MAX_BODY_BYTES, readBodyCapped } from './body.js';
export type { BodyLimits, BodyResult } from './body.js';
export { MemoryDeliveryDeduper } from './dedupe.js';
export type { DeliveryDeduper, MemoryDeduperOptions } from './dedupe.js';
export { ReceiverIndex, resolveReceiverEntry, resolveTargets } from './directory.js';
export type { IndexedReceiver, ReceiverDirectory, ReceiverEntry, ReceiverIndexOptions } from './directory.js';
export { compileReceiverFilters, filterDecision } from './filter.js';
export type { FilterResource, ReceiverFilters } from './filter.js';
export { artifactFromReference, parseImageName } from './images.js';
export type { ImageName, RegistryArtifact } from './images.js';
export { GOOGLE_JWKS_URI, GoogleIdTokenVerifier, OidcVerifier, evaluateClaimRules } from './oidc.js';
export type { GoogleIdTokenOptions, OidcVerifierOptions, TokenCheck } from './oidc.js';
export { DEFAULT_SERVER_LIMITS, resolveServerLimits, startReceiverServer } from './server.js';
export type { FetchApp, ReceiverServer, ReceiverServerOptions, ServerLimits } from './server.js';
export { WEBHOOK_PATH_PREFIX, safeEqual, signBody, verifyHmacSignature, webhookDigest, webhookPath } from './signature.js';
export type { HmacAlgorithm, SignatureCheck } from './signature.js';
export {
  DEFAULT_OIDC_AUDIENCE,
  DEFAULT_TARGET_API_VERSIONS,
  FILTER_VARIABLES,
  OIDC_CLAIM_VARIABLES,
  RECEIVER_API_VERSION,
  RECEIVER_KIND,
  RECEIVER_TARGET_KINDS,
  REGISTRY_RECEIVER_TYPES,
  SUPPORTED_RECEIVER_TYPES,
  hasSecret,
  parseReceiver,
  parseReceiverObject,
} from './spec.js';
export type { OidcProvider, OidcValidation, OidcVariable, ParsedReceiver, ReceiverSpec, ReceiverType, ResourceSelector } from './spec.js';
