/**
 * SOPS through `fluxless serve` on the real API server: Secrets encrypted for age (keys and
 * envelopes made by the real `age-keygen` / `age` binaries), OpenPGP and AWS KMS (a loopback
 * KMS endpoint; the function's own credentials), generator inputs (secretGenerator envs and
 * files) decrypted before kustomize, postBuild substitution after decryption; a tampered MAC
 * and a wrong key fail before anything is applied; an encrypted Secret without
 * spec.decryption gets Flux's message. No decrypted value reaches the logs, events, status,
 * the state store, the artifact store, the artifact cache, `fluxless build` or `fluxless diff`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { stringify as toYaml } from 'yaml';
import { buildCmd, diffCmd } from '../../shared/cli/render-cmds.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import { startLocalRuntime } from '../../shared/runtime/local.js';
import type { TenancySettings } from '../../shared/kube/tenancy.js';
import type { MasterKey } from '../../shared/sops/types.js';
import { getCondition } from '../../shared/state/records.js';
import { configureLogging } from '../../shared/util/log.js';
import { ageEncWithCli, ageKeygen, encodeSops } from '../sops/encoder.js';
import { dataKey, pgpKey, pgpKeyPair, secretValue } from '../sops/fixtures.js';
import { startFakeAws } from '../sops/kms-endpoint.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { e2e, fleet } from './helpers.js';

const logs: string[] = [];
configureLogging({ level: 'debug', sink: (line) => logs.push(line) });

const ARN = 'arn:aws:kms:eu-west-3:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const RULES = { encryptedRegex: '^(data|stringData)$' };

function ks(ns: string, name: string, extra: string[]): string {
  return ['apiVersion: kustomize.toolkit.fluxcd.io/v1', 'kind: Kustomization', 'metadata:', `  name: ${name}`, `  namespace: ${ns}`, 'spec:', '  interval: 2s', '  prune: true', `  path: ./${name}`, `  targetNamespace: ${ns}`, '  sourceRef:', '    kind: GitRepository', '    name: flux-system', ...extra, ''].join('\n');
}

const secretYaml = (name: string, stringData: Record<string, string>) => toYaml({ apiVersion: 'v1', kind: 'Secret', metadata: { name }, stringData });

/** Every file under `dir` (bytes as text). */
function filesUnder(dir: string): Array<{ file: string; text: string }> {
  const out: Array<{ file: string; text: string }> = [];
  const walk = (d: string) => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch {
      return;
    }
    for (const n of names) {
      const p = path.join(d, n);
      let st;
      try {
        st = statSync(p);
      } catch {
        continue;
      }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && st.size < 20 << 20) {
        const bytes = readFileSync(p);
        // Artifacts are tar.gz: search what they hold.
        out.push({ file: p, text: (p.endsWith('.gz') ? gunzipSync(bytes) : bytes).toString('latin1') });
      }
    }
  };
  walk(dir);
  return out;
}

