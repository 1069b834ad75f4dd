/**
 * Reads the SSH private key of a GitRepository Secret (`identity`, optional `password`),
 * accepting what Flux (golang.org/x/crypto/ssh ParsePrivateKey) accepts: OpenSSH format
 * (plain or passphrase-protected), PEM PKCS#1 RSA / SEC1 EC (plain or encrypted), and PKCS#8
 * (`BEGIN PRIVATE KEY`, what `flux create secret git` and `flux bootstrap` generate, and
 * `BEGIN ENCRYPTED PRIVATE KEY`), for RSA, ECDSA (P-256/384/521) and ed25519 keys.
 * ssh2 reads everything but PKCS#8, which is converted here with node:crypto first.
 */
import { createPrivateKey, randomBytes, type KeyObject } from 'node:crypto';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { GitAuthError } from './git-errors.js';
import { sshFingerprint } from './known-hosts.js';

/** A private key ready for ssh2, with what identifies it in messages. */
export interface SshIdentity {
  key: ParsedKey;
  /** ssh-ed25519, ssh-rsa, ecdsa-sha2-nistp256, ... */
  type: string;
  /** SHA256 fingerprint of the public key (what `ssh-keygen -lf identity.pub` prints). */
  fingerprint: string;
}

const EC_CURVES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

function sshString(b: Buffer | string): Buffer {
  const data = typeof b === 'string' ? Buffer.from(b) : b;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** An unencrypted OpenSSH-format private key for an ed25519 key (ssh2 reads no PKCS#8). */
function openSshEd25519(key: KeyObject): string {
  const jwk = key.export({ format: 'jwk' });
  const seed = Buffer.from(jwk.d ?? '', 'base64url');
  const pub = Buffer.from(jwk.x ?? '', 'base64url');
  const pubBlob = Buffer.concat([sshString('ssh-ed25519'), sshString(pub)]);
  const check = randomBytes(4);
  let priv = Buffer.concat([check, check, sshString('ssh-ed25519'), sshString(pub), sshString(Buffer.concat([seed, pub])), sshString('')]);
  const pad = (8 - (priv.length % 8)) % 8;
  priv = Buffer.concat([priv, Buffer.from(Array.from({ length: pad }, (_, i) => i + 1))]);
  const nkeys = Buffer.alloc(4);
  nkeys.writeUInt32BE(1);
  const body = Buffer.concat([Buffer.from('openssh-key-v1\0', 'latin1'), sshString('none'), sshString('none'), sshString(''), nkeys, sshString(pubBlob), sshString(priv)]);
  const b64 = body.toString('base64').replace(/(.{70})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN OPENSSH PRIVATE KEY-----\n${b64}\n-----END OPENSSH PRIVATE KEY-----`;
}

/** Converts a PKCS#8 key to a format ssh2 parses; returns an error message for keys we cannot use. */
function fromPkcs8(pem: string, passphrase: string | undefined, where: string): string {
  const encrypted = pem.startsWith('-----BEGIN ENCRYPTED PRIVATE KEY-----');
  if (encrypted && !passphrase) throw encryptedWithoutPassword(where);
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem', ...(passphrase ? { passphrase } : {}) });
  } catch (err) {
    if (encrypted) throw wrongPassword(where);
    throw unreadable(where, (err as Error).message);
  }
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.export({ type: 'pkcs1', format: 'pem' }).toString();
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
      if (!EC_CURVES[curve]) throw unreadable(where, `ECDSA curve '${curve}' is not one SSH uses (P-256, P-384, P-521)`);
      return key.export({ type: 'sec1', format: 'pem' }).toString();
    }
    case 'ed25519':
      return openSshEd25519(key);
    default:
      throw unreadable(where, `${key.asymmetricKeyType ?? 'unknown'} keys are not supported for SSH (use RSA, ECDSA or ed25519)`);
  }
}

function encryptedWithoutPassword(where: string): GitAuthError {
  // Flux's wording (source-controller getAuthOpts).
  return new GitAuthError(`SSH identity key is encrypted but no 'password' field was provided in the ${where}`, {
    hint: "add the key's passphrase to the Secret as 'password'",
  });
}

function wrongPassword(where: string): GitAuthError {
  return new GitAuthError(`cannot decrypt the SSH identity key with the 'password' of the ${where}: check the passphrase`);
}

function unreadable(where: string, detail: string): GitAuthError {
  return new GitAuthError(`'identity' of the ${where} is not a private key Fluxless can read: ${detail}`, {
    hint: 'use an OpenSSH, PEM or PKCS#8 private key (RSA, ECDSA or ed25519), e.g. one made by `ssh-keygen -t ed25519` or `flux create secret git`',
  });
}

/**
 * Parses the Secret's `identity` (with `password` as its passphrase when it is encrypted).
 * `where` names the Secret in messages ("Secret 'ns/name'"). Throws GitAuthError.
 */
export function loadSshIdentity(identity: string | undefined, passphrase: string | undefined, where: string): SshIdentity {
  const pem = (identity ?? '').trim();
  if (!pem) {
    throw new GitAuthError(`the ${where} has no 'identity': an SSH URL needs the private key in 'identity' and the server's host keys in 'known_hosts'`, {
      hint: 'create it with `flux create secret git <name> --url=ssh://...` or `kubectl create secret generic <name> --from-file=identity=<key> --from-file=known_hosts=<file>`',
    });
  }
  let text = pem.replace(/\r\n/g, '\n');
  if (/^-----BEGIN (ENCRYPTED )?PRIVATE KEY-----/.test(text)) text = fromPkcs8(text, passphrase, where);
  const parsed = ssh2.utils.parseKey(text, passphrase ? passphrase : undefined);
  if (parsed instanceof Error) {
    const msg = parsed.message;
    if (/no passphrase given/i.test(msg)) throw encryptedWithoutPassword(where);
    if (/bad passphrase|integrity check failed|decrypt/i.test(msg)) throw wrongPassword(where);
    throw unreadable(where, msg);
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey | undefined) : parsed;
  if (!key) throw unreadable(where, 'no key found');
  if (!key.isPrivateKey()) throw unreadable(where, "it is a public key; put the private key in 'identity' (the public one belongs in 'identity.pub')");
  return { key, type: key.type, fingerprint: sshFingerprint(key.getPublicSSH()) };
}
