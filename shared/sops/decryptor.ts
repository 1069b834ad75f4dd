/**
 * The SOPS decryptor a Kustomization reconcile uses (kustomize-controller `Decryptor`): built
 * from the decryption Secret's data, it recovers each file's data key with the matching master
 * key (age, OpenPGP, AWS KMS; cached per file for the reconcile), decrypts values, verifies the
 * MAC, and writes the plaintext in the requested format. Nothing it logs or throws contains a
 * decrypted value.
 */
import type { SopsDecrypter, DecryptRequest } from './decrypt-types.js';
import { recoverDataKey } from './data-key.js';
import { SopsError, wrapSopsError } from './errors.js';
import { decryptAgeDataKey } from './keys-age.js';
import { KmsDecrypter, type KmsOptions } from './keys-kms.js';
import { decryptPgpDataKey } from './keys-pgp.js';
import { emptyKeyring, importKeyring, SECRET_ENTRY, type Keyring, type SecretData } from './keyring.js';
import { decryptValue } from './cipher.js';
import { decryptResource, type DecryptResourceOptions, type KubeObject } from './resource.js';
import { decryptSources, type DecryptSourcesOptions, type DecryptSourcesResult } from './sources.js';
import { emitPlain, FORMAT_NAMES, loadEncrypted } from './stores.js';
import { decryptTree } from './tree-decrypt.js';
import type { Branch, MasterKey, SopsFormat, SopsMetadata, SopsTree } from './types.js';
import { log } from '../util/log.js';

/** kustomize-controller's limit on an encrypted file (5 MiB). */
export const MAX_ENCRYPTED_FILE_SIZE = 5 << 20;

/** Options of createDecryptor. */
export interface DecryptorOptions {
  /**
   * Data of the Secret named by `spec.decryption.secretRef`: base64 strings exactly as in the
   * Secret's `.data`, or raw bytes. Undefined when the Kustomization has no secretRef (then
   * only KMS with the function's own credentials can work, as in Flux).
   */
  secretData?: SecretData;
  /** `namespace/name` of that Secret, for messages. */
  secretName?: string;
  /**
   * Flux's `--sops-age-secret` fallback: a Secret whose `*.agekey` entries are used only when
   * `secretData` is undefined.
   */
  fallbackAgeSecretData?: SecretData;
  /** `namespace/name` of the fallback Secret, for messages. */
  fallbackAgeSecretName?: string;
  /** AWS KMS endpoint and credentials (default: the SDK's default chain, real endpoints). */
  kms?: KmsOptions;
  /** Verify MACs of files (default true). Objects decrypted after the build are never MAC-checked. */
  verifyMac?: boolean;
  /** Largest encrypted file decryptSources reads (default 5 MiB). */
  maxFileSize?: number;
}

const UNSUPPORTED: Partial<Record<MasterKey['type'], { label: string; entry?: string }>> = {
  gcp_kms: { label: 'GCP KMS (gcp_kms)', entry: SECRET_ENTRY.gcpKms },
  azure_kv: { label: 'Azure Key Vault (azure_kv)', entry: SECRET_ENTRY.azureKv },
  hc_vault: { label: 'HashiCorp Vault / OpenBao (hc_vault)', entry: SECRET_ENTRY.vaultToken },
  hckms: { label: 'Huawei Cloud KMS (hckms)' },
};

/** Decrypts SOPS files, rendered objects and work trees for one Kustomization reconcile. */
export class Decryptor implements SopsDecrypter {
  readonly maxFileSize: number;
  private readonly verifyMacDefault: boolean;
  private readonly kms: KmsDecrypter;
  private readonly dataKeys = new Map<string, Promise<Buffer>>();

  /** Use createDecryptor, which imports the Secret's keys. */
  constructor(private readonly ring: Keyring, opts: DecryptorOptions = {}) {
    this.maxFileSize = opts.maxFileSize ?? MAX_ENCRYPTED_FILE_SIZE;
    this.verifyMacDefault = opts.verifyMac ?? true;
    this.kms = new KmsDecrypter(opts.kms ?? {}, ring.awsCredentials);
  }

  /** How many age identities and PGP keys were imported (for status and tests; no key material). */
  get keyCounts(): { age: number; pgp: number; pgpLocked: number; awsCredentials: boolean } {
    return { age: this.ring.age.length, pgp: this.ring.pgp.keys.length, pgpLocked: this.ring.pgp.locked.length, awsCredentials: !!this.ring.awsCredentials };
  }

  private async decryptMasterKey(key: MasterKey): Promise<Buffer> {
    switch (key.type) {
      case 'age': return decryptAgeDataKey(key.enc, this.ring.age);
      case 'pgp': return decryptPgpDataKey(key.enc, key.fingerprint, this.ring.pgp);
      case 'kms': return this.kms.decrypt(key);
      default: {
        const u = UNSUPPORTED[key.type]!;
        const unused = u.entry && this.ring.unsupportedEntries.includes(u.entry) ? ` (the Secret's '${u.entry}' entry is not used)` : '';
        throw new Error(`${u.label} master keys are not supported by Fluxless${unused}; add an age, PGP or AWS KMS key to the file (sops updatekeys)`);
      }
    }
  }

