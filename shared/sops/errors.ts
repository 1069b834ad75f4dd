/**
 * Errors of SOPS decryption. Messages name the file or object and the key path involved,
 * never a decrypted value, a data key or a MAC.
 */
import { FluxlessError } from '../util/errors.js';

/** Why a SOPS operation failed (the error's `code`). */
export type SopsErrorCode =
  /** The file is not a well-formed SOPS document (syntax, metadata, ENC values). */
  | 'SopsFormatInvalid'
  /** No master key could decrypt the data key. */
  | 'SopsDataKeyUnavailable'
  /** A value did not decrypt with the data key (tampered, moved, or from another file). */
  | 'SopsValueDecryptFailed'
  /** The MAC does not match the values: the file was changed after it was encrypted. */
  | 'SopsMacMismatch'
  /** A key entry of the decryption Secret could not be imported. */
  | 'SopsKeyImportFailed'
  /** The file needs something Fluxless does not implement (a key type, a store feature). */
  | 'SopsUnsupported'
  /** A file that must be decrypted cannot be read, or is too large / not regular. */
  | 'SopsFileRejected';

/** A SOPS failure. `where` names the file or object field; the message already includes it. */
export class SopsError extends FluxlessError {
  readonly where?: string;
  constructor(code: SopsErrorCode, message: string, options?: { cause?: unknown; hint?: string; where?: string }) {
    super(code, message, options);
    this.where = options?.where;
  }
}

/** Prefixes an error's message with `prefix: `, keeping its code, hint and cause chain. */
export function wrapSopsError(err: unknown, prefix: string, where?: string): SopsError {
  if (err instanceof SopsError) {
    return new SopsError(err.code as SopsErrorCode, `${prefix}: ${err.message}`, { cause: err, hint: err.hint, where: where ?? err.where });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new SopsError('SopsFormatInvalid', `${prefix}: ${message}`, { cause: err, where });
}
