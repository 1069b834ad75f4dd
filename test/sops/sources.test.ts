/**
 * Decrypting a work tree before the build (kustomize-controller DecryptSources): the files
 * generators and patches read are decrypted in place, what Flux skips is skipped, paths stay
 * inside the root, tampered manifests fail before anything is built; then the real kustomize
 * (`kubectl kustomize`) builds the tree and DecryptResource finishes the rendered objects.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { createDecryptor, type Decryptor, type KubeObject } from '../../shared/sops/index.js';
import { configureLogging } from '../../shared/util/log.js';
import type { MasterKey, SopsFormat } from '../../shared/sops/types.js';
import { testEnv } from '../harness/index.js';
import { encodeSops } from './encoder.js';
import { ageIdentity, ageKey, dataKey, rejection, secretData, secretValue } from './fixtures.js';

const run = promisify(execFile);
let key: Buffer;
let groups: MasterKey[][];
let dec: Decryptor;
const roots: string[] = [];

before(async () => {
  const id = await ageIdentity();
  key = dataKey();
  groups = [[await ageKey(key, id.recipient)]];
  dec = await createDecryptor({ secretData: secretData({ 'age.agekey': id.identity }), secretName: 'flux-system/sops-age' });
});
after(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function enc(plain: string | Buffer, format: SopsFormat, rules = {}): Buffer {
  return encodeSops(Buffer.from(plain), format, { dataKey: key, keyGroups: groups, rules });
}

/** A work tree from a map of relative paths to contents. */
function tree(files: Record<string, string | Buffer>): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fluxless-sops-src-'));
  roots.push(root);
  for (const [p, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
    writeFileSync(path.join(root, p), content);
  }
  return root;
}

const read = (root: string, p: string) => readFileSync(path.join(root, p), 'utf8');

