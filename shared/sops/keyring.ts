/**
 * The keys of a Kustomization's decryption Secret, classified by entry name as
 * kustomize-controller's `ImportKeys` does: `*.asc` (OpenPGP), `*.agekey` (age), and the exact
 * names `sops.aws-kms`, `sops.vault-token`, `sops.azure-kv`, `sops.gcp-kms`. Other entries are
 * ignored. Import errors name the entry and the Secret, never the content.
 */
import path from 'node:path';
import type { AwsCredentialIdentity } from '@smithy/types';
import { decodeStdBase64 } from './base64.js';
import { SopsError } from './errors.js';
import { AgeIdentityError, parseAgeIdentities } from './keys-age.js';
import { AwsCredentialsError, parseAwsKmsCredentials } from './keys-kms.js';
import { importPgpKeys, PgpImportError, type PgpKeyring } from './keys-pgp.js';

/** Secret entry names with a fixed meaning (kustomize-controller constants). */
export const SECRET_ENTRY = {
  pgpExt: '.asc',
  ageExt: '.agekey',
  vaultToken: 'sops.vault-token',
  awsKms: 'sops.aws-kms',
  azureKv: 'sops.azure-kv',
  gcpKms: 'sops.gcp-kms',
} as const;

/** Secret data: base64 strings exactly as in a Secret's `.data`, or raw bytes. */
export type SecretData = Readonly<Record<string, string | Uint8Array>>;

/** What a decryption Secret provides. */
export interface Keyring {
  age: string[];
  pgp: PgpKeyring;
  awsCredentials?: AwsCredentialIdentity;
  /** Entries for providers Fluxless does not implement (named in data-key errors). */
  unsupportedEntries: string[];
}

/** An empty keyring (no Secret). */
export function emptyKeyring(): Keyring {
  return { age: [], pgp: { keys: [], locked: [] }, unsupportedEntries: [] };
}

function entryBytes(name: string, value: string | Uint8Array, secret: string): Uint8Array {
  if (typeof value !== 'string') return value;
  const b = decodeStdBase64(value);
  if (!b) {
    throw new SopsError('SopsKeyImportFailed', `failed to import '${name}' data from sops decryption Secret '${secret}': the value is not base64 (pass Secret .data values, or bytes)`);
  }
  return b;
}

/**
 * Imports the keys of a decryption Secret. `secret` names it in messages (`namespace/name`);
 * `ageOnly` is the `--sops-age-secret` fallback, which reads only `*.agekey` entries.
 */
export async function importKeyring(data: SecretData, secret: string, opts: { ageOnly?: boolean } = {}): Promise<Keyring> {
  const ring = emptyKeyring();
  const label = opts.ageOnly ? 'SOPS age decryption Secret' : 'sops decryption Secret';
  const fail = (name: string, reason: string, cause?: unknown) =>
    new SopsError('SopsKeyImportFailed', `failed to import '${name}' data from ${label} '${secret}': ${reason}`, { cause });
  for (const name of Object.keys(data).sort()) {
    const ext = path.extname(name);
    if (opts.ageOnly && ext !== SECRET_ENTRY.ageExt) continue;
    const bytes = () => entryBytes(name, data[name], secret);
    try {
      if (ext === SECRET_ENTRY.pgpExt) {
        await importPgpKeys(bytes(), ring.pgp);
      } else if (ext === SECRET_ENTRY.ageExt) {
        ring.age.push(...(await parseAgeIdentities(Buffer.from(bytes()).toString('utf8'))));
      } else if (name === SECRET_ENTRY.awsKms) {
        ring.awsCredentials = parseAwsKmsCredentials(bytes());
      } else if (name === SECRET_ENTRY.vaultToken || name === SECRET_ENTRY.azureKv || name === SECRET_ENTRY.gcpKms) {
        ring.unsupportedEntries.push(name);
      }
    } catch (err) {
      if (err instanceof SopsError) throw err;
      if (err instanceof AgeIdentityError || err instanceof PgpImportError || err instanceof AwsCredentialsError) throw fail(name, err.message, err);
      throw fail(name, 'the entry could not be read', err);
    }
  }
  return ring;
}