  /** The file's data key, recovered once per reconcile for identical key groups. */
  private dataKey(meta: SopsMetadata): Promise<Buffer> {
    const id = JSON.stringify([meta.shamirThreshold, meta.keyGroups.map((g) => g.map((k) => [k.type, k.enc]))]);
    let p = this.dataKeys.get(id);
    if (!p) {
      p = recoverDataKey(meta, (k) => this.decryptMasterKey(k));
      p.catch(() => this.dataKeys.delete(id));
      this.dataKeys.set(id, p);
    }
    return p;
  }

  private verifyMac(meta: SopsMetadata, key: Buffer, computed: string): void {
    let stored: string;
    try {
      const v = decryptValue(meta.mac, key, meta.lastModifiedAad).value;
      stored = typeof v === 'string' ? v : '';
    } catch (err) {
      throw new SopsError('SopsMacMismatch', `failed to verify sops data integrity: the MAC could not be decrypted (its value or lastmodified was changed): ${(err as Error).message}`, { cause: err });
    }
    if (stored === '') {
      throw new SopsError('SopsMacMismatch', 'failed to verify sops data integrity: the file has no MAC', {
        hint: 're-encrypt the file with sops so it carries a MAC',
      });
    }
    if (stored !== computed) {
      throw new SopsError('SopsMacMismatch', 'failed to verify sops data integrity: the MAC does not match the values (the file was changed after it was encrypted)', {
        hint: 'restore the file from sops output, or edit it with `sops edit` so the MAC is recomputed',
      });
    }
  }

  /** Decrypts the documents of a loaded tree (data key, values, MAC). */
  async decryptLoaded(tree: SopsTree, opts: Omit<DecryptRequest, 'outputFormat'> = {}): Promise<Branch[]> {
    const prefix = (err: unknown, msg: string) => {
      const e = wrapSopsError(err, msg, opts.where);
      return opts.where ? wrapSopsError(e, `'${opts.where}'`, opts.where) : e;
    };
    let key: Buffer;
    try {
      key = await this.dataKey(tree.metadata);
    } catch (err) {
      throw prefix(err, 'cannot get sops data key');
    }
    let result;
    try {
      result = decryptTree(tree.branches, tree.metadata, key);
    } catch (err) {
      throw prefix(err, 'error decrypting sops tree');
    }
    if (opts.verifyMac ?? this.verifyMacDefault) {
      try {
        this.verifyMac(tree.metadata, key, result.mac);
      } catch (err) {
        if (opts.where) throw wrapSopsError(err, `'${opts.where}'`, opts.where);
        throw err;
      }
    }
    log.debug('sops: decrypted', { where: opts.where, documents: result.branches.length });
    return result.branches;
  }

  /**
   * Decrypts a sops file of `format` and returns the plaintext file (in `outputFormat` if
   * given), as kustomize-controller's `SopsDecryptWithFormat`. The MAC is verified unless
   * `verifyMac: false`. Throws SopsError; nothing is returned from a file that fails.
   */
  async decrypt(bytes: Uint8Array, format: SopsFormat, opts: DecryptRequest = {}): Promise<Buffer> {
    const outFormat = opts.outputFormat ?? format;
    const named = (err: unknown, msg: string) => {
      const e = wrapSopsError(err, msg, opts.where);
      return opts.where ? wrapSopsError(e, `'${opts.where}'`, opts.where) : e;
    };
    let tree: SopsTree;
    try {
      tree = loadEncrypted(bytes, format);
    } catch (err) {
      throw named(err, `failed to load encrypted ${FORMAT_NAMES[format]} data`);
    }
    const branches = await this.decryptLoaded(tree, { where: opts.where, verifyMac: opts.verifyMac });
    try {
      return emitPlain(branches, outFormat);
    } catch (err) {
      throw named(err, `failed to emit encrypted ${FORMAT_NAMES[format]} file as decrypted ${FORMAT_NAMES[outFormat]}`);
    }
  }

  /** Flux's DecryptResource for one rendered object; undefined when it is left as it is. */
  decryptResource(obj: KubeObject, opts?: DecryptResourceOptions): Promise<KubeObject | undefined> {
    return decryptResource(this, obj, opts);
  }

  /** Flux's DecryptSources: decrypts generator inputs and patches in the work tree, in place. */
  decryptSources(root: string, buildPath: string, opts?: DecryptSourcesOptions): Promise<DecryptSourcesResult> {
    return decryptSources(this, root, buildPath, opts);
  }

  /** Releases network clients (KMS). The decryptor must not be used afterwards. */
  close(): void {
    this.kms.destroy();
    this.dataKeys.clear();
  }
}

/**
 * Builds a decryptor from the decryption Secret (Flux's `ImportKeys`): `*.asc` OpenPGP keys,
 * `*.agekey` age identities, `sops.aws-kms` static AWS credentials. Throws SopsError
 * ('SopsKeyImportFailed') naming the entry when one cannot be imported.
 */
export async function createDecryptor(opts: DecryptorOptions = {}): Promise<Decryptor> {
  let ring: Keyring;
  if (opts.secretData) {
    ring = await importKeyring(opts.secretData, opts.secretName ?? '(decryption Secret)');
  } else if (opts.fallbackAgeSecretData) {
    ring = await importKeyring(opts.fallbackAgeSecretData, opts.fallbackAgeSecretName ?? '(SOPS age Secret)', { ageOnly: true });
  } else {
    ring = emptyKeyring();
  }
  return new Decryptor(ring, opts);
}
