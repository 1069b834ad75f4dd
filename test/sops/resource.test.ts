/**
 * Objects after the kustomize build (kustomize-controller DecryptResource): whole objects with a
 * sops block, Secret data values that hold sops files, the Disabled annotation, Flux's messages,
 * and the apply-time refusal of a Secret left encrypted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import {
  assertNotEncryptedSecret, createDecryptor, encryptedSecretMessage, isDecryptionDisabled, isEncryptedSecret, type KubeObject,
} from '../../shared/sops/index.js';
import { encodeSops } from './encoder.js';
import { ageIdentity, ageKey, dataKey, rejection, secretData, secretValue } from './fixtures.js';

async function setup() {
  const id = await ageIdentity();
  const key = dataKey();
  const groups = [[await ageKey(key, id.recipient)]];
  const dec = await createDecryptor({ secretData: secretData({ 'age.agekey': id.identity }), secretName: 'apps/sops' });
  const file = (plain: string, format: 'yaml' | 'json' | 'dotenv' | 'binary', rules = {}) =>
    encodeSops(Buffer.from(plain), format, { dataKey: key, keyGroups: groups, rules });
  return { dec, file };
}

test('a Secret with a sops block is decrypted even after kustomize changed its plain fields', async () => {
  const s = await setup();
  const token = secretValue('token');
  const enc = s.file(`apiVersion: v1\nkind: Secret\nmetadata:\n    name: api\ntype: Opaque\nstringData:\n    token: ${token}\n    port: 8080\n`, 'yaml', { encryptedRegex: '^(data|stringData)$' });
  const obj = parseYaml(enc.toString()) as KubeObject;
  // What a build does: namespace, name prefix, common labels.
  const built: KubeObject = { ...obj, metadata: { name: 'prod-api', namespace: 'apps', labels: { team: 'a' } } };
  const frozen = JSON.stringify(built);
  assert.equal(isEncryptedSecret(built), true);
  const out = await s.dec.decryptResource(built);
  assert.deepEqual(out, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'prod-api', namespace: 'apps', labels: { team: 'a' } }, type: 'Opaque', stringData: { token, port: 8080 } });
  assert.equal(JSON.stringify(built), frozen, 'the input object is not modified');
  assert.equal(isEncryptedSecret(out!), false);
});

test('objects of other kinds with a sops block are decrypted too; Disabled (any case) leaves them alone', async () => {
  const s = await setup();
  const enc = s.file('apiVersion: example.com/v1\nkind: Config\nmetadata:\n    name: c\nspec:\n    apiKey: k3y\n', 'yaml', { encryptedRegex: '^spec$' });
  const obj = parseYaml(enc.toString()) as KubeObject;
  assert.deepEqual((await s.dec.decryptResource(obj))?.spec, { apiKey: 'k3y' });
  const disabled = { ...obj, metadata: { name: 'c', annotations: { 'kustomize.toolkit.fluxcd.io/decrypt': 'disabled' } } };
  assert.equal(isDecryptionDisabled(disabled.metadata.annotations), true);
  assert.equal(await s.dec.decryptResource(disabled), undefined);
  assert.equal(await s.dec.decryptResource({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' }, data: { a: 'b' } }), undefined);
});

test('Secret data values holding sops files are decrypted into the format of their key', async () => {
  const s = await setup();
  const b64 = (b: Buffer) => b.toString('base64');
  const binary = s.file('raw token bytes', 'binary');
  const dotenv = s.file('USER=admin\nPASS=pw\n', 'dotenv');
  const yaml = s.file('user: admin\n', 'yaml');
  const obj: KubeObject = {
    apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gen', namespace: 'apps' },
    data: { token: b64(binary), 'app.env': b64(dotenv), 'config.json': b64(yaml), plain: b64(Buffer.from('hello')), notBase64: '***' },
  };
  const out = await s.dec.decryptResource(obj);
  const data = out!.data as Record<string, string>;
  assert.equal(Buffer.from(data.token, 'base64').toString(), 'raw token bytes');
  assert.equal(Buffer.from(data['app.env'], 'base64').toString(), 'USER=admin\nPASS=pw\n');
  assert.equal(Buffer.from(data['config.json'], 'base64').toString(), '{\n\t"user": "admin"\n}\n');
  assert.equal(data.plain, b64(Buffer.from('hello')));
  assert.equal(data.notBase64, '***');
});

test('a compact JSON file ("mac":"ENC[ without the space) is not recognised, as in Flux', async () => {
  const s = await setup();
  const pretty = s.file('{"a": "b"}', 'json');
  const compact = Buffer.from(JSON.stringify(JSON.parse(pretty.toString())));
  const obj: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { 'a.json': compact.toString('base64') } };
  assert.equal(await s.dec.decryptResource(obj), undefined);
});

test('failures read like Flux\'s and never contain decrypted values', async () => {
  const s = await setup();
  const first = secretValue('first');
  const enc = s.file(`apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\ndata:\n    a: ${Buffer.from(first).toString('base64')}\n    b: c2Vjb25k\n`, 'yaml', { encryptedRegex: '^data$' }).toString();
  // Break the second value: the first one has been decrypted by then.
  const broken = enc.replace(/( {4}b: ENC\[AES256_GCM,data:)([^,]+)/, (_m, p: string, d: string) => p + (d.startsWith('A') ? 'B' : 'A') + d.slice(1));
  const obj = { ...(parseYaml(broken) as KubeObject), metadata: { name: 'db', namespace: 'apps' } };
  const err = await rejection(() => s.dec.decryptResource(obj), [first, Buffer.from(first).toString('base64')]);
  assert.match(err.message, /^decryption failed for 'Secret\.v1\.\[noGrp\]\/db': failed to decrypt and format 'apps\/db' Secret data: error decrypting sops tree: Error walking tree: Could not decrypt value at 'data\.b': Could not decrypt with AES_GCM: cipher: message authentication failed$/);
  const other = await createDecryptor({ secretData: secretData({ 'x.agekey': (await ageIdentity()).identity }) });
  const field: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'gen', namespace: 'apps' }, data: { 'app.env': s.file('A=1\n', 'dotenv').toString('base64') } };
  const e2 = await rejection(() => other.decryptResource(field));
  assert.match(e2.message, /^decryption failed for 'Secret\.v1\.\[noGrp\]\/gen': failed to decrypt and format 'apps\/gen' Secret field 'app\.env': cannot get sops data key: Failed to get the data key required to decrypt the SOPS file\./);
});

test('apply refuses a v1 Secret that still carries sops, unless decryption is Disabled', () => {
  const secret: KubeObject = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'db', namespace: 'apps' }, sops: { mac: 'ENC[...]' } };
  assert.equal(encryptedSecretMessage(secret), 'Secret/apps/db is SOPS encrypted, configuring decryption is required for this secret to be reconciled');
  assert.throws(() => assertNotEncryptedSecret(secret), /Secret\/apps\/db is SOPS encrypted/);
  assertNotEncryptedSecret({ ...secret, metadata: { name: 'db', annotations: { 'kustomize.toolkit.fluxcd.io/decrypt': 'Disabled' } } });
  assertNotEncryptedSecret({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, sops: {} });
});
