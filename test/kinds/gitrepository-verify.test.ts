/**
 * GitRepository `spec.verify` against the harness git server, with commits and tags signed
 * by the real git CLI (gpg, and ssh-keygen for `gpg.format=ssh`): a signed HEAD is archived
 * with SourceVerified; an unsigned or foreign-signed commit is refused and the last
 * verified artifact kept; Tag mode checks the annotated tag; a Tag mode on a branch is
 * Stalled; a verified revision is not fetched again.
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import type { ArtifactCache } from '../../shared/artifacts/cache.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { gitRepositoryKind } from '../../shared/kinds/gitrepository/reconciler.js';
import { isKnownKind } from '../../shared/kinds/registry.js';
import type { KubeClient } from '../../shared/kube/client.js';
import type { RestMapper } from '../../shared/kube/mapper.js';
import type { SecretReader } from '../../shared/kube/secrets.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { FsStateStore } from '../../shared/state/index.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { log } from '../../shared/util/log.js';
import { createTestRepo, gitTestEnv, type GitServerInfo, type TestRepo } from '../harness/git-server.js';
import { testEnv } from '../harness/index.js';

const run = promisify(execFile);
let info: GitServerInfo;
let home = '';
/** Signing setups: a gpg home with an unprotected key, and an SSH key for gpg.format=ssh. */
let gpg: { env: NodeJS.ProcessEnv; keyId: string; publicKey: string };
let ssh: { key: string; publicKey: string };
let stranger: { env: NodeJS.ProcessEnv; keyId: string };

async function gpgHome(name: string): Promise<{ env: NodeJS.ProcessEnv; keyId: string; publicKey: string }> {
  const dir = path.join(home, name);
  await mkdir(dir, { mode: 0o700 });
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'ed25519Legacy', userIDs: [{ name, email: `${name}@example.com` }], format: 'armored' });
  await writeFile(path.join(dir, 'key.asc'), privateKey);
  await run('gpg', ['--homedir', dir, '--batch', '--import', path.join(dir, 'key.asc')]);
  const keyId = (await openpgp.readKey({ armoredKey: publicKey })).getKeyID().toHex().toUpperCase();
  return { env: gitTestEnv({ GNUPGHOME: dir }), keyId, publicKey };
}

before(async () => {
  info = await (await testEnv()).git();
  home = await mkdtemp(path.join(os.tmpdir(), 'fluxless-gitverify-'));
  gpg = await gpgHome('release');
  stranger = await gpgHome('stranger');
  const key = path.join(home, 'ssh_signer');
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'signer', '-f', key]);
  ssh = { key, publicKey: (await readFile(`${key}.pub`, 'utf8')).trim() };
});

/** Commits `files` in the test repo's work dir, signed as `how` says, and pushes; returns the commit. */
async function signedCommit(repo: TestRepo, files: Record<string, string>, how: 'gpg' | 'ssh' | 'stranger' | 'none'): Promise<string> {
  for (const [f, c] of Object.entries(files)) await writeFile(path.join(repo.workdir, f), c);
  await run('git', ['add', '-A'], { cwd: repo.workdir, env: gitTestEnv() });
  await run('git', [...signArgs(how), 'commit', ...(how === 'none' ? [] : ['-S']), '-q', '-m', `commit ${Object.keys(files).join(',')}`], { cwd: repo.workdir, env: envFor(how) });
  await repo.push();
  return repo.head();
}

function signArgs(how: 'gpg' | 'ssh' | 'stranger' | 'none'): string[] {
  if (how === 'ssh') return ['-c', 'gpg.format=ssh', '-c', `user.signingkey=${ssh.key}.pub`];
  if (how === 'gpg') return ['-c', `user.signingkey=${gpg.keyId}`];
  if (how === 'stranger') return ['-c', `user.signingkey=${stranger.keyId}`];
  return [];
}

