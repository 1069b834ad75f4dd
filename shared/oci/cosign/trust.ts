/**
 * What cosign signatures are checked against, from the objects a user writes:
 *
 * - public keys: every `*.pub` entry of the `verify.secretRef` Secret (Flux ignores other
 *   keys), PEM `PUBLIC KEY` (ECDSA, RSA or Ed25519, as `cosign generate-key-pair` writes);
 * - a self-hosted Sigstore: `trusted_root.json` of `verify.trustedRootSecretRef`;
 * - the public Sigstore (Fulcio, Rekor, CT log) trusted root, through its TUF repository
 *   (`@sigstore/tuf`, loaded on first use, cached under the temp directory), fetched once per
 *   process and retried at most once a minute after a failure, as source-controller's
 *   verifier factory does.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { TrustedRoot } from '@sigstore/protobuf-specs';
import { errorMessage } from '../../util/errors.js';

/** The Secret key that holds a custom trusted root (Flux's). */
export const TRUSTED_ROOT_KEY = 'trusted_root.json';
/** How long a failed public-root fetch is remembered before the next attempt (Flux: 1 minute). */
const RETRY_INTERVAL_MS = 60_000;

/** A Secret's data, decoded. */
export type SecretData = Record<string, string>;

/** The `*.pub` keys of a verify Secret, sorted by name; a key that does not parse fails naming it. */
export function publicKeysFromSecret(data: SecretData, secretName: string): Array<{ name: string; key: KeyObject }> {
  return Object.keys(data)
    .filter((k) => k.endsWith('.pub'))
    .sort()
    .map((name) => {
      try {
        return { name, key: createPublicKey(data[name]) };
      } catch (err) {
        throw new Error(`key '${name}' of Secret '${secretName}' is not a PEM public key: ${errorMessage(err)}`, { cause: err });
      }
    });
}

/** A trusted root from `trusted_root.json` text; fails saying what is wrong. */
export function parseTrustedRoot(text: string, where: string): TrustedRoot {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${where} is not JSON: ${errorMessage(err)}`, { cause: err });
  }
  let root: TrustedRoot;
  try {
    root = TrustedRoot.fromJSON(json);
  } catch (err) {
    throw new Error(`${where} is not a Sigstore trusted root: ${errorMessage(err)}`, { cause: err });
  }
  if (root.certificateAuthorities.length === 0) throw new Error(`${where} has no certificateAuthorities: keyless verification needs the Fulcio CA chain`);
  return root;
}

let publicRoot: { at: number; root: Promise<TrustedRoot> } | undefined;

/** The public Sigstore trusted root (see the module comment). */
export function publicTrustedRoot(now: () => number = Date.now): Promise<TrustedRoot> {
  if (publicRoot) {
    const failed = publicRoot.root.then(
      () => false,
      () => true,
    );
    const at = publicRoot.at;
    const cached = publicRoot.root;
    return failed.then((f) => (f && now() - at >= RETRY_INTERVAL_MS ? fetchPublicRoot(now) : cached));
  }
  return fetchPublicRoot(now);
}

function fetchPublicRoot(now: () => number): Promise<TrustedRoot> {
  const root = (async () => {
    const { getTrustedRoot } = await import('@sigstore/tuf');
    try {
      return await getTrustedRoot({ cachePath: path.join(os.tmpdir(), 'fluxless-sigstore-tuf'), retry: 2, timeout: 20_000 });
    } catch (err) {
      throw new Error(`unable to initialize trusted root: ${errorMessage(err)}`, { cause: err });
    }
  })();
  publicRoot = { at: now(), root };
  return root;
}

/** Forgets the public trusted root (tests). */
export function resetPublicTrustedRoot(): void {
  publicRoot = undefined;
}
