/**
 * Commit signing for ImageUpdateAutomation `spec.git.commit.signingKey`, with the Secret
 * formats image-automation-controller reads:
 *
 * - `type: gpg` (default): an ASCII-armoured OpenPGP private key in `git.asc`, its
 *   passphrase in `passphrase`; a detached armoured signature of the commit (openpgp);
 * - `type: ssh`: an OpenSSH private key in `identity`, its passphrase in `password`; an
 *   SSHSIG signature in the `git` namespace with SHA-512, as `git commit -S` with
 *   `gpg.format=ssh` writes it (ssh-ed25519, ecdsa-sha2-nistp256/384/521, RSA >= 2048 bits
 *   with rsa-sha2-512).
 *
 * Both go into the commit's `gpgsig` header, where git (`git verify-commit`) finds them.
 * openpgp and ssh2 are loaded when a signing key is first read.
 */
import { createHash } from 'node:crypto';
import type * as openpgp from 'openpgp';
import type { ParsedKey } from 'ssh2';
import { FluxlessError, errorMessage } from '../util/errors.js';

/** `spec.git.commit.signingKey.type`. */
export type SigningKeyType = 'gpg' | 'ssh';

/** Signs a commit payload; returns the armoured signature. */
export type CommitSigner = (payload: string) => Promise<string>;

/** The signing Secret cannot be used (Flux reports it as SourceManagerFailed). */
export class SigningKeyError extends FluxlessError {
  constructor(message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('SigningKeyInvalid', message, opts);
  }
}

/** The signer for a signing Secret's data (`secretName` only appears in messages). */
export async function commitSigner(data: Record<string, string>, type: SigningKeyType, secretName: string): Promise<CommitSigner> {
  if (type === 'gpg') {
    if (!data['git.asc']) throw new SigningKeyError(`signing key secret '${secretName}' does not contain a 'git.asc' key`, { hint: "put the ASCII-armoured OpenPGP private key under 'git.asc'" });
    return gpgSigner(data['git.asc'], data.passphrase, secretName);
  }
  if (!data.identity) throw new SigningKeyError(`signing key secret '${secretName}' does not contain an 'identity' key`, { hint: "put the OpenSSH private key under 'identity'" });
  return sshSigner(data.identity, data.password, secretName);
}

async function gpgSigner(armored: string, passphrase: string | undefined, secretName: string): Promise<CommitSigner> {
  const openpgp = await import('openpgp');
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
    if (!key.isDecrypted()) {
      if (!passphrase) throw new Error("the key is encrypted and the Secret has no 'passphrase'");
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    }
  } catch (err) {
    throw new SigningKeyError(`failed to read the OpenPGP signing key in secret '${secretName}': ${errorMessage(err)}`, { cause: err });
  }
  return async (payload) => {
    const message = await openpgp.createMessage({ binary: Buffer.from(payload, 'utf8') });
    return (await openpgp.sign({ message, signingKeys: key, detached: true, format: 'armored' })) as string;
  };
}

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  let v = b.subarray(i);
  if (v[0] & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
  return sshString(v);
}

/** An ECDSA signature from DER (SEQUENCE of two INTEGERs) to SSH's `mpint r, mpint s`. */
function ecdsaDerToSsh(der: Buffer): Buffer {
  let off = 2;
  if (der[1] & 0x80) off = 2 + (der[1] & 0x7f);
  const readInt = (): Buffer => {
    if (der[off] !== 0x02) throw new Error('not a DER ECDSA signature');
    const len = der[off + 1];
    const v = der.subarray(off + 2, off + 2 + len);
    off += 2 + len;
    return v;
  };
  const r = readInt();
  const s = readInt();
  return Buffer.concat([mpint(r), mpint(s)]);
}

function armorSsh(blob: Buffer): string {
  const b64 = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return `-----BEGIN SSH SIGNATURE-----\n${b64.join('\n')}\n-----END SSH SIGNATURE-----\n`;
}

async function sshSigner(identity: string, password: string | undefined, secretName: string): Promise<CommitSigner> {
  const { default: ssh2 } = await import('ssh2');
  const parsed = ssh2.utils.parseKey(identity, password);
  if (parsed instanceof Error) throw new SigningKeyError(`failed to read the SSH signing key in secret '${secretName}': ${parsed.message}`, { cause: parsed });
  const key: ParsedKey = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key.isPrivateKey()) throw new SigningKeyError(`the 'identity' of secret '${secretName}' is not a private key`);
  const type = key.type;
  if (!/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521))$/.test(type)) {
    throw new SigningKeyError(`secret '${secretName}': SSH key type '${type}' cannot sign commits (use ssh-ed25519, ecdsa-sha2-nistp256/384/521 or ssh-rsa)`);
  }
  const publicKey = key.getPublicSSH();
  return async (payload) => {
    const digest = createHash('sha512').update(payload, 'utf8').digest();
    const signed = Buffer.concat([Buffer.from('SSHSIG'), sshString('git'), sshString(''), sshString('sha512'), sshString(digest)]);
    let algo: string = type;
    let raw: Buffer;
    if (type === 'ssh-rsa') {
      algo = 'rsa-sha2-512';
      raw = key.sign(signed, 'sha512') as Buffer;
    } else if (type.startsWith('ecdsa')) {
      raw = ecdsaDerToSsh(key.sign(signed) as Buffer);
    } else {
      raw = key.sign(signed) as Buffer;
    }
    if (!Buffer.isBuffer(raw)) throw new SigningKeyError(`signing with the SSH key of secret '${secretName}' failed: ${errorMessage(raw)}`);
    const version = Buffer.alloc(4);
    version.writeUInt32BE(1);
    const blob = Buffer.concat([Buffer.from('SSHSIG'), version, sshString(publicKey), sshString('git'), sshString(''), sshString('sha512'), sshString(Buffer.concat([sshString(algo), sshString(raw)]))]);
    return armorSsh(blob);
  };
}
