/** Cosign signature verification of OCI artifacts (keys and keyless, cosign v2 signatures and v3 bundles). */
export { verifyCosign, identityMatches, CosignVerificationError, type CosignTrust, type CosignVerified } from './verify.js';
export { publicKeysFromSecret, parseTrustedRoot, publicTrustedRoot, resetPublicTrustedRoot, TRUSTED_ROOT_KEY, type SecretData } from './trust.js';
export { findSignatures, signatureTag, SIGSTORE_BUNDLE_PREFIX, SIMPLE_SIGNING, type FoundSignatures, type LegacySignature } from './signatures.js';
