/**
 * Master keys and the decryption Secret: age (identities and stanzas from the real `age` and
 * `age-keygen` binaries as well as the age-encryption package, post-quantum hybrid keys), OpenPGP
 * (openpgp keys, a message made by the real `gpg` when it is installed), AWS KMS through a
 * loopback endpoint that records the exact Decrypt and AssumeRole requests, key groups and
 * Shamir, Flux's key order, and the errors for wrong, missing and unsupported keys.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { createDecryptor } from '../../shared/sops/index.js';
import { shamirSplit } from '../../shared/sops/shamir.js';
import type { MasterKey } from '../../shared/sops/types.js';
import { ageEncWithCli, ageKeygen, encodeSops } from './encoder.js';
import { ageIdentity, ageKey, dataKey, pgpKey, pgpKeyPair, rejection, secretData, secretValue } from './fixtures.js';
import { startFakeAws, type FakeAws } from './kms-endpoint.js';
import { randomBytes } from 'node:crypto';

const ARN = 'arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

function yamlFile(key: Buffer, groups: MasterKey[][], value: string, extra: { shamirThreshold?: number } = {}): Buffer {
  return encodeSops(Buffer.from(`apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: ${value}\n`), 'yaml', {
    dataKey: key, keyGroups: groups, rules: { encryptedRegex: '^(data|stringData)$' }, ...extra,
  });
}

/** sops wraps its report at 60/75 columns; this joins the lines back for matching. */
function flat(message: string): string {
  return message.replace(/\n[ \t]*(\| )?/g, ' ');
}

function password(out: Buffer): string {
  return (parseYaml(out.toString()) as { stringData: { password: string } }).stringData.password;
}

