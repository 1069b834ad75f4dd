/** Flux Receivers (webhooks): the Hono app, its hardened HTTP server, the Receiver API and the per-type checks. */
export { createReceiverApp } from './app.js';
/** Types of createReceiverApp: its dependencies and the reconcile requests it makes. */
export type { ReceiverAppDeps, ReconcileRequestInfo, ReconcileRequester } from './app.js';
export { BODY_DEADLINE_MS, MAX_BODY_BYTES, readBodyCapped } from './body.js';
/** Types of readBodyCapped: its limits and its result. */
export type { BodyLimits, BodyResult } from './body.js';
export { MemoryDeliveryDeduper } from './dedupe.js';
/** Types of webhook delivery de-duplication. */
export type { DeliveryDeduper, MemoryDeduperOptions } from './dedupe.js';
export { ReceiverIndex, resolveReceiverEntry, resolveTargets } from './directory.js';
/** Types of the Receiver directory and index: Receivers with resolved tokens, and how they are served. */
export type { IndexedReceiver, ReceiverDirectory, ReceiverEntry, ReceiverIndexOptions } from './directory.js';
export { compileReceiverFilters, filterDecision } from './filter.js';
/** Types of a Receiver's compiled CEL resource filters. */
export type { FilterResource, ReceiverFilters } from './filter.js';
export { artifactFromReference, parseImageName } from './images.js';
/** Types of registry webhook events: a parsed image reference and the artifact an event is about. */
export type { ImageName, RegistryArtifact } from './images.js';
export { GOOGLE_JWKS_URI, GoogleIdTokenVerifier, OidcVerifier, evaluateClaimRules } from './oidc.js';
/** Types of OIDC token verification (generic-oidc Receivers and Google ID tokens). */
export type { GoogleIdTokenOptions, OidcVerifierOptions, TokenCheck } from './oidc.js';
export { DEFAULT_SERVER_LIMITS, resolveServerLimits, startReceiverServer } from './server.js';
/** Types of the receiver HTTP server: its options, limits, and the running server. */
export type { FetchApp, ReceiverServer, ReceiverServerOptions, ServerLimits } from './server.js';
export { WEBHOOK_PATH_PREFIX, safeEqual, signBody, verifyHmacSignature, webhookDigest, webhookPath } from './signature.js';
/** Types of webhook HMAC signature verification. */
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
/** Types of a parsed Receiver (notification.toolkit.fluxcd.io): its spec, type, resources and OIDC providers. */
export type { OidcProvider, OidcValidation, OidcVariable, ParsedReceiver, ReceiverSpec, ReceiverType, ResourceSelector } from './spec.js';
