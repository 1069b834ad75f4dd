/**
 * age master keys (getsops/sops `age/keysource.go`, through the `age-encryption` package by
 * age's author): identities come from `*.agekey` entries, one per line (`#` lines and blank
 * lines skipped, as sops's `ParsedIdentities.Import`); X25519 (`AGE-SECRET-KEY-1`) and hybrid
 * post-quantum (`AGE-SECRET-KEY-PQ-1`) identities are supported. The data key is an armored
 * age file whose plaintext is the raw key.
 */
import { armor, Decrypter, identityToRecipient } from 'age-encryption';

/** An identity parse failure; the message never contains the identity. */
export class AgeIdentityError extends Error {}

/** Parses the identities of one `*.agekey` entry. Throws AgeIdentityError. */
export async function parseAgeIdentities(text: string): Promise<string[]> {
  const out: string[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    // bufio.ScanLines drops a trailing \r.
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line === '' || line.startsWith('#')) continue;
    const where = `line ${i + 1}`;
    if (line.startsWith('AGE-PLUGIN-')) {
      throw new AgeIdentityError(`failed to parse and add to age identities: ${where}: age plugin identities are not supported`);
    }
    if (!line.startsWith('AGE-SECRET-KEY-PQ-1') && !line.startsWith('AGE-SECRET-KEY-1')) {
      throw new AgeIdentityError(`failed to parse and add to age identities: ${where}: unknown identity type`);
    }
    try {
      await identityToRecipient(line);
    } catch {
      throw new AgeIdentityError(`failed to parse and add to age identities: ${where}: malformed secret key`);
    }
    out.push(line);
  }
  return out;
}

/** The age recipient (`age1...`) of an identity. */
export async function ageRecipientOf(identity: string): Promise<string> {
  return identityToRecipient(identity);
}

/** Decrypts an armored age data key with the identities; throws with sops's messages. */
export async function decryptAgeDataKey(enc: string, identities: readonly string[]): Promise<Buffer> {
  if (identities.length === 0) {
    throw new Error('failed to load age identities: the decryption Secret has no *.agekey entry');
  }
  let file: Uint8Array;
  try {
    file = armor.decode(enc);
  } catch (err) {
    throw new Error(`failed to create reader for decrypting sops data key with age: invalid armor: ${(err as Error).message}`);
  }
  const d = new Decrypter();
  for (const id of identities) d.addIdentity(id);
  try {
    return Buffer.from(await d.decrypt(file));
  } catch (err) {
    const msg = (err as Error).message;
    const reason = /no identity matched/i.test(msg) ? 'no identity matched any of the recipients' : msg;
    throw new Error(`failed to create reader for decrypting sops data key with age: ${reason}`);
  }
}
