/**
 * SOPS decryption with kustomize-controller's semantics. The Kustomization reconciler uses:
 *  - `createDecryptor({ secretData, secretName, kms })` once per reconcile;
 *  - `decryptor.decryptSources(workTree, buildPath)` before the kustomize build;
 *  - `decryptor.decryptResource(obj)` on every rendered object after the build;
 *  - `assertNotEncryptedSecret(obj)` before apply;
 *  - `decryptor.close()` at the end.
 */
export { createDecryptor, Decryptor, MAX_ENCRYPTED_FILE_SIZE, type DecryptorOptions } from './decryptor.js';
/** Types of SOPS decryption of whole files and loaded trees. */
export type { DecryptRequest, SopsDecrypter } from './decrypt-types.js';
export { SopsError, type SopsErrorCode } from './errors.js';
export { detectSopsFormat, formatForPath, isSopsEncrypted, SOPS_MARKERS } from './detect.js';
export {
  assertNotEncryptedSecret, DECRYPT_ANNOTATION, encryptedSecretMessage, isDecryptionDisabled, isEncryptedSecret,
  isSopsEncryptedResource, type DecryptResourceOptions, type KubeObject,
} from './resource.js';
export { KUSTOMIZATION_FILE_NAMES, type DecryptSourcesOptions, type DecryptSourcesResult } from './sources.js';
export { SECRET_ENTRY, type SecretData } from './keyring.js';
/** How AWS KMS is reached for SOPS keys. */
export type { KmsOptions } from './keys-kms.js';
/** File formats SOPS reads and writes. */
export type { SopsFormat } from './types.js';
