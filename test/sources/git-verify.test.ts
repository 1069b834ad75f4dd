/**
 * Splitting raw git objects into signed content and signature, the way git verify-commit
 * and verify-tag read them: only the `gpgsig` header of a commit counts (text that looks
 * like a signature in the message does not), other signature headers are left out of the
 * payload, and a tag's signature is its last armored block.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { signatureType, splitCommitSignature, splitTagSignature } from '../../shared/sources/git-verify.js';

const head = 'tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\nauthor A <a@example.com> 1700000000 +0000\ncommitter A <a@example.com> 1700000000 +0000\n';

describe('git signature splitting', () => {
  test('a commit: the gpgsig header is the signature, the rest is the payload', () => {
    const raw = Buffer.from(`${head}gpgsig -----BEGIN SSH SIGNATURE-----\n U1NIU0lH\n -----END SSH SIGNATURE-----\n\nmessage\n`);
    const s = splitCommitSignature(raw);
    assert.equal(s.signature, '-----BEGIN SSH SIGNATURE-----\nU1NIU0lH\n-----END SSH SIGNATURE-----\n');
    assert.equal(s.payload.toString(), `${head}\nmessage\n`);
    assert.equal(signatureType(s.signature), 'ssh');
  });

  test('a signature-looking message is not a signature; gpgsig-sha256 is dropped from the payload', () => {
    const fake = `${head}\nmessage\n-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n`;
    assert.deepEqual(splitCommitSignature(Buffer.from(fake)), { payload: Buffer.from(fake), signature: '' });
    const both = Buffer.from(`${head}gpgsig-sha256 -----BEGIN PGP SIGNATURE-----\n xyz\n -----END PGP SIGNATURE-----\n\nm\n`);
    const s = splitCommitSignature(both);
    assert.equal(s.signature, '');
    assert.equal(s.payload.toString(), `${head}\nm\n`);
  });

  test('a tag: the last armored block of the message', () => {
    const body = 'object 4b825dc642cb6eb9a060e54bf8d69288fbee4904\ntype commit\ntag v1\ntagger A <a@example.com> 1700000000 +0000\n\nrelease\n';
    const sig = '-----BEGIN PGP SIGNATURE-----\nabc\n-----END PGP SIGNATURE-----\n';
    const s = splitTagSignature(Buffer.from(body + sig));
    assert.equal(s.payload.toString(), body);
    assert.equal(s.signature, sig);
    assert.equal(splitTagSignature(Buffer.from(body)).signature, '');
  });
});
