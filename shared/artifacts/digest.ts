/**
 * Artifact digests: `<algorithm>:<hex>` of the compressed bytes (Flux's `status.artifact.digest`).
 * We write sha256; we verify sha256, sha384 and sha512 (the ones Flux's digest package knows and
 * Node can compute; blake3 is refused with a clear error).
 */
import { createHash } from 'node:crypto';
import { FluxlessError, ValidationError } from '../util/errors.js';

const ALGOS: Record<string, number> = { sha256: 64, sha384: 96, sha512: 128 };

/** Downloaded or stored bytes do not have the digest they should have. */
export class ArtifactDigestMismatch extends FluxlessError {
  readonly expected: string;
  readonly actual: string;
  constructor(expected: string, actual: string, what = 'artifact') {
    super(
      'ArtifactDigestMismatch',
      `${what} digest mismatch: expected ${expected}, got ${actual}; the bytes are corrupt or were replaced`,
      { hint: 'Reconcile the source again to rebuild the artifact; if it persists, check the storage for tampering.' },
    );
    this.expected = expected;
    this.actual = actual;
  }
}

/** Splits an artifact digest `<algorithm>:<hex>`; throws ValidationError for an unknown algorithm or wrong length. */
export function parseDigest(digest: string): { algorithm: string; hex: string } {
  const m = /^([a-z0-9]+):([0-9a-f]+)$/.exec(typeof digest === 'string' ? digest : '');
  const len = m ? ALGOS[m[1]!] : undefined;
  if (!m || len === undefined || m[2]!.length !== len) {
    throw new ValidationError(
      `invalid artifact digest ${JSON.stringify(digest)}: expected "sha256:<64 hex>" (or sha384/sha512)`,
    );
  }
  return { algorithm: m[1]!, hex: m[2]! };
}

/** `sha256:<hex>` of the bytes (or another algorithm). */
export function computeDigest(data: Uint8Array | readonly Uint8Array[], algorithm = 'sha256'): string {
  const h = createHash(algorithm);
  if (data instanceof Uint8Array) h.update(data);
  else for (const d of data) h.update(d);
  return `${algorithm}:${h.digest('hex')}`;
}

/** Throws ArtifactDigestMismatch unless `data` has digest `expected`. */
export function verifyDigest(data: Uint8Array, expected: string, what?: string): void {
  const { algorithm } = parseDigest(expected);
  const actual = computeDigest(data, algorithm);
  if (actual !== expected) throw new ArtifactDigestMismatch(expected, actual, what);
}
