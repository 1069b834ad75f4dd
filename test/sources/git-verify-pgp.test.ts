/**
 * OpenPGP verification of git objects against keys whose validity a signer could backdate:
 * the signer writes the signature's creation time, so expiry and revocation are judged
 * now, as git (gpg's EXPKEYSIG / REVKEYSIG) and Flux (go-crypto) judge them. Text-mode
 * signatures are checked over the object's bytes, not a UTF-8 decoding of them.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as openpgp from 'openpgp';
import { splitCommitSignature, verifyGitObject } from '../../shared/sources/git-verify.js';

const DAY = 86_400_000;
const payload = Buffer.from('tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor M <m@example.com> 1700000000 +0000\ncommitter M <m@example.com> 1700000000 +0000\n\nchange\n');

/** A raw commit object: the payload with a gpgsig header holding `armored`. */
function commitWith(body: Buffer, armored: string): Buffer {
  const text = body.toString('latin1');
  const i = text.indexOf('\n\n');
  return Buffer.from(`${text.slice(0, i + 1)}gpgsig ${armored.trimEnd().split('\n').join('\n ')}\n${text.slice(i + 1)}`, 'latin1');
}

async function detached(key: openpgp.PrivateKey, data: Buffer, date: Date, type = openpgp.enums.signature.binary): Promise<string> {
  const signing = (await key.getSigningKey(undefined, date)).keyPacket as openpgp.SecretKeyPacket;
  const pkt = new openpgp.SignaturePacket();
  pkt.signatureType = type;
  pkt.publicKeyAlgorithm = signing.algorithm;
  pkt.hashAlgorithm = openpgp.enums.hash.sha256;
  // The typings omit sign()'s config parameter, which the implementation reads.
  const sign = pkt.sign.bind(pkt) as (...args: unknown[]) => Promise<void>;
  await sign(signing, (await openpgp.createMessage({ binary: data })).packets[0], date, true, openpgp.config);
  const list = new openpgp.PacketList<openpgp.AnyPacket>();
  list.push(pkt);
  return new openpgp.Signature(list as never).armor();
}

const verify = (raw: Buffer, pub: string) => verifyGitObject(splitCommitSignature(raw), { pgp: [pub], ssh: [] });

describe('OpenPGP key validity for git signatures', () => {
  test('a key that has expired does not verify a signature backdated into its lifetime', async () => {
    const created = new Date(Date.now() - 30 * DAY);
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'old' }], date: created, keyExpirationTime: DAY / 1000, format: 'object' });
    const sig = await detached(privateKey, payload, new Date(created.getTime() + 3_600_000));
    await assert.rejects(verify(commitWith(payload, sig), publicKey.armor()), /the signing key [0-9A-F]{16} is not valid now/);
  });

  test('a key revoked as superseded or retired does not verify a signature backdated before the revocation', async () => {
    for (const flag of [openpgp.enums.reasonForRevocation.keySuperseded, openpgp.enums.reasonForRevocation.keyRetired]) {
      const created = new Date(Date.now() - 30 * DAY);
      const { privateKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 'old' }], date: created, format: 'object' });
      const { publicKey: revoked } = await openpgp.revokeKey({ key: privateKey, reasonForRevocation: { flag, string: 'rotated' }, format: 'object' });
      const sig = await detached(privateKey, payload, new Date(created.getTime() + DAY));
      await assert.rejects(verify(commitWith(payload, sig), (revoked as openpgp.PublicKey).armor()), /is not valid now/, `revocation reason ${flag}`);
    }
  });

  test('a valid key verifies; a text-mode signature over a commit that is not UTF-8 verifies over its bytes', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name: 't' }], date: new Date(Date.now() - DAY), format: 'object' });
    const id = publicKey.getKeyID().toHex().toUpperCase();
    assert.equal(await verify(commitWith(payload, await detached(privateKey, payload, new Date(Date.now() - 1000))), publicKey.armor()), id);
    const latin1 = Buffer.from('tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A\xe9 <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\nencoding ISO-8859-1\n\nline1\nline2\n', 'latin1');
    const text = await detached(privateKey, latin1, new Date(Date.now() - 1000), openpgp.enums.signature.text);
    assert.equal(await verify(commitWith(latin1, text), publicKey.armor()), id);
    const other = Buffer.from(latin1.toString('latin1').replace('A\xe9', 'A\xe8'), 'latin1');
    await assert.rejects(verify(commitWith(other, text), publicKey.armor()));
  });
});
