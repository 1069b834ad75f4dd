/**
 * Signature verification of git commits and tags for GitRepository `spec.verify`, as
 * source-controller and fluxcd/pkg git/signatures do it:
 *
 * - the trusted keys come from the verify Secret: `*.sshpub` entries are SSH authorized keys,
 *   every other entry (`*.asc` documented) an armored OpenPGP key ring;
 * - an OpenPGP signature (`-----BEGIN PGP SIGNATURE-----`) must verify the object's signed
 *   content with one of the key rings (openpgp); the result names the signer's primary key
 *   ID, as Flux does;
 * - an SSH signature (`-----BEGIN SSH SIGNATURE-----`, SSHSIG in the `git` namespace, as
 *   `git commit -S` with `gpg.format=ssh` writes it) must be made by one of the authorized
 *   keys (the key in the signature is compared with them, then the signature checked with
 *   node:crypto); the result names the key's SHA256 fingerprint.
 *
 * openpgp and ssh2 are loaded on first use.
 */
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { SignedGitObject } from './types.js';
import { errorMessage } from '../util/errors.js';
import { trimEnd } from '../util/trim.js';

/** The trusted keys of a verify Secret. */
export interface GitTrustedKeys {
  /** Armored OpenPGP key rings. */
  pgp: string[];
  /** SSH authorized-keys text (one key per line). */
  ssh: string[];
}

/** The Secret data key suffixes source-controller reads. */
export const PGP_KEY_SUFFIX = '.asc';
export const SSH_KEY_SUFFIX = '.sshpub';

/** Splits a verify Secret's data into key rings and authorized keys (Flux: unknown suffixes are key rings). */
export function gitTrustedKeys(data: Record<string, string>): GitTrustedKeys {
  const out: GitTrustedKeys = { pgp: [], ssh: [] };
  for (const k of Object.keys(data).sort()) (k.endsWith(SSH_KEY_SUFFIX) ? out.ssh : out.pgp).push(data[k]);
  return out;
}

const SIGNATURE_BEGIN = /^-----BEGIN (PGP|SSH) SIGNATURE-----$/;

/**
 * A raw commit object split as git verify-commit splits it: the `gpgsig` (and `gpgsig-sha256`)
 * header with its continuation lines removed is the payload; the header's value, continuation
 * spaces dropped, is the signature.
 */
export function splitCommitSignature(raw: Buffer): SignedGitObject {
  const end = raw.indexOf('\n\n');
  const headerEnd = end === -1 ? raw.length : end + 1;
  const lines = raw.subarray(0, headerEnd).toString('latin1').split('\n').slice(0, -1);
  const kept: string[] = [];
  const sig: string[] = [];
  // The header whose continuation lines are being read: 'sig' (the first gpgsig), 'drop' (another signature header), or none.
  let within: 'sig' | 'drop' | undefined;
  for (const line of lines) {
    if (line.startsWith(' ') && within) {
      if (within === 'sig') sig.push(line.slice(1));
      continue;
    }
    within = undefined;
    if (line.startsWith('gpgsig ') || line.startsWith('gpgsig-sha256 ')) {
      within = line.startsWith('gpgsig ') && sig.length === 0 ? 'sig' : 'drop';
      if (within === 'sig') sig.push(line.slice('gpgsig '.length));
      continue;
    }
    kept.push(line);
  }
  const payload = Buffer.concat([Buffer.from(kept.map((l) => `${l}\n`).join(''), 'latin1'), raw.subarray(headerEnd)]);
  return { payload, signature: sig.length ? `${Buffer.from(sig.join('\n'), 'latin1').toString('utf8')}\n` : '' };
}

/** A raw tag object split as git verify-tag does: the signature is the trailing armored block of the message. */
export function splitTagSignature(raw: Buffer): SignedGitObject {
  const text = raw.toString('latin1');
  let at = -1;
  for (let i = text.indexOf('\n-----BEGIN '); i !== -1; i = text.indexOf('\n-----BEGIN ', i + 1)) {
    const lineEnd = text.indexOf('\n', i + 1);
    if (SIGNATURE_BEGIN.test(text.slice(i + 1, lineEnd === -1 ? undefined : lineEnd))) at = i + 1;
  }
  if (at === -1) return { payload: raw, signature: '' };
  return { payload: raw.subarray(0, at), signature: raw.subarray(at).toString('utf8') };
}