test('SOPS with age, PGP and KMS keys through serve; tampered and wrong keys fail first; no plaintext anywhere it must not be', async (t) => {
  const x = await e2e(t);
  const kms = await startFakeAws();
  t.after(() => kms.close());
  const age = ageKeygen();
  const wrongAge = ageKeygen();
  const pgp = await pgpKeyPair();
  const key = dataKey();
  const ageKeys: MasterKey[][] = [[{ type: 'age', recipient: age.recipient, enc: ageEncWithCli(key, age.recipient) }]];
  const pgpKeys: MasterKey[][] = [[await pgpKey(key, pgp)]];
  const blob = randomBytes(48);
  kms.register(blob, key, ARN, { app: 'fleet' });
  const kmsKeys: MasterKey[][] = [[{ type: 'kms', arn: ARN, role: '', context: { app: 'fleet' }, enc: blob.toString('base64'), createdAt: '2026-01-01T00:00:00Z', awsProfile: '' }]];

  const v = { age: secretValue('age'), pgp: secretValue('pgp'), kms: secretValue('kms'), env: secretValue('env'), json: secretValue('json'), tampered: secretValue('tampered'), wrong: secretValue('wrong'), plainless: secretValue('nodec') };
  const enc = (text: string, format: 'yaml' | 'json' | 'dotenv', keyGroups: MasterKey[][], extra: { macOverride?: string } = {}) =>
    encodeSops(Buffer.from(text), format, { dataKey: key, keyGroups, rules: format === 'yaml' ? RULES : undefined, ...extra }).toString('utf8');

  await x.client.request('POST', `/api/v1/namespaces/${x.ns}/secrets`, {
    body: { metadata: { name: 'sops-keys' }, stringData: { 'identity.agekey': age.file, 'team.asc': pgp.privateKey } },
  });
  await x.client.request('POST', `/api/v1/namespaces/${x.ns}/secrets`, { body: { metadata: { name: 'wrong-keys' }, stringData: { 'other.agekey': wrongAge.file } } });
  const decryption = ['  decryption:', '    provider: sops', '    secretRef:'];
  await x.repo.commit(
    fleet(x.ns, {}, {
      'clusters/dev/secrets.yaml': ks(x.ns, 'secrets', [...decryption, '      name: sops-keys', '  postBuild:', '    substitute:', '      greeting: hello']),
      'clusters/dev/tampered.yaml': ks(x.ns, 'tampered', [...decryption, '      name: sops-keys']),
      'clusters/dev/wrongkey.yaml': ks(x.ns, 'wrongkey', [...decryption, '      name: wrong-keys']),
      'clusters/dev/nodecrypt.yaml': ks(x.ns, 'nodecrypt', []),
      'secrets/kustomization.yaml': toYaml({
        resources: ['age.yaml', 'pgp.yaml', 'kms.yaml', 'greeting.yaml'],
        generatorOptions: { disableNameSuffixHash: true },
        secretGenerator: [
          { name: 'app-env', envs: ['app.enc.env'] },
          { name: 'app-config', files: ['config.json=config.enc.json'] },
        ],
      }),
      'secrets/age.yaml': enc(secretYaml('age-secret', { password: v.age }), 'yaml', ageKeys),
      'secrets/pgp.yaml': enc(secretYaml('pgp-secret', { token: v.pgp }), 'yaml', pgpKeys),
      'secrets/kms.yaml': enc(secretYaml('kms-secret', { key: v.kms }), 'yaml', kmsKeys),
      'secrets/app.enc.env': enc(`DB_PASSWORD=${v.env}\n`, 'dotenv', ageKeys),
      'secrets/config.enc.json': enc(JSON.stringify({ apiKey: v.json }), 'json', pgpKeys),
      'secrets/greeting.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\ndata:\n  text: "${greeting} world"\n',
      'tampered/plain.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: tampered-plain\ndata:\n  a: "1"\n',
      'tampered/secret.yaml': enc(secretYaml('tampered', { password: v.tampered }), 'yaml', ageKeys, { macOverride: 'F'.repeat(128) }),
      'wrongkey/plain.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: wrongkey-plain\ndata:\n  a: "1"\n',
      'wrongkey/secret.yaml': enc(secretYaml('wrong', { password: v.wrong }), 'yaml', ageKeys),
      'nodecrypt/secret.yaml': enc(secretYaml('nodec', { password: v.plainless }), 'yaml', ageKeys),
    }),
    'sops fleet',
  );
  await x.repo.push();
  const cluster = await (await testEnv()).cluster();
  const rt = createRuntime(x.cfg, { kubeConfig: kubeConfigFrom(cluster.kubeconfigPath) });
  rt.settings.healthIntervalMs = 200;
  (rt.settings as TenancySettings).sopsKms = { endpoint: kms.url, maxAttempts: 1, credentials: { accessKeyId: 'AKIAFUNCTIONROLE0001', secretAccessKey: 'function-role-secret' } };
  const local = await startLocalRuntime(rt, x.cfg);
  try {
    await checks();
  } finally {
    // Before the e2e helper's own cleanup removes the data directory.
    await local.stop();
  }

  async function checks(): Promise<void> {
    const rev = `main@sha1:${await x.repo.head()}`;
    const cond = async (name: string) => getCondition(await x.record('Kustomization', name), 'Ready');
    await x.waitFor('secrets Ready, the others failed', async () => {
      const [s, tm, w, n] = await Promise.all(['secrets', 'tampered', 'wrongkey', 'nodecrypt'].map(cond));
      return s?.status === 'True' && (await x.record('Kustomization', 'secrets'))?.status.lastAppliedRevision === rev && tm?.status === 'False' && w?.status === 'False' && n?.status === 'False';
    }, 120_000);

    // Decrypted and applied.
    const data = async (name: string) => ((await x.get('Secret', name)) as unknown as { data: Record<string, string> } | undefined)?.data ?? {};
    const plain = (b64: string | undefined) => Buffer.from(b64 ?? '', 'base64').toString('utf8');
    assert.equal(plain((await data('age-secret')).password), v.age);
    assert.equal(plain((await data('pgp-secret')).token), v.pgp);
    assert.equal(plain((await data('kms-secret')).key), v.kms);
    assert.equal(plain((await data('app-env')).DB_PASSWORD), v.env, 'secretGenerator envs decrypted before kustomize');
    assert.deepEqual(JSON.parse(plain((await data('app-config'))['config.json'])), { apiKey: v.json }, 'secretGenerator files decrypted as JSON');
    assert.equal(((await x.get('ConfigMap', 'greeting')) as unknown as { data: { text: string } }).data.text, 'hello world', 'substitution after decryption');
    const decrypt = kms.requests.filter((r) => r.headers['x-amz-target'] === 'TrentService.Decrypt');
    assert.ok(decrypt.length >= 1);
    assert.match(String(decrypt[0].headers.authorization), /Credential=AKIAFUNCTIONROLE0001\/\d{8}\/eu-west-3\/kms\//, "KMS with the function's own credentials");

    // Failures before anything of the revision is applied.
    const tm = await cond('tampered');
    assert.equal(tm?.reason, 'BuildFailed');
    assert.match(tm?.message ?? '', /failed to verify sops data integrity/);
    assert.equal(await x.get('ConfigMap', 'tampered-plain'), undefined);
    assert.equal(await x.get('Secret', 'tampered'), undefined);
    const w = await cond('wrongkey');
    assert.equal(w?.reason, 'BuildFailed');
    assert.match(w?.message ?? '', /cannot get sops data key/);
    assert.equal(await x.get('ConfigMap', 'wrongkey-plain'), undefined);
    const n = await cond('nodecrypt');
    assert.equal(n?.reason, 'ReconciliationFailed');
    assert.equal(n?.message, `Secret/${x.ns}/nodec is SOPS encrypted, configuring decryption is required for this secret to be reconciled`);

    // fluxless build masks, fluxless diff decrypts to compare and masks.
    const built = await buildCmd(rt, x.ns, 'secrets');
    assert.match(built, /name: age-secret/);
    assert.ok(built.includes(Buffer.from('**SOPS**').toString('base64')));
    await x.client.request('PATCH', `/api/v1/namespaces/${x.ns}/secrets/age-secret`, { body: { data: { password: Buffer.from('changed-in-cluster').toString('base64') } }, contentType: 'application/merge-patch+json' });
    const diff = await diffCmd(rt, x.ns, 'secrets');
    assert.equal(diff.code, 1);
    assert.match(diff.text, new RegExp(`► Secret/${x.ns}/age-secret drifted`));
    assert.doesNotMatch(diff.text, /pgp-secret drifted|kms-secret drifted/, 'decrypted values equal the live ones: no false drift');

    // Nowhere it must not be: logs, events and status (the store), the artifacts, the cache, CLI output.
    const secrets = Object.values(v).filter((s) => s !== v.tampered && s !== v.wrong && s !== v.plainless);
    const needles = secrets.flatMap((s) => [s, Buffer.from(s).toString('base64')]);
    const places: Array<{ file: string; text: string }> = [
      { file: 'logs', text: logs.join('\n') },
      { file: 'fluxless build', text: built },
      { file: 'fluxless diff', text: diff.text },
      ...filesUnder(x.dataDir),
      ...readdirSync(os.tmpdir())
        .filter((d) => d.startsWith(`fluxless-cache-${process.pid}-`) || d.startsWith(`fluxless-work-${process.pid}-`))
        .flatMap((d) => filesUnder(path.join(os.tmpdir(), d))),
    ];
    assert.ok(places.some((p) => p.file.includes(`${path.sep}state${path.sep}`)), 'the state store was searched');
    assert.ok(places.some((p) => p.file.includes(`${path.sep}artifacts${path.sep}`)), 'the artifact store was searched');
    t.diagnostic(`searched ${places.length} places; tampered: ${tm?.message}; wrong key: ${w?.message}`);
    for (const p of places) for (const s of needles) assert.ok(!p.text.includes(s), `a decrypted value is in ${p.file}`);
    const recs = await Promise.all(['secrets', 'tampered', 'wrongkey', 'nodecrypt'].map((k) => x.record('Kustomization', k)));
    const recText = JSON.stringify(recs);
    for (const s of [...needles, v.tampered, v.wrong, v.plainless]) assert.ok(!recText.includes(s), 'status and events hold no secret value');
  }
});
