/**
 * OpenPGP master keys (getsops/sops `pgp/keysource.go`; Flux imports `*.asc` entries into a
 * private GnuPG home). Here the `openpgp` package reads the keys and decrypts the armored
 * PGP MESSAGE holding the data key. As in Flux, keys must have no passphrase; public-only
 * keys are accepted on import (gpg accepts them) but cannot decrypt. `openpgp` (a third of a
 * megabyte) is loaded on first use, so a function that never meets a PGP key never parses it.
 */
import type * as openpgp from 'openpgp';

/** Keys imported from one or more `*.asc` entries. */
export interface PgpKeyring {
  /** Unlocked private keys. */
  keys: openpgp.PrivateKey[];
  /** Primary fingerprints (upper-case hex) of passphrase-protected keys that cannot be used. */
  locked: string[];
}

/** A key import failure; the message never contains key material. */
export class PgpImportError extends Error {}

// gpg decrypts with older keys too (e.g. 1024-bit RSA); refusing them here would reject files Flux decrypts.
const CONFIG: openpgp.PartialConfig = { minRSABits: 1024 };

/** Reads an armored (or binary) OpenPGP key block into the keyring. Throws PgpImportError. */
export async function importPgpKeys(data: Uint8Array, ring: PgpKeyring): Promise<void> {
  const text = Buffer.from(data).toString('utf8');
  const armored = text.includes('-----BEGIN PGP');
  const openpgp = await import('openpgp');
  let keys: openpgp.Key[];
  try {
    keys = armored
      ? await openpgp.readKeys({ armoredKeys: text, config: CONFIG })
      : await openpgp.readKeys({ binaryKeys: new Uint8Array(data), config: CONFIG });
  } catch {
    throw new PgpImportError('gpg: no valid OpenPGP data found');
  }
  for (const key of keys) {
    if (!key.isPrivate()) continue;
    const priv = key as openpgp.PrivateKey;
    const allUnlocked = priv.getKeys().every((k) => (k.keyPacket as { isDecrypted?: () => boolean | null }).isDecrypted?.() !== false);
    if (!allUnlocked) {
      ring.locked.push(priv.getFingerprint().toUpperCase());
      continue;
    }
    ring.keys.push(priv);
  }
}

/** Decrypts the armored data key of a pgp master key with `fingerprint`. */
export async function decryptPgpDataKey(enc: string, fingerprint: string, ring: PgpKeyring): Promise<Buffer> {
  const fp = fingerprint.replace(/\s/g, '').toUpperCase();
  if (ring.keys.length === 0) {
    const locked = ring.locked.includes(fp) ? `; the key ${fp} is protected by a passphrase, which Flux does not support` : '';
    throw new Error(`could not decrypt data key with PGP key: no private key in the decryption Secret's *.asc entries${locked}`);
  }
  const openpgp = await import('openpgp');
  let message: openpgp.Message<Uint8Array>;
  try {
    message = await openpgp.readMessage({ armoredMessage: enc, config: CONFIG }) as unknown as openpgp.Message<Uint8Array>;
  } catch (err) {
    throw new Error(`could not decrypt data key with PGP key: armor decoding failed: ${(err as Error).message}`);
  }
  try {
    const { data } = await openpgp.decrypt({ message, decryptionKeys: ring.keys, format: 'binary', config: CONFIG });
    return Buffer.from(data as Uint8Array);
  } catch (err) {
    const msg = (err as Error).message;
    let reason = msg;
    if (/Session key decryption failed|No decryption key packets found|decryption key/i.test(msg)) {
      reason = ring.locked.includes(fp)
        ? `the key ${fp} is protected by a passphrase, which Flux does not support`
        : 'gpg: decryption failed: No secret key';
    }
    throw new Error(`could not decrypt data key with PGP key: ${reason}`);
  }
}