/** The kind of an armored signature: `openpgp`, `ssh`, or '' (unsigned or unknown). */
export function signatureType(signature: string): 'openpgp' | 'ssh' | '' {
  if (signature.includes('-----BEGIN PGP SIGNATURE-----')) return 'openpgp';
  if (signature.includes('-----BEGIN SSH SIGNATURE-----')) return 'ssh';
  return '';
}

/**
 * Verifies one signed object with the trusted keys; returns the key that verified it (PGP
 * key ID, or SSH `SHA256:` fingerprint). Throws Error with what is wrong (fluxcd/pkg's
 * messages where it has them).
 */
export async function verifyGitObject(obj: SignedGitObject, keys: GitTrustedKeys): Promise<string> {
  switch (signatureType(obj.signature)) {
    case 'openpgp':
      if (keys.pgp.length === 0) throw new Error(`PGP signature detected but no PGP public keys found in secret (keys with ${PGP_KEY_SUFFIX} suffix)`);
      return verifyPgp(obj, keys.pgp);
    case 'ssh':
      if (keys.ssh.length === 0) throw new Error(`SSH signature detected but no SSH public keys found in secret (keys with ${SSH_KEY_SUFFIX} suffix)`);
      return verifySsh(obj, keys.ssh);
    default:
      throw new Error(obj.signature ? 'unsupported signature type (neither OpenPGP nor SSH)' : 'it is not signed');
  }
}

async function verifyPgp(obj: SignedGitObject, rings: string[]): Promise<string> {
  const openpgp = await import('openpgp');
  const keys = [];
  for (const ring of rings) {
    try {
      keys.push(...(await openpgp.readKeys({ armoredKeys: ring })));
    } catch (err) {
      throw new Error(`unable to read armored key ring: ${errorMessage(err)}`, { cause: err });
    }
  }
  let signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: obj.signature });
  } catch (err) {
    throw new Error(`unable to verify Git object: the signature cannot be read: ${errorMessage(err)}`, { cause: err });
  }
  // The payload as bytes, also for text (0x01) signatures: openpgp canonicalizes their line
  // endings on the bytes; decoding to a string first would map distinct invalid UTF-8 to U+FFFD.
  const message = await openpgp.createMessage({ binary: obj.payload });
  const result = await openpgp.verify({ message, signature, verificationKeys: keys });
  const now = new Date();
  let refused: string | undefined;
  for (const s of result.signatures) {
    try {
      await s.verified;
    } catch {
      continue;
    }
    const signer = keys.find((k) => k.getKeys(s.keyID).length > 0);
    if (!signer) continue;
    // openpgp checks the key's expiry and (soft) revocation at the signature's creation time,
    // which the signer chooses; git (gpg EXPKEYSIG/REVKEYSIG) and go-crypto check them now.
    try {
      await signer.getSigningKey(s.keyID, now);
    } catch (err) {
      refused = `the signing key ${signer.getKeyID().toHex().toUpperCase()} is not valid now: ${errorMessage(err)}`;
      continue;
    }
    return signer.getKeyID().toHex().toUpperCase();
  }
  throw new Error(refused ?? 'unable to verify payload with any of the given key rings');
}

function readString(b: Buffer, at: { off: number }): Buffer {
  if (at.off + 4 > b.length) throw new Error('truncated SSH signature');
  const n = b.readUInt32BE(at.off);
  if (at.off + 4 + n > b.length) throw new Error('truncated SSH signature');
  const v = b.subarray(at.off + 4, at.off + 4 + n);
  at.off += 4 + n;
  return v;
}

function sshString(v: Buffer | string): Buffer {
  const data = typeof v === 'string' ? Buffer.from(v) : v;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  return Buffer.concat([len, data]);
}

