export { createReceiverApp } from './app.js';
export type { ReceiverAppDeps, ReconcileRequester } from './app.js';
export { MAX_BODY_BYTES, readBodyCapped } from './body.js';
export type { BodyResult } from './body.js';
export { MemoryDeliveryDeduper } from './dedupe.js';
export type { DeliveryDeduper, MemoryDeduperOptions } from './dedupe.js';
export { ReceiverIndex, resolveTargets } from './directory.js';
export type { IndexedReceiver, ReceiverDirectory, ReceiverEntry, ReceiverIndexOptions } from './directory.js';
export { WEBHOOK_PATH_PREFIX, safeEqual, signBody, verifyHmacSignature, webhookDigest, webhookPath } from './signature.js';
export type { HmacAlgorithm, SignatureCheck } from './signature.js';
export {
  DEFAULT_TARGET_API_VERSIONS,
  RECEIVER_API_VERSION,
  RECEIVER_KIND,
  RECEIVER_TARGET_KINDS,
  SUPPORTED_RECEIVER_TYPES,
  parseReceiver,
  parseReceiverObject,
} from './spec.js';
export type { ParsedReceiver, ReceiverSpec, ReceiverType, ResourceSelector } from './spec.js';