function envFor(how: 'gpg' | 'ssh' | 'stranger' | 'none'): NodeJS.ProcessEnv {
  return how === 'gpg' ? gpg.env : how === 'stranger' ? stranger.env : gitTestEnv();
}

interface Fixture {
  define(spec: Record<string, unknown>, generation?: number): Promise<void>;
  reconcile(): Promise<ReconcileResult>;
  record(): Promise<ObjectRecord>;
}

async function fixture(t: TestContext, keys: Record<string, string>): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-gitkind-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const artifacts = new FsArtifactStore(path.join(dir, 'artifacts'), { durable: false });
  const none = new Proxy({}, { get: () => () => assert.fail('this test must not use the cluster') });
  const secrets: SecretReader = { get: async (_ns, name) => (name === 'trusted' ? keys : assert.fail(`unexpected Secret ${name}`)), invalidate: () => undefined };
  const svc: ReconcileServices = {
    state,
    artifacts,
    artifactCache: none as ArtifactCache,
    client: none as KubeClient,
    mapper: none as RestMapper,
    secrets,
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
  const key = { kind: 'GitRepository', namespace: 'flux-system', name: 'fleet' };
  return {
    async define(spec, generation = 1) {
      const object = { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet', namespace: 'flux-system', generation }, spec: { interval: '5m', ...spec } };
      await state.update<ObjectRecord>(key, (cur) => ({ status: {}, ...cur, object, origin: { by: 'bootstrap' } }));
    },
    async reconcile() {
      const record = (await readRecord(state, key))!;
      return gitRepositoryKind.reconcile(svc, { key, record, reason: 'test', log: log.child({ test: 'gitverify' }) });
    },
    record: async () => (await readRecord(state, key))!,
  };
}

const cond = (rec: ObjectRecord, type: string) => {
  const c = getCondition(rec, type);
  return c ? { status: c.status, reason: c.reason, message: c.message } : undefined;
};

describe('GitRepository spec.verify (git CLI signatures)', () => {
  test('HEAD mode with a PGP key: a signed commit is archived and verified; unsigned and foreign-signed commits are refused, the last artifact kept', async (t) => {
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const c1 = await signedCommit(repo, { 'a.yaml': 'a: 1\n' }, 'gpg');
    const f = await fixture(t, { 'release.asc': gpg.publicKey });
    await f.define({ url: repo.url, ref: { branch: 'main' }, verify: { mode: 'HEAD', secretRef: { name: 'trusted' } } });
    const ok = await f.reconcile();
    assert.equal(ok.ready, true, ok.message);
    let rec = await f.record();
    assert.deepEqual(cond(rec, 'SourceVerified'), { status: 'True', reason: 'Succeeded', message: `verified signature of\n\t- commit '${c1}' with key '${gpg.keyId}'` });
    assert.equal(rec.status.sourceVerificationMode, 'HEAD');
    assert.equal(rec.status.artifact?.revision, `main@sha1:${c1}`);

    // Unchanged remote: nothing fetched, verification kept.
    assert.equal((await f.reconcile()).ready, true);
    assert.equal(cond(await f.record(), 'SourceVerified')?.status, 'True');

    for (const [how, pattern] of [
      ['none', /failed: it is not signed/],
      ['stranger', /failed: unable to verify payload with any of the given key rings/],
    ] as const) {
      const c = await signedCommit(repo, { [`${how}.yaml`]: 'x: 1\n' }, how);
      const bad = await f.reconcile();
      assert.equal(bad.ready, false, how);
      rec = await f.record();
      assert.equal(getCondition(rec, 'Ready')?.reason, 'InvalidCommitSignature', how);
      assert.match(getCondition(rec, 'Ready')!.message, new RegExp(`^signature verification of commit '${c}' failed: `), how);
      assert.match(getCondition(rec, 'Ready')!.message, pattern, how);
      assert.deepEqual(cond(rec, 'SourceVerified'), { status: 'False', reason: 'InvalidCommitSignature', message: getCondition(rec, 'Ready')!.message }, how);
      assert.equal(rec.status.artifact?.revision, `main@sha1:${c1}`, `${how}: the last verified artifact is kept`);
      assert.equal(getCondition(rec, 'Stalled'), undefined, how);
    }
  });

  test('SSH signatures (gpg.format=ssh) verify with *.sshpub authorized keys; a PGP-only Secret says what is missing', async (t) => {
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const c1 = await signedCommit(repo, { 'a.yaml': 'a: 1\n' }, 'ssh');
    const fp = (await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${ssh.key}.pub`])).stdout.split(' ')[1];
    const f = await fixture(t, { 'signer.sshpub': `${ssh.publicKey}\n` });
    await f.define({ url: repo.url, ref: { branch: 'main' }, verify: { secretRef: { name: 'trusted' } } });
    const ok = await f.reconcile();
    assert.equal(ok.ready, true, ok.message);
    assert.equal(cond(await f.record(), 'SourceVerified')?.message, `verified signature of\n\t- commit '${c1}' with key '${fp}'`);

    const g = await fixture(t, { 'release.asc': gpg.publicKey });
    await g.define({ url: repo.url, ref: { branch: 'main' }, verify: { secretRef: { name: 'trusted' } } });
    assert.equal((await g.reconcile()).ready, false);
    assert.match(getCondition(await g.record(), 'Ready')!.message, /SSH signature detected but no SSH public keys found in secret \(keys with \.sshpub suffix\)/);
  });

  test('Tag and TagAndHEAD modes check the annotated tag; Tag mode on a branch is Stalled', async (t) => {
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const c1 = await signedCommit(repo, { 'a.yaml': 'a: 1\n' }, 'gpg');
    await run('git', [...signArgs('gpg'), 'tag', '-s', 'v1.0.0', '-m', 'release v1.0.0'], { cwd: repo.workdir, env: gpg.env });
    await run('git', ['tag', '-a', 'v1.0.1', '-m', 'unsigned'], { cwd: repo.workdir, env: gitTestEnv() });
    await repo.push();
    const tagOid = (await run('git', ['rev-parse', 'v1.0.0'], { cwd: repo.workdir, env: gitTestEnv() })).stdout.trim();
    const f = await fixture(t, { 'release.asc': gpg.publicKey });

    await f.define({ url: repo.url, ref: { tag: 'v1.0.0' }, verify: { mode: 'TagAndHEAD', secretRef: { name: 'trusted' } } });
    const ok = await f.reconcile();
    assert.equal(ok.ready, true, ok.message);
    assert.equal(
      cond(await f.record(), 'SourceVerified')?.message,
      `verified signature of\n\t- tag 'v1.0.0@${tagOid}' with key '${gpg.keyId}'\n\t- commit '${c1}' with key '${gpg.keyId}'`,
    );

    await f.define({ url: repo.url, ref: { tag: 'v1.0.1' }, verify: { mode: 'Tag', secretRef: { name: 'trusted' } } }, 2);
    assert.equal((await f.reconcile()).ready, false);
    let rec = await f.record();
    assert.equal(getCondition(rec, 'Ready')?.reason, 'InvalidGitObject');
    assert.match(getCondition(rec, 'Ready')!.message, /^cannot verify signature of tag 'v1\.0\.1@[0-9a-f]{40}' since it is not signed$/);

    await f.define({ url: repo.url, ref: { branch: 'main' }, verify: { mode: 'Tag', secretRef: { name: 'trusted' } } }, 3);
    assert.equal((await f.reconcile()).ready, false);
    rec = await f.record();
    assert.deepEqual(cond(rec, 'Stalled'), { status: 'True', reason: 'InvalidVerificationMode', message: "cannot verify tag object's signature if a tag reference is not specified" });
  });
});
