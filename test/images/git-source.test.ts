/**
 * The automation's Git side against the harness git server (smart HTTP, http-backend) and a
 * real sshd: checkout, setters, commit, push to the checkout branch, to a new or existing
 * push branch, refspecs and push options; a branch that moves between checkout and push is
 * retried on its new head and the other commit is kept; commits signed with GPG and SSH keys
 * verify with `git verify-commit`.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { commitSigner } from '../../shared/images/commit-signing.js';
import { configureSource, updateSource, type UpdateRun } from '../../shared/images/git-source.js';
import type { SetterPolicy } from '../../shared/images/setters.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { GitPushRaceError, pushRefs } from '../../shared/sources/git-push.js';
import { parseGitRepository } from '../../shared/sources/git.js';
import type { GitCredentials } from '../../shared/sources/types.js';
import { log } from '../../shared/util/log.js';
import { createTestRepo, gitTestEnv, readRequestLog, type GitServerInfo, type TestRepo } from '../harness/git-server.js';
import { testEnv } from '../harness/index.js';
import { sshKeygen, startSshd, type TestKey, type TestSshd } from '../sources/sshd.js';

const run = promisify(execFile);
const git = async (cwd: string, args: string[], env: NodeJS.ProcessEnv = {}) => (await run('git', args, { cwd, env: gitTestEnv(env) })).stdout.trim();

let info: GitServerInfo;
before(async () => {
  info = await (await testEnv()).git();
});

const app: SetterPolicy = { namespace: 'flux-system', name: 'app', latestRef: { name: 'ghcr.io/org/app', tag: '1.10.0' } };
const MANIFEST = [
  'apiVersion: apps/v1',
  'kind: Deployment',
  'metadata:',
  '  name: app   # keep me',
  'spec:',
  '  template:',
  '    spec:',
  '      containers:',
  "        - name: 'app'",
  '          image: ghcr.io/org/app:1.9.3 # {"$imagepolicy": "flux-system:app"}',
  '',
].join('\n');

function gitRepository(url: string, ref?: Record<string, unknown>, secret?: string): KubeObject {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'fleet', namespace: 'flux-system' },
    spec: { url, interval: '1m', ...(ref ? { ref } : {}), ...(secret ? { secretRef: { name: secret } } : {}) },
  };
}

async function repoWith(t: TestContext, files: Record<string, string> = { 'apps/app.yaml': MANIFEST }): Promise<TestRepo> {
  const repo = await createTestRepo(info, { defaultBranch: 'main' });
  t.after(() => repo.cleanup());
  await repo.commit(files, 'initial');
  await repo.push();
  return repo;
}

function runOpts(over: Partial<UpdateRun> = {}): UpdateRun {
  return {
    policies: [app],
    updatePath: './apps',
    message: () => 'Update from image update automation',
    author: { name: 'Fluxbot', email: 'fluxbot@example.com' },
    now: () => new Date('2025-01-02T03:04:05Z'),
    log,
    ...over,
  };
}

async function remote(repo: TestRepo, args: string[]): Promise<string> {
  return git(path.join(info.root, `${repo.name}.git`), args);
}

describe('commit and push over smart HTTP', () => {
  test('to the checkout branch: one commit on top, the marker line kept, every other byte the same', async (t) => {
    const repo = await repoWith(t);
    const before = await repo.head();
    const cfg = configureSource(gitRepository(repo.url, { branch: 'main' }), undefined, undefined, undefined);
    const out = await updateSource(cfg, runOpts());
    assert.ok(out.pushed);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), out.commit);
    assert.equal(await remote(repo, ['rev-parse', `${out.commit}^`]), before);
    assert.equal(await remote(repo, ['show', `${out.commit}:apps/app.yaml`]) + '\n', MANIFEST.replace('app:1.9.3', 'app:1.10.0'));
    assert.equal(await remote(repo, ['log', '-1', '--format=%an <%ae>|%cn|%at|%s', out.commit]), 'Fluxbot <fluxbot@example.com>|Fluxbot|1735787045|Update from image update automation');
    assert.deepEqual((await remote(repo, ['show', '--name-only', '--format=', out.commit])).split('\n'), ['apps/app.yaml']);
    assert.equal(out.checkoutRevision, `main@sha1:${before}`);
    // fsck: the pack we sent made a complete history on the server.
    await remote(repo, ['fsck', '--strict']);

    const again = await updateSource(cfg, runOpts());
    assert.equal(again.pushed, false, 'nothing changed: no commit');
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), out.commit);
  });

  test('to a new push branch created from the checkout branch, then on top of the commits others added to it', async (t) => {
    const repo = await repoWith(t);
    const main = await repo.head();
    const cfg = configureSource(gitRepository(repo.url, { branch: 'main' }), undefined, undefined, { branch: 'auto' });
    assert.equal(cfg.switchBranch, true);
    const first = await updateSource(cfg, runOpts());
    assert.ok(first.pushed);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/auto']), first.commit);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), main, 'the checkout branch is not touched');
    assert.equal(first.checkoutRevision, `main@sha1:${main}`);

    // Someone adds a commit to the push branch; a new image must land on top of it.
    await git(repo.workdir, ['fetch', '-q', 'origin', 'auto']);
    await git(repo.workdir, ['checkout', '-q', '-b', 'auto', 'FETCH_HEAD']);
    const theirs = await repo.commit({ 'apps/notes.yaml': 'note: mine\n' }, 'a human commit');
    await repo.push('refs/heads/auto:refs/heads/auto');
    const second = await updateSource(cfg, runOpts({ policies: [{ ...app, latestRef: { ...app.latestRef, tag: '1.11.0' } }] }));
    assert.ok(second.pushed);
    assert.equal(await remote(repo, ['rev-parse', `${second.commit}^`]), theirs, 'made on top of the human commit, not forced over it');
    assert.match(await remote(repo, ['show', `${second.commit}:apps/app.yaml`]), /app:1\.11\.0/);
  });

  test('a branch that moves between checkout and push: retried on the new head, the other commit is kept', async (t) => {
    const repo = await repoWith(t);
    const cfg = configureSource(gitRepository(repo.url, { branch: 'main' }), undefined, undefined, undefined);
    let raced = '';
    let renders = 0;
    const out = await updateSource(
      cfg,
      runOpts({
        message: () => {
          renders++;
          return 'Update from image update automation';
        },
        // The race: after our checkout, before our push (while the commit is signed), someone pushes to main.
        signer: async () => {
          if (!raced) {
            await git(repo.workdir, ['pull', '-q', '--ff-only', 'origin', 'main']);
            raced = await repo.commit({ 'README.md': 'raced\n' }, 'someone else');
            await repo.push('refs/heads/main:refs/heads/main');
          }
          return '-----BEGIN PGP SIGNATURE-----\n\n=none\n-----END PGP SIGNATURE-----\n';
        },
      }),
    );
    assert.ok(out.pushed);
    assert.equal(out.attempts, 2);
    assert.equal(renders, 2);
    assert.equal(await remote(repo, ['rev-parse', `${out.commit}^`]), raced, 'the update was made again on top of the raced commit');
    assert.equal(await remote(repo, ['show', `${out.commit}:README.md`]), 'raced');
  });

  test('pushRefs never overwrites a moved ref (compare-and-swap)', async (t) => {
    const repo = await repoWith(t);
    const head = await repo.head();
    const spec = parseGitRepository(gitRepository(repo.url, { branch: 'main' })).spec;
    await assert.rejects(
      pushRefs(spec, undefined, [{ ref: 'refs/heads/main', oldOid: '1'.repeat(40), newOid: head }], { dir: repo.workdir, objects: [] }),
      (e: unknown) => e instanceof GitPushRaceError && /moved from 1111111 to/.test(e.message),
    );
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), head);
  });

  test('push.refspec is pushed after the branch; push options reach the server when it accepts them', async (t) => {
    const repo = await repoWith(t);
    const bare = path.join(info.root, `${repo.name}.git`);
    const seen = path.join(bare, 'push-options.txt');
    await git(bare, ['config', 'receive.advertisePushOptions', 'true']);
    await writeFile(path.join(bare, 'hooks', 'pre-receive'), `#!/bin/sh\ni=0\nwhile [ $i -lt "\${GIT_PUSH_OPTION_COUNT:-0}" ]; do eval "echo \\$GIT_PUSH_OPTION_$i" >> '${seen}'; i=$((i+1)); done\ncat >/dev/null\n`);
    await chmod(path.join(bare, 'hooks', 'pre-receive'), 0o755);
    const cfg = configureSource(gitRepository(repo.url, { branch: 'main' }), undefined, undefined, {
      refspec: 'refs/heads/main:refs/heads/auto-mirror',
      options: { 'merge_request.create': '', 'merge_request.target': 'release' },
    });
    const out = await updateSource(cfg, runOpts());
    assert.ok(out.pushed);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), out.commit);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/auto-mirror']), out.commit);
    assert.deepEqual((await readFile(seen, 'utf8')).trim().split('\n'), ['merge_request.create=', 'merge_request.target=release', 'merge_request.create=', 'merge_request.target=release']);
  });

  test('credentials from the GitRepository Secret; wrong ones fail with a clear message and push nothing', async (t) => {
    const auth = { username: 'bot', password: 'secret' };
    const repo = await createTestRepo(info, { defaultBranch: 'main', auth });
    t.after(() => repo.cleanup());
    await repo.commit({ 'apps/app.yaml': MANIFEST }, 'initial');
    await repo.push();
    const good = configureSource(gitRepository(repo.url, { branch: 'main' }, 'creds'), auth, undefined, undefined);
    const out = await updateSource(good, runOpts());
    assert.ok(out.pushed);
    const log2 = await readRequestLog(info, repo.name);
    assert.ok(log2.some((e) => e.service === 'receive-pack' && e.user === 'bot'));
    const bad = configureSource(gitRepository(repo.url, { branch: 'main' }, 'creds'), { username: 'bot', password: 'nope' }, undefined, undefined);
    await assert.rejects(updateSource(bad, runOpts({ policies: [{ ...app, latestRef: { ...app.latestRef, tag: '9.9.9' } }] })), /authentication failed|HTTP 401/);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), out.commit, 'the failed push changed nothing');
  });

  test('no push branch and a checkout ref without a branch: InvalidSourceConfiguration', () => {
    assert.throws(() => configureSource(gitRepository('https://example.com/x.git', { tag: 'v1' }), undefined, undefined, undefined), /push spec not provided, and cannot be inferred/);
    assert.throws(() => configureSource(gitRepository('https://example.com/x.git'), undefined, undefined, undefined), /push spec not provided/);
    assert.equal(configureSource(gitRepository('https://example.com/x.git'), undefined, undefined, { branch: 'master' }).switchBranch, false, 'default branch master');
  });
});

describe('signed commits', () => {
  test('GPG (git.asc + passphrase) and SSH (identity) signatures verify with git verify-commit', async (t) => {
    const home = await mkdtemp(path.join(os.tmpdir(), 'fluxless-sign-'));
    t.after(() => rm(home, { recursive: true, force: true }));
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Fluxbot', email: 'fluxbot@example.com' }], passphrase: 'pw', format: 'armored' });
    const gnupg = path.join(home, 'gnupg');
    await run('mkdir', ['-m', '700', gnupg]);
    await writeFile(path.join(home, 'pub.asc'), publicKey);
    await run('gpg', ['--homedir', gnupg, '--batch', '--import', path.join(home, 'pub.asc')]);
    const sshKey = await sshKeygen(home, 'signer', ['-t', 'ed25519']);
    const allowed = path.join(home, 'allowed_signers');
    await writeFile(allowed, `fluxbot@example.com ${sshKey.publicKey}\n`);

    for (const [type, data] of [
      ['gpg', { 'git.asc': privateKey, passphrase: 'pw' }],
      ['ssh', { identity: sshKey.privateKey }],
    ] as const) {
      const repo = await repoWith(t);
      const cfg = configureSource(gitRepository(repo.url, { branch: 'main' }), undefined, undefined, undefined);
      const out = await updateSource(cfg, runOpts({ signer: await commitSigner({ ...data }, type, 'signing-key') }));
      assert.ok(out.pushed);
      const bare = path.join(info.root, `${repo.name}.git`);
      const verify = await run('git', ['-c', `gpg.ssh.allowedSignersFile=${allowed}`, 'verify-commit', '--raw', out.commit], { cwd: bare, env: gitTestEnv({ GNUPGHOME: gnupg }) }).then(
        (r) => ({ ok: true, text: r.stderr }),
        (e: { stderr?: string }) => ({ ok: false, text: e.stderr ?? '' }),
      );
      assert.ok(verify.ok, `${type}: ${verify.text}`);
    }
  });

  test('signing secrets without their key are refused with Flux messages', async () => {
    await assert.rejects(commitSigner({}, 'gpg', 'sk'), { message: "signing key secret 'sk' does not contain a 'git.asc' key" });
    await assert.rejects(commitSigner({}, 'ssh', 'sk'), { message: "signing key secret 'sk' does not contain an 'identity' key" });
  });
});

describe('push over SSH (git-receive-pack)', () => {
  let sshd: TestSshd;
  let key: TestKey;
  let keyDir: string;
  before(async () => {
    sshd = await startSshd();
    keyDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-pushkeys-'));
    key = await sshKeygen(keyDir, 'push', ['-t', 'ed25519']);
    await sshd.authorize(key.publicKey);
  });
  after(async () => {
    await sshd?.stop();
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  });

  test('the commit is pushed through the SSH bridge and fetches still work on it', async (t) => {
    const repo = await repoWith(t);
    const url = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${info.root}/${repo.name}.git`;
    const auth: GitCredentials = { identity: key.privateKey, knownHosts: sshd.knownHostsLine(sshd.port) };
    const cfg = configureSource(gitRepository(url, { branch: 'main' }, 'ssh-creds'), auth, undefined, { branch: 'auto' });
    const out = await updateSource(cfg, runOpts());
    assert.ok(out.pushed);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/auto']), out.commit);
    await remote(repo, ['fsck', '--strict']);
  });
});
