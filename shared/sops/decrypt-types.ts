/** The decryption interface the resource and source helpers are written against. */
import type { Branch, SopsFormat, SopsTree } from './types.js';

/** Options of one decryption. */
export interface DecryptRequest {
  /** Format of the output (default: the input format). Flux writes a Secret value in the format of its key name. */
  outputFormat?: SopsFormat;
  /** Names the file or object field in errors, e.g. `apps/secret.enc.yaml`. */
  where?: string;
  /**
   * Verify the MAC before returning anything (default: the decryptor's `verifyMac`, true).
   * Only resources rewritten by kustomize need it off (their plain fields change).
   */
  verifyMac?: boolean;
}

/** Decrypts whole sops files and loaded trees. */
export interface SopsDecrypter {
  /** Decrypts a file's bytes and returns the plaintext file bytes. */
  decrypt(bytes: Uint8Array, format: SopsFormat, opts?: DecryptRequest): Promise<Buffer>;
  /** Decrypts a loaded tree's documents. */
  decryptLoaded(tree: SopsTree, opts?: Omit<DecryptRequest, 'outputFormat'>): Promise<Branch[]>;
  /** Largest file decryptSources accepts, in bytes. */
  readonly maxFileSize: number;
}