/** SSH `mpint r, mpint s` to a DER ECDSA signature. */
function ecdsaSshToDer(sig: Buffer): Buffer {
  const at = { off: 0 };
  const len = (n: number) => (n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]));
  const int = (v: Buffer) => {
    let i = 0;
    while (i < v.length - 1 && v[i] === 0 && !(v[i + 1] & 0x80)) i++;
    const body = v.subarray(i);
    return Buffer.concat([Buffer.from([0x02]), len(body.length), body]);
  };
  const r = int(readString(sig, at));
  const s = int(readString(sig, at));
  return Buffer.concat([Buffer.from([0x30]), len(r.length + s.length), r, s]);
}

async function verifySsh(obj: SignedGitObject, authorized: string[]): Promise<string> {
  const body = /-----BEGIN SSH SIGNATURE-----([\s\S]*?)-----END SSH SIGNATURE-----/.exec(obj.signature)?.[1];
  if (!body) throw new Error('unable to verify Git object SSH signature: malformed armor');
  const blob = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  if (blob.subarray(0, 6).toString() !== 'SSHSIG') throw new Error('unable to verify Git object SSH signature: missing SSHSIG preamble');
  const at = { off: 10 };
  if (blob.length < 10 || blob.readUInt32BE(6) !== 1) throw new Error('unable to verify Git object SSH signature: unsupported SSHSIG version');
  const publicKey = readString(blob, at);
  const namespace = readString(blob, at).toString();
  readString(blob, at); // reserved
  const hashAlg = readString(blob, at).toString();
  const wrapped = readString(blob, at);
  if (namespace !== 'git') throw new Error(`unable to verify Git object SSH signature: made for namespace '${namespace}', not 'git'`);
  if (hashAlg !== 'sha512' && hashAlg !== 'sha256') throw new Error(`unable to verify Git object SSH signature: unsupported hash algorithm '${hashAlg}'`);
  const sigAt = { off: 0 };
  const algo = readString(wrapped, sigAt).toString();
  const raw = readString(wrapped, sigAt);

  const { default: ssh2 } = await import('ssh2');
  let match: { pem: string; type: string } | undefined;
  for (const text of authorized) {
    for (const line of text.split(/\r?\n/)) {
      const t = line.trim();
      if (!t || t.startsWith('#')) continue;
      const start = t.search(/(^|\s)(ssh-|ecdsa-|sk-)/);
      const parsed = ssh2.utils.parseKey(t.slice(Math.max(0, start)).trim());
      if (parsed instanceof Error) continue;
      const key = Array.isArray(parsed) ? parsed[0] : parsed;
      if (key.getPublicSSH().equals(publicKey)) match = { pem: key.getPublicPEM(), type: key.type };
    }
  }
  const fingerprint = `SHA256:${trimEnd(createHash('sha256').update(publicKey).digest('base64'), '=')}`;
  if (!match) throw new Error(`unable to verify Git object SSH signature: the signing key ${fingerprint} is not one of the authorized keys`);

  const digest = createHash(hashAlg).update(obj.payload).digest();
  const signed = Buffer.concat([Buffer.from('SSHSIG'), sshString('git'), sshString(''), sshString(hashAlg), sshString(digest)]);
  const key = createPublicKey(match.pem);
  let ok: boolean;
  if (algo === 'ssh-ed25519') ok = cryptoVerify(null, signed, key, raw);
  else if (algo.startsWith('ecdsa-sha2-nistp')) ok = cryptoVerify({ 256: 'sha256', 384: 'sha384', 521: 'sha512' }[algo.slice(-3)] ?? 'sha256', signed, key, ecdsaSshToDer(raw));
  else if (algo === 'rsa-sha2-512' || algo === 'rsa-sha2-256') ok = cryptoVerify(algo === 'rsa-sha2-512' ? 'sha512' : 'sha256', signed, key, raw);
  else throw new Error(`unable to verify Git object SSH signature: unsupported signature algorithm '${algo}'`);
  if (!ok) throw new Error('unable to verify Git object SSH signature: the signature does not match the content');
  return fingerprint;
}
