/** Keys, secrets and helpers shared by the SOPS tests. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { generateIdentity, generateHybridIdentity, identityToRecipient } from 'age-encryption';
import * as openpgp from 'openpgp';
import type { MasterKey } from '../../shared/sops/types.js';
import { ageEnc, pgpEnc } from './encoder.js';

/** A fresh 32-byte data key. */
export function dataKey(): Buffer {
  return randomBytes(32);
}

/** A value no test writes anywhere else, to search for in logs and errors. */
export function secretValue(label = 'value'): string {
  return `${label}-S3CR3T-${randomBytes(6).toString('hex')}`;
}

/** An age X25519 identity and its recipient. */
export async function ageIdentity(hybrid = false): Promise<{ identity: string; recipient: string }> {
  const identity = hybrid ? await generateHybridIdentity() : await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

/** An age master key entry holding `key` for `recipient`. */
export async function ageKey(key: Buffer, recipient: string): Promise<MasterKey> {
  return { type: 'age', recipient, enc: await ageEnc(key, recipient) };
}

/** A passphrase-less OpenPGP key pair (openpgp), armored. */
export async function pgpKeyPair(passphrase?: string): Promise<{ privateKey: string; publicKey: string; fingerprint: string }> {
  const k = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Fluxless test', email: 'test@example.com' }], passphrase, format: 'armored' });
  const pub = await openpgp.readKey({ armoredKey: k.publicKey });
  return { privateKey: k.privateKey, publicKey: k.publicKey, fingerprint: pub.getFingerprint().toUpperCase() };
}

/** A pgp master key entry holding `key` for a public key. */
export async function pgpKey(key: Buffer, pair: { publicKey: string; fingerprint: string }): Promise<MasterKey> {
  return { type: 'pgp', fingerprint: pair.fingerprint, enc: await pgpEnc(key, pair.publicKey), createdAt: '2026-01-01T00:00:00Z' };
}

/** Secret `.data` (base64 values) from plain entries. */
export function secretData(entries: Record<string, string | Buffer>): Record<string, string> {
  return Object.fromEntries(Object.entries(entries).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** Runs `fn`, expects it to reject, and returns the error after checking no secret leaked into it. */
export async function rejection(fn: () => Promise<unknown>, mustNotContain: readonly string[] = []): Promise<Error & { code?: string; hint?: string }> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof Error, 'expected a rejection');
  const text = `${caught.message}\n${(caught as { hint?: string }).hint ?? ''}\n${String((caught as { cause?: unknown }).cause ?? '')}`;
  for (const s of mustNotContain) assert.ok(!text.includes(s), `error text leaks a secret: ${text}`);
  return caught as Error & { code?: string };
}