describe('age', () => {
  test('a file whose age stanza was made by the real age binary decrypts with an age-keygen identity', async () => {
    const kg = ageKeygen();
    const key = dataKey();
    const enc = ageEncWithCli(key, kg.recipient);
    assert.match(enc, /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    const value = secretValue();
    const file = yamlFile(key, [[{ type: 'age', recipient: kg.recipient, enc }]], value);
    // The whole age-keygen output, comments included, as users put it in the Secret.
    const dec = await createDecryptor({ secretData: secretData({ 'age.agekey': kg.file }), secretName: 'flux-system/sops-age' });
    assert.equal(password(await dec.decrypt(file, 'yaml')), value);
  });

  test('the real age binary decrypts the stanzas this package writes (same format both ways)', async () => {
    const kg = ageKeygen();
    const key = dataKey();
    const entry = await ageKey(key, kg.recipient);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-age-'));
    try {
      const idFile = path.join(dir, 'id.txt');
      spawnSync('sh', ['-c', `umask 077; cat > ${idFile}`], { input: kg.file });
      const r = spawnSync('age', ['--decrypt', '--identity', idFile], { input: entry.type === 'age' ? entry.enc : '' });
      assert.equal(r.status, 0, r.stderr.toString());
      assert.ok(r.stdout.equals(key));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('post-quantum hybrid identities (AGE-SECRET-KEY-PQ-1) and several identities per entry', async () => {
    const pq = await ageIdentity(true);
    const other = await ageIdentity();
    assert.match(pq.recipient, /^age1pq1/);
    const key = dataKey();
    const value = secretValue();
    const file = yamlFile(key, [[await ageKey(key, pq.recipient)]], value);
    const dec = await createDecryptor({ secretData: secretData({ 'keys.agekey': `# two keys\n${other.identity}\n\n${pq.identity}\r\n` }) });
    assert.equal(dec.keyCounts.age, 2);
    assert.equal(password(await dec.decrypt(file, 'yaml')), value);
  });

  test('a wrong identity gives sops\'s data key report naming the recipient', async () => {
    const right = await ageIdentity();
    const wrong = await ageIdentity();
    const key = dataKey();
    const value = secretValue();
    const file = yamlFile(key, [[await ageKey(key, right.recipient)]], value);
    const dec = await createDecryptor({ secretData: secretData({ 'wrong.agekey': wrong.identity }), secretName: 'apps/sops' });
    const err = await rejection(() => dec.decrypt(file, 'yaml', { where: 'apps/db.yaml' }), [value, wrong.identity]);
    assert.equal(err.code, 'SopsDataKeyUnavailable');
    assert.equal(err.message, [
      "'apps/db.yaml': cannot get sops data key: Failed to get the data key required to decrypt the SOPS file.",
      '',
      'Group 0: FAILED',
      `  ${right.recipient}: FAILED`,
      '    - | failed to create reader for decrypting sops data key with',
      '      | age: no identity matched any of the recipients',
      '',
      'Recovery failed because no master key was able to decrypt the file. In',
      'order for SOPS to recover the file, at least one key has to be successful,',
      'but none were.',
    ].join('\n'));
  });

  test('no decryption Secret at all: the age key cannot be tried', async () => {
    const id = await ageIdentity();
    const key = dataKey();
    const file = yamlFile(key, [[await ageKey(key, id.recipient)]], secretValue());
    const dec = await createDecryptor({});
    const err = await rejection(() => dec.decrypt(file, 'yaml'));
    assert.match(flat(err.message), /failed to load age identities: the decryption Secret has no \*\.agekey entry/);
  });

  test('Flux\'s --sops-age-secret fallback is used only without a secretRef, and only for *.agekey', async () => {
    const id = await ageIdentity();
    const key = dataKey();
    const value = secretValue();
    const file = yamlFile(key, [[await ageKey(key, id.recipient)]], value);
    const fallback = secretData({ 'identity.agekey': id.identity, 'junk.asc': 'not a key' });
    const viaFallback = await createDecryptor({ fallbackAgeSecretData: fallback, fallbackAgeSecretName: 'flux-system/global-age' });
    assert.equal(password(await viaFallback.decrypt(file, 'yaml')), value);
    const own = await createDecryptor({ secretData: secretData({ 'other.txt': 'x' }), fallbackAgeSecretData: fallback });
    assert.equal(own.keyCounts.age, 0);
  });

  test('a malformed *.agekey entry fails the import, naming the entry and the Secret only', async () => {
    const id = await ageIdentity();
    const broken = id.identity.slice(0, -4) + 'QQQQ';
    const err = await rejection(() => createDecryptor({ secretData: secretData({ 'bad.agekey': `# c\n${broken}\n` }), secretName: 'apps/sops' }), [broken, id.identity]);
    assert.equal(err.code, 'SopsKeyImportFailed');
    assert.equal(err.message, "failed to import 'bad.agekey' data from sops decryption Secret 'apps/sops': failed to parse and add to age identities: line 2: malformed secret key");
    const plugin = await rejection(() => createDecryptor({ secretData: secretData({ 'p.agekey': 'AGE-PLUGIN-YUBIKEY-1XYZ' }) }));
    assert.match(plugin.message, /age plugin identities are not supported/);
    const notBase64 = await rejection(() => createDecryptor({ secretData: { 'raw.agekey': id.identity } }), [id.identity]);
    assert.match(notBase64.message, /'raw\.agekey'.*the value is not base64/);
  });
});

describe('OpenPGP', () => {
  test('a passphrase-less *.asc key decrypts; a second unrelated key is harmless', async () => {
    const pair = await pgpKeyPair();
    const other = await pgpKeyPair();
    const key = dataKey();
    const value = secretValue();
    const file = yamlFile(key, [[await pgpKey(key, pair)]], value);
    const dec = await createDecryptor({ secretData: secretData({ 'a.asc': other.privateKey, 'b.asc': pair.privateKey }) });
    assert.equal(password(await dec.decrypt(file, 'yaml')), value);
  });

  test('a passphrase-protected key is reported as such; a public key alone cannot decrypt', async () => {
    const pair = await pgpKeyPair('correct horse');
    const key = dataKey();
    const file = yamlFile(key, [[await pgpKey(key, pair)]], secretValue());
    const locked = await createDecryptor({ secretData: secretData({ 'locked.asc': pair.privateKey }) });
    assert.equal(locked.keyCounts.pgpLocked, 1);
    const err = await rejection(() => locked.decrypt(file, 'yaml'));
    assert.match(flat(err.message), new RegExp(`${pair.fingerprint}: FAILED .*the key ${pair.fingerprint} is protected by a passphrase, which Flux does not support`));
    const pub = await createDecryptor({ secretData: secretData({ 'pub.asc': pair.publicKey }) });
    assert.match(flat((await rejection(() => pub.decrypt(file, 'yaml'))).message), /no private key in the decryption Secret/);
    const junk = await rejection(() => createDecryptor({ secretData: secretData({ 'junk.asc': 'not-a-valid-armored-key' }), secretName: 'apps/sops' }));
    assert.equal(junk.message, "failed to import 'junk.asc' data from sops decryption Secret 'apps/sops': gpg: no valid OpenPGP data found");
  });

  test('a data key encrypted by the real gpg binary', async (t) => {
    if (spawnSync('gpg', ['--version']).status !== 0) {
      t.skip('gpg is not installed');
      return;
    }
    const home = mkdtempSync(path.join(os.tmpdir(), 'fluxless-gpg-'));
    try {
      const env = { ...process.env, GNUPGHOME: home };
      const gen = spawnSync('gpg', ['--batch', '--passphrase', '', '--quick-gen-key', 'Fluxless Test <t@example.com>', 'ed25519', 'cert', 'never'], { env });
      assert.equal(gen.status, 0, gen.stderr.toString());
      const fp = /fpr:::::::::([0-9A-F]{40}):/.exec(spawnSync('gpg', ['--batch', '--with-colons', '--list-keys'], { env }).stdout.toString())![1];
      assert.equal(spawnSync('gpg', ['--batch', '--passphrase', '', '--quick-add-key', fp, 'cv25519', 'encr', 'never'], { env }).status, 0);
      const key = dataKey();
      const enc = spawnSync('gpg', ['--batch', '--armor', '--trust-model', 'always', '--encrypt', '--recipient', fp], { env, input: key });
      assert.equal(enc.status, 0, enc.stderr.toString());
      const secret = spawnSync('gpg', ['--batch', '--armor', '--pinentry-mode', 'loopback', '--passphrase', '', '--export-secret-keys', fp], { env }).stdout;
      const value = secretValue();
      const file = yamlFile(key, [[{ type: 'pgp', fingerprint: fp, enc: enc.stdout.toString().trimEnd(), createdAt: '2026-01-01T00:00:00Z' }]], value);
      const dec = await createDecryptor({ secretData: secretData({ 'gpg.asc': secret }) });
      assert.equal(password(await dec.decrypt(file, 'yaml')), value);
    } finally {
      // gpg started an agent for this home; stop it before removing the home.
      spawnSync('gpgconf', ['--kill', 'gpg-agent'], { env: { ...process.env, GNUPGHOME: home } });
      rmSync(home, { recursive: true, force: true });
    }
  });
});

describe('AWS KMS', () => {
  let aws: FakeAws;
  const creds = 'aws_access_key_id: AKIAFAKESTATIC000001\naws_secret_access_key: static-secret\n';
  after(async () => aws?.close());

  async function fake(): Promise<FakeAws> {
    aws ??= await startFakeAws();
    return aws;
  }

  test('Decrypt is called with the key ARN and the file\'s encryption context, in the ARN\'s region, with sops.aws-kms credentials', async () => {
    const srv = await fake();
    const key = dataKey();
    const blob = randomBytes(48);
    const context = { app: 'payments', env: 'prod' };
    srv.register(blob, key, ARN, context);
    const value = secretValue();
    const file = yamlFile(key, [[{ type: 'kms', arn: ARN, role: '', context, enc: blob.toString('base64'), createdAt: '2026-01-01T00:00:00Z', awsProfile: '' }]], value);
    const dec = await createDecryptor({ secretData: secretData({ 'sops.aws-kms': creds }), kms: { endpoint: srv.url, maxAttempts: 1 } });
    const before = srv.requests.length;
    assert.equal(password(await dec.decrypt(file, 'yaml')), value);
    // A second decrypt of the same file reuses the data key: no second KMS call.
    await dec.decrypt(file, 'yaml');
    const reqs = srv.requests.slice(before);
    assert.equal(reqs.length, 1);
    const r = reqs[0];
    assert.equal(r.headers['x-amz-target'], 'TrentService.Decrypt');
    assert.deepEqual(JSON.parse(r.body), { CiphertextBlob: blob.toString('base64'), EncryptionContext: context, KeyId: ARN });
    assert.match(String(r.headers.authorization), /^AWS4-HMAC-SHA256 Credential=AKIAFAKESTATIC000001\/\d{8}\/eu-west-3\/kms\/aws4_request/);
    dec.close();
  });

  test('a key with a role is decrypted after STS AssumeRole, with the temporary credentials', async () => {
    const srv = await fake();
    const key = dataKey();
    const blob = randomBytes(40);
    srv.register(blob, key, ARN);
    const role = 'arn:aws:iam::123456789012:role/sops-decrypt';
    const file = yamlFile(key, [[{ type: 'kms', arn: ARN, role, context: {}, enc: blob.toString('base64'), createdAt: '2026-01-01T00:00:00Z', awsProfile: '' }]], 'v');
    const dec = await createDecryptor({
      kms: { endpoint: srv.url, stsEndpoint: srv.url, maxAttempts: 1, credentials: { accessKeyId: 'AKIAFUNCTIONROLE0001', secretAccessKey: 'fn' } },
    });
    const before = srv.requests.length;
    assert.equal(password(await dec.decrypt(file, 'yaml')), 'v');
    const [sts, kms] = srv.requests.slice(before);
    const form = new URLSearchParams(sts.body);
    assert.equal(form.get('Action'), 'AssumeRole');
    assert.equal(form.get('RoleArn'), role);
    assert.match(form.get('RoleSessionName') ?? '', /^sops@[a-zA-Z0-9=,.@_-]+$/);
    assert.match(String(sts.headers.authorization), /Credential=AKIAFUNCTIONROLE0001\/\d{8}\/eu-west-3\/sts\/aws4_request/);
    assert.deepEqual(JSON.parse(kms.body).EncryptionContext, {});
    assert.match(String(kms.headers.authorization), new RegExp(`Credential=${srv.assumedAccessKeyId}/`));
    assert.equal(kms.headers['x-amz-security-token'], 'assumed-session-token');
    dec.close();
  });

  test('KMS refusing the context is reported with the ARN and KMS\'s error', async () => {
    const srv = await fake();
    const key = dataKey();
    const blob = randomBytes(32);
    srv.register(blob, key, ARN, { app: 'a' });
    const file = yamlFile(key, [[{ type: 'kms', arn: ARN, role: '', context: { app: 'b' }, enc: blob.toString('base64'), createdAt: '2026-01-01T00:00:00Z', awsProfile: '' }]], 'v');
    const dec = await createDecryptor({ secretData: secretData({ 'sops.aws-kms': creds }), kms: { endpoint: srv.url, maxAttempts: 1 } });
    const err = await rejection(() => dec.decrypt(file, 'yaml'));
    assert.match(err.message, new RegExp(`${ARN.replace(/[/.]/g, '\\$&')}\\|app:b: FAILED`));
    assert.match(flat(err.message), /failed to decrypt sops data key with AWS KMS: InvalidCiphertextException: The ciphertext, key or encryption context is not valid\./);
    dec.close();
  });

  test('a malformed sops.aws-kms entry fails the import without echoing it', async () => {
    const err = await rejection(() => createDecryptor({ secretData: secretData({ 'sops.aws-kms': 'aws_secret_access_key: [unclosed' }), secretName: 'apps/aws' }), ['unclosed']);
    assert.equal(err.message, "failed to import 'sops.aws-kms' data from sops decryption Secret 'apps/aws': failed to unmarshal AWS credentials file: the entry is not valid YAML");
  });
});

describe('key groups', () => {
  test('within a group age is tried before PGP and KMS, whatever the file order', async () => {
    const srv = await startFakeAws();
    try {
      const id = await ageIdentity();
      const pair = await pgpKeyPair();
      const key = dataKey();
      const blob = randomBytes(32);
      srv.register(blob, key, ARN);
      const kms: MasterKey = { type: 'kms', arn: ARN, role: '', context: {}, enc: blob.toString('base64'), createdAt: '2026-01-01T00:00:00Z', awsProfile: '' };
      const file = yamlFile(key, [[kms, await pgpKey(key, pair), await ageKey(key, id.recipient)]], 'v');
      const dec = await createDecryptor({
        secretData: secretData({ 'k.asc': pair.privateKey, 'k.agekey': id.identity, 'sops.aws-kms': 'aws_access_key_id: A\naws_secret_access_key: B\n' }),
        kms: { endpoint: srv.url, maxAttempts: 1 },
      });
      assert.equal(password(await dec.decrypt(file, 'yaml')), 'v');
      assert.equal(srv.requests.length, 0, 'KMS is not asked when an age key works');
      dec.close();
    } finally {
      await srv.close();
    }
  });

  test('Shamir: two of three groups recover the data key; one is not enough', async () => {
    const ids = await Promise.all([ageIdentity(), ageIdentity(), ageIdentity()]);
    const key = dataKey();
    const parts = shamirSplit(key, 3, 2, (n) => randomBytes(n));
    const groups = await Promise.all(ids.map(async (id, i) => [await ageKey(parts[i], id.recipient)]));
    const value = secretValue();
    const file = yamlFile(key, groups, value, { shamirThreshold: 2 });
    assert.match(file.toString(), /key_groups:/);
    assert.match(file.toString(), /shamir_threshold: 2/);
    const two = await createDecryptor({ secretData: secretData({ 'a.agekey': ids[0].identity, 'c.agekey': ids[2].identity }) });
    assert.equal(password(await two.decrypt(file, 'yaml')), value);
    const one = await createDecryptor({ secretData: secretData({ 'b.agekey': ids[1].identity }) });
    const err = await rejection(() => one.decrypt(file, 'yaml'), [value]);
    assert.match(err.message, /Group 0: FAILED[\s\S]*Group 1: SUCCESS[\s\S]*Group 2: FAILED/);
    assert.match(flat(err.message), /Recovery failed because the file was encrypted with a Shamir threshold of 2, but only 1 part\(s\) were successfully recovered/);
  });

  test('unsupported key types are named, and an unused provider entry is pointed out', async () => {
    const key = dataKey();
    const file = yamlFile(key, [[{ type: 'gcp_kms', resourceId: 'projects/p/locations/global/keyRings/r/cryptoKeys/k', enc: 'Y2lwaGVy', createdAt: '2026-01-01T00:00:00Z' }]], 'v');
    const dec = await createDecryptor({ secretData: secretData({ 'sops.gcp-kms': '{}' }) });
    const err = await rejection(() => dec.decrypt(file, 'yaml'));
    assert.match(err.message, /projects\/p\/locations\/global\/keyRings\/r\/cryptoKeys\/k: FAILED/);
    assert.match(flat(err.message), /GCP KMS \(gcp_kms\) master keys are not supported by Fluxless \(the Secret's 'sops\.gcp-kms' entry is not used\)/);
  });
});