describe('generator inputs and patches', () => {
  test('files, envs and patches are decrypted in place in each format, through resources and components', async () => {
    const pw = secretValue('pw');
    const root = tree({
      'apps/kustomization.yaml': 'resources:\n  - ./db\n  - https://example.com/remote.yaml\n  - missing-dir\ncomponents:\n  - ../shared\n',
      'apps/db/kustomization.yaml': [
        'secretGenerator:',
        '  - name: db',
        '    files:',
        '      - config.json=db.enc',
        '      - token=token.bin',
        '      - settings.yaml',
        '    envs:',
        '      - db.env',
        '      - extra',
        'patches:',
        '  - path: patch.yaml',
        '  - path: https://example.com/patch.yaml',
        '',
      ].join('\n'),
      'apps/db/db.enc': enc(`{"password": "${pw}"}`, 'json'),
      'apps/db/token.bin': enc('t0ken', 'binary'),
      'apps/db/settings.yaml': enc('level: debug\n', 'yaml'),
      'apps/db/db.env': enc('USER=admin\n', 'dotenv'),
      'apps/db/extra': enc('EXTRA=1\n', 'dotenv'),
      'apps/db/patch.yaml': enc('apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    patched: yes\n', 'yaml', { encryptedRegex: '^stringData$' }),
      'shared/kustomization.yaml': 'apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nsecretGenerator:\n  - name: shared\n    envs: [shared.env]\n',
      'shared/shared.env': enc('SHARED=yes\n', 'dotenv'),
    });
    const res = await dec.decryptSources(root, 'apps');
    assert.deepEqual(res.decrypted.sort(), ['apps/db/db.enc', 'apps/db/db.env', 'apps/db/extra', 'apps/db/patch.yaml', 'apps/db/settings.yaml', 'apps/db/token.bin', 'shared/shared.env']);
    assert.equal(read(root, 'apps/db/db.enc'), `{\n\t"password": "${pw}"\n}\n`);
    assert.equal(read(root, 'apps/db/token.bin'), 't0ken');
    assert.equal(read(root, 'apps/db/settings.yaml'), 'level: debug\n');
    assert.equal(read(root, 'apps/db/db.env'), 'USER=admin\n');
    assert.equal(read(root, 'apps/db/extra'), 'EXTRA=1\n');
    assert.match(read(root, 'apps/db/patch.yaml'), /patched: "yes"/);
    assert.equal(read(root, 'shared/shared.env'), 'SHARED=yes\n');
  });

  test('files without their format\'s marker are left alone; the format comes from the key, not the file', async () => {
    const root = tree({
      'kustomization.yaml': 'secretGenerator:\n  - name: s\n    files:\n      - plain.txt\n      - compact.json\n',
      'plain.txt': 'not encrypted\n',
      'compact.json': JSON.stringify(JSON.parse(enc('{"a": "b"}', 'json').toString())),
    });
    assert.deepEqual(await dec.decryptSources(root, '.'), { decrypted: [], verified: [] });
    assert.equal(read(root, 'plain.txt'), 'not encrypted\n');
    assert.ok(read(root, 'compact.json').includes('"mac":"ENC['), 'compact JSON lacks the marker and stays encrypted');
    // `blob` has no extension, so data.json is read as a binary envelope (same marker as JSON),
    // and a JSON document has no `data` key to emit: Flux fails the same way.
    const wrong = tree({ 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    files: [blob=data.json]\n', 'data.json': enc('{"a": "b"}', 'json') });
    assert.equal((await rejection(() => dec.decryptSources(wrong, '.'))).message,
      "error decrypting sources: 'data.json': failed to emit encrypted binary file as decrypted binary: error emitting binary store: no binary data found in tree");
  });
});

test('a file hard-linked from elsewhere (an artifact cache) is replaced, not rewritten: the other link stays encrypted', async () => {
  const cache = tree({ 'db.env': enc('PASSWORD=pw\n', 'dotenv') });
  const root = tree({ 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    envs: [db.env]\n' });
  linkSync(path.join(cache, 'db.env'), path.join(root, 'db.env'));
  await dec.decryptSources(root, '.');
  assert.equal(read(root, 'db.env'), 'PASSWORD=pw\n');
  assert.equal(statSync(path.join(root, 'db.env')).mode & 0o777, 0o600);
  assert.match(read(cache, 'db.env'), /^PASSWORD=ENC\[/);
});

describe('paths stay inside the root', () => {
  test('a symlink inside the root is followed; one pointing out is clamped to the root', async () => {
    const root = tree({
      'app/kustomization.yaml': 'secretGenerator:\n  - name: s\n    envs:\n      - link.env\n',
      'other/data.env': enc('K=v\n', 'dotenv'),
    });
    symlinkSync('../other/data.env', path.join(root, 'app/link.env'));
    const res = await dec.decryptSources(root, 'app');
    assert.deepEqual(res.decrypted, ['other/data.env']);
    assert.equal(read(root, 'other/data.env'), 'K=v\n');

    const outside = tree({ 'secret.env': enc('X=1\n', 'dotenv') });
    const inner = tree({ 'kustomization.yaml': `secretGenerator:\n  - name: s\n    envs:\n      - ../${path.basename(outside)}/secret.env\n` });
    const err = await rejection(() => dec.decryptSources(inner, '.'));
    assert.equal(err.message, `error decrypting sources: lstat ${path.basename(outside)}/secret.env: no such file or directory`);
    assert.ok(read(outside, 'secret.env').includes('sops_mac=ENC['), 'a file outside the root is never touched');
  });

  test('missing and irregular generator files, oversized files and ambiguous kustomizations are errors', async () => {
    const missing = tree({ 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    files: [gone.txt]\n' });
    assert.equal((await rejection(() => dec.decryptSources(missing, '.'))).message, 'error decrypting sources: lstat gone.txt: no such file or directory');
    const dir = tree({ 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    files: [sub]\n', 'sub/x': 'x' });
    assert.match((await rejection(() => dec.decryptSources(dir, '.'))).message, /cannot decrypt irregular file as it has file mode type bits set: sub/);
    const big = tree({ 'kustomization.yaml': 'secretGenerator:\n  - name: s\n    envs: [big.env]\n', 'big.env': enc('A=' + 'x'.repeat(2000) + '\n', 'dotenv') });
    const small = await createDecryptor({ secretData: secretData({}), maxFileSize: 1024 });
    assert.match((await rejection(() => small.decryptSources(big, '.'))).message, /cannot decrypt file with size \(\d+ bytes\) exceeding limit \(1024\): big\.env/);
    const two = tree({ 'kustomization.yaml': 'resources: []\n', 'kustomization.yml': 'resources: []\n' });
    assert.equal((await rejection(() => dec.decryptSources(two, '.'))).message, 'error decrypting sources: found multiple kustomization files');
    const none = tree({ 'a/kustomization.yaml': 'resources: [../b]\n', 'b/x.yaml': 'a: b\n' });
    assert.equal((await rejection(() => dec.decryptSources(none, 'a'))).message, "error decrypting sources: no kustomization file found in 'b'");
  });
});

describe('encrypted manifests listed as resources', () => {
  test('their MAC is checked before the build; a tampered one fails naming the file', async () => {
    const secret = 'apiVersion: v1\nkind: Secret\nmetadata:\n    name: db\nstringData:\n    password: pw\n';
    const good = enc(secret, 'yaml', { encryptedRegex: '^(data|stringData)$' });
    const root = tree({
      'kustomization.yaml': 'resources:\n  - good.yaml\n  - plain.yaml\n',
      'good.yaml': good,
      'plain.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: c\n',
    });
    assert.deepEqual(await dec.decryptSources(root, '.'), { decrypted: [], verified: ['good.yaml'] });
    assert.ok(read(root, 'good.yaml').includes('password: ENC['), 'manifests stay encrypted for decryptResource');
    writeFileSync(path.join(root, 'good.yaml'), good.toString().replace('name: db', 'name: hijacked'));
    const err = await rejection(() => dec.decryptSources(root, '.'));
    assert.equal(err.code, 'SopsMacMismatch');
    assert.match(err.message, /^error decrypting sources: 'good\.yaml': failed to verify sops data integrity/);
    assert.deepEqual(await dec.decryptSources(root, '.', { verifyResources: false }), { decrypted: [], verified: [] });
  });

  test('concatenated sops files in one manifest are checked one by one; Disabled documents are skipped', async () => {
    const a = enc('apiVersion: v1\nkind: Secret\nmetadata:\n    name: a\nstringData:\n    k: a\n', 'yaml', { encryptedRegex: '^stringData$' });
    const b = enc('apiVersion: v1\nkind: Secret\nmetadata:\n    name: b\n    annotations:\n        kustomize.toolkit.fluxcd.io/decrypt: Disabled\nstringData:\n    k: b\n', 'yaml', { encryptedRegex: '^stringData$' });
    const tamperedB = b.toString().replace('name: b', 'name: x');
    const root = tree({ 'kustomization.yaml': 'resources: [all.yaml]\n', 'all.yaml': `${a}---\n${tamperedB}` });
    assert.deepEqual((await dec.decryptSources(root, '.')).verified, ['all.yaml']);
  });
});

test('end to end with the real kustomize: decryptSources, `kubectl kustomize`, decryptResource', async () => {
  const logs: string[] = [];
  configureLogging({ sink: (l) => logs.push(l), level: 'debug' });
  try {
    const { kubectl } = await (await testEnv()).tools();
    const pw = secretValue('pw');
    const token = secretValue('token');
    const api = secretValue('api');
    const root = tree({
      'clusters/prod/kustomization.yaml': 'namespace: apps\nresources:\n  - ../../base\n',
      'base/kustomization.yaml': [
        'generatorOptions:',
        '  disableNameSuffixHash: true',
        'resources:',
        '  - api-secret.yaml',
        'secretGenerator:',
        '  - name: db',
        '    envs: [db.env]',
        '    files: [token=token.txt]',
        'configMapGenerator:',
        '  - name: db-env',
        '    envs: [db.env]',
        '',
      ].join('\n'),
      'base/db.env': enc(`PASSWORD=${pw}\n`, 'dotenv'),
      'base/token.txt': enc(token, 'binary'),
      'base/api-secret.yaml': enc(`apiVersion: v1\nkind: Secret\nmetadata:\n    name: api\nstringData:\n    key: ${api}\n`, 'yaml', { encryptedRegex: '^(data|stringData)$' }),
    });
    await dec.decryptSources(root, 'clusters/prod');
    const { stdout } = await run(kubectl, ['kustomize', path.join(root, 'clusters/prod')], { maxBuffer: 16 << 20 });
    const objects = parseAllDocuments(stdout).map((d) => d.toJS() as KubeObject);
    const out: KubeObject[] = [];
    for (const o of objects) out.push((await dec.decryptResource(o)) ?? o);
    const byName = Object.fromEntries(out.map((o) => [`${String(o.kind)}/${String((o.metadata as { name: string }).name)}`, o]));
    const db = byName['Secret/db'] as { data: Record<string, string>; metadata: { namespace: string } };
    assert.equal(db.metadata.namespace, 'apps');
    assert.equal(Buffer.from(db.data.PASSWORD, 'base64').toString(), pw);
    assert.equal(Buffer.from(db.data.token, 'base64').toString(), token);
    assert.equal((byName['ConfigMap/db-env'] as { data: Record<string, string> }).data.PASSWORD, pw, 'configMapGenerator sees the decrypted env file');
    const apiSecret = byName['Secret/api'] as { stringData: Record<string, string>; metadata: { namespace: string }; sops?: unknown };
    assert.equal(apiSecret.stringData.key, api);
    assert.equal(apiSecret.metadata.namespace, 'apps');
    assert.equal(apiSecret.sops, undefined);
    const logText = logs.join('\n');
    for (const v of [pw, token, api]) assert.ok(!logText.includes(v), 'decrypted values never reach the logs');
    assert.ok(logText.includes('sops: decrypted'), 'the decryptions were logged (without values)');
  } finally {
    configureLogging({ sink: (l) => process.stderr.write(l + '\n'), level: 'info' });
  }
});

test('documents sops could not load (integer keys) next to an encrypted one do not break the MAC check', async () => {
  const secret = enc('apiVersion: v1\nkind: Secret\nmetadata:\n    name: s\nstringData:\n    k: v\n', 'yaml', { encryptedRegex: '^stringData$' });
  const root = tree({
    'kustomization.yaml': 'resources: [mixed.yaml]\n',
    'mixed.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ports\ndata:\n  80: http\n---\n${secret}`,
  });
  assert.deepEqual((await dec.decryptSources(root, '.')).verified, ['mixed.yaml']);
});
