import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { testEnv } from '../harness/index.js';
import { clearRequestLog, createTestRepo, gitTestEnv, readRequestLog, type TestRepo, type TestRepoAuth } from '../harness/git-server.js';
import type { GitServerInfo } from '../harness/git-server.js';
import { configureLogging } from '../../shared/util/log.js';
import { ValidationError } from '../../shared/util/errors.js';
import {
  GitAuthError,
  GitRefNotFoundError,
  GitTimeoutError,
  fetchGitRepository,
  parseGitRepository,
  resolveRemote,
  type GitCredentials,
  type GitRepositorySpec,
} from '../../shared/sources/git.js';

const execFileP = promisify(execFile);

function specFor(url: string, spec: Record<string, unknown> = {}): GitRepositorySpec {
  return parseGitRepository({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'app', namespace: 'team-a' },
    spec: { url, interval: '1m', ...spec },
  }).spec;
}

type Ctx = { after(fn: () => Promise<void> | void): void };

async function newDir(t: Ctx): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-gitsrc-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'checkout');
}

async function setup(t: Ctx, opts: { auth?: TestRepoAuth; defaultBranch?: string } = {}): Promise<{ info: GitServerInfo; repo: TestRepo }> {
  const info = await (await testEnv()).git();
  const repo = await createTestRepo(info, opts);
  t.after(() => repo.cleanup());
  return { info, repo };
}

async function fetchInto(t: Ctx, spec: GitRepositorySpec, auth?: GitCredentials, lastRevision?: string) {
  const dir = await newDir(t);
  const res = await fetchGitRepository(spec, auth, { dir, lastRevision });
  return { dir, res };
}

async function read(dir: string, file: string): Promise<string> {
  return readFile(path.join(dir, file), 'utf8');
}

async function tagObject(repo: TestRepo, tag: string): Promise<string> {
  const { stdout } = await execFileP('git', ['rev-parse', `refs/tags/${tag}`], { cwd: repo.workdir, env: gitTestEnv() });
  return stdout.trim();
}

describe('GitRepository fetch: branches', () => {
  test('checks out the branch tip with a Flux revision', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ 'deploy/app.yaml': 'v: 1\n' }, 'first');
    const tip = await repo.commit({ 'deploy/app.yaml': 'v: 2\n', 'README.md': 'hi' }, 'second commit\n\nbody');
    await repo.push();

    const { dir, res } = await fetchInto(t, specFor(repo.url, { ref: { branch: 'main' } }));
    assert.equal(res.changed, true);
    assert.equal(res.revision, `main@sha1:${tip}`);
    assert.equal(res.commit, tip);
    assert.ok(res.changed && res.message.startsWith('second commit'));
    assert.equal(await read(dir, 'deploy/app.yaml'), 'v: 2\n');
    assert.ok(existsSync(path.join(dir, '.git')));
  });

  test('branch names with slashes keep them in the revision', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ a: 'main' });
    await repo.branch('feature/new-ui');
    await repo.checkout('feature/new-ui');
    const tip = await repo.commit({ a: 'feature' });
    await repo.push();
    const { dir, res } = await fetchInto(t, specFor(repo.url, { ref: { branch: 'feature/new-ui' } }));
    assert.equal(res.revision, `feature/new-ui@sha1:${tip}`);
    assert.equal(await read(dir, 'a'), 'feature');
  });

  test('without spec.ref the branch is master', async (t) => {
    const { repo } = await setup(t, { defaultBranch: 'master' });
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const { res } = await fetchInto(t, specFor(repo.url));
    assert.equal(res.revision, `master@sha1:${tip}`);

    const { repo: mainOnly } = await setup(t, { defaultBranch: 'main' });
    await mainOnly.commit({ a: '1' });
    await mainOnly.push();
    await assert.rejects(fetchInto(t, specFor(mainOnly.url)), (err: Error) => {
      assert.ok(err instanceof GitRefNotFoundError, String(err));
      assert.match(err.message, /branch 'master' not found/);
      return true;
    });
  });

  test('an unknown branch is an error naming the branch, also via resolveRemote', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(repo.url, { ref: { branch: 'does-not-exist' } });
    await assert.rejects(fetchInto(t, spec), (err: Error) => err instanceof GitRefNotFoundError && /branch 'does-not-exist' not found/.test(err.message));
    await assert.rejects(resolveRemote(spec), (err: Error) => err instanceof GitRefNotFoundError && /branch 'does-not-exist' not found/.test(err.message));
  });

  test('an empty repository is reported as such', async (t) => {
    const { repo } = await setup(t);
    await assert.rejects(fetchInto(t, specFor(repo.url, { ref: { branch: 'main' } })), (err: Error) => err instanceof GitRefNotFoundError && /is empty: push a commit to branch 'main' first/.test(err.message));
  });
});

describe('GitRepository fetch: a remote HEAD naming a missing branch', () => {
  test('an explicit branch, a tag and a pinned commit work as with Flux (HEAD -> refs/heads/master, only main pushed)', async (t) => {
    const { info, repo } = await setup(t);
    const first = await repo.commit({ a: 'one' });
    await repo.tag('v1.0.0', { annotated: true });
    await repo.commit({ a: 'two' });
    const tip = await repo.commit({ a: 'three' });
    await repo.push();
    await execFileP('git', ['symbolic-ref', 'HEAD', 'refs/heads/master'], { cwd: path.join(info.root, `${repo.name}.git`), env: gitTestEnv() });

    const branch = await fetchInto(t, specFor(repo.url, { ref: { branch: 'main' } }));
    assert.equal(branch.res.revision, `main@sha1:${tip}`);
    assert.equal(await read(branch.dir, 'a'), 'three');
    const again = await fetchGitRepository(specFor(repo.url, { ref: { branch: 'main' } }), undefined, { dir: await newDir(t), lastRevision: branch.res.revision });
    assert.equal(again.changed, false);

    const tag = await fetchInto(t, specFor(repo.url, { ref: { tag: 'v1.0.0' } }));
    assert.equal(tag.res.revision, `v1.0.0@sha1:${first}`);
    // Not a branch tip, no branch given: fetched with the history of all branches.
    const pinned = await fetchInto(t, specFor(repo.url, { ref: { commit: first } }));
    assert.equal(pinned.res.revision, `sha1:${first}`);
    assert.equal(await read(pinned.dir, 'a'), 'one');

    // The default branch (master) really is missing, and is reported as such.
    await assert.rejects(fetchInto(t, specFor(repo.url)), (err: Error) => err instanceof GitRefNotFoundError && /branch 'master' not found/.test(err.message));
  });
});

describe('GitRepository fetch: tags and semver', () => {
  test('lightweight and annotated tags resolve to the commit, not the tag object', async (t) => {
    const { repo } = await setup(t);
    const c1 = await repo.commit({ a: 'one' });
    await repo.tag('v1.0.0');
    const c2 = await repo.commit({ a: 'two' });
    await repo.tag('v2.0.0', { annotated: true });
    await repo.commit({ a: 'three' });
    await repo.push();
    const annotatedObject = await tagObject(repo, 'v2.0.0');
    assert.notEqual(annotatedObject, c2);

    const light = await fetchInto(t, specFor(repo.url, { ref: { tag: 'v1.0.0' } }));
    assert.equal(light.res.revision, `v1.0.0@sha1:${c1}`);
    assert.equal(await read(light.dir, 'a'), 'one');

    const annotated = await fetchInto(t, specFor(repo.url, { ref: { tag: 'v2.0.0' } }));
    assert.equal(annotated.res.revision, `v2.0.0@sha1:${c2}`);
    assert.equal(annotated.res.commit, c2);
    assert.equal(await read(annotated.dir, 'a'), 'two');
    assert.equal((await resolveRemote(specFor(repo.url, { ref: { tag: 'v2.0.0' } }))).revision, `v2.0.0@sha1:${c2}`);

    await assert.rejects(fetchInto(t, specFor(repo.url, { ref: { tag: 'v9.9.9' } })), (err: Error) => err instanceof GitRefNotFoundError && /tag 'v9\.9\.9' not found/.test(err.message));
  });

  test('semver picks the highest matching tag', async (t) => {
    const { repo } = await setup(t);
    const shas: Record<string, string> = {};
    for (const [tag, annotated] of [
      ['v1.0.0', false],
      ['v1.2.0', true],
      ['v1.10.0', true],
      ['1.11.0-rc.1', false],
      ['v2.0.0', false],
      ['not-semver', false],
    ] as const) {
      shas[tag] = await repo.commit({ version: tag });
      await repo.tag(tag, { annotated });
    }
    await repo.push();

    const cases: Array<[string, string]> = [
      ['>=1.0.0, <2.0.0', 'v1.10.0'],
      ['~1.2', 'v1.2.0'],
      ['>=1.11.0-0, <2.0.0', '1.11.0-rc.1'],
      ['1.0.x || >=2', 'v2.0.0'],
    ];
    for (const [range, want] of cases) {
      const { dir, res } = await fetchInto(t, specFor(repo.url, { ref: { semver: range } }));
      assert.equal(res.revision, `${want}@sha1:${shas[want]}`, range);
      assert.equal(await read(dir, 'version'), want, range);
    }
    await assert.rejects(fetchInto(t, specFor(repo.url, { ref: { semver: '>=3.0.0' } })), (err: Error) => err instanceof GitRefNotFoundError && /matches semver '>=3\.0\.0'/.test(err.message));
  });
});

describe('GitRepository fetch: pinned commits and ref.name', () => {
  test('a pinned commit that is the tip, and one that is not', async (t) => {
    const { repo } = await setup(t);
    const old = await repo.commit({ a: 'old' });
    await repo.commit({ a: 'middle' });
    const tip = await repo.commit({ a: 'tip' });
    await repo.push();

    const atTip = await fetchInto(t, specFor(repo.url, { ref: { commit: tip } }));
    assert.equal(atTip.res.revision, `sha1:${tip}`);
    assert.equal(await read(atTip.dir, 'a'), 'tip');

    const older = await fetchInto(t, specFor(repo.url, { ref: { commit: old } }));
    assert.equal(older.res.revision, `sha1:${old}`);
    assert.equal(older.res.commit, old);
    assert.equal(await read(older.dir, 'a'), 'old');

    // With a branch, Flux writes the branch into the revision.
    const onBranch = await fetchInto(t, specFor(repo.url, { ref: { branch: 'main', commit: old } }));
    assert.equal(onBranch.res.revision, `main@sha1:${old}`);
    assert.equal(await read(onBranch.dir, 'a'), 'old');
  });

  test('a commit that does not exist, or a missing branch, is an error naming it', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ a: '1' });
    await repo.push();
    const missing = 'deadbeef'.repeat(5);
    await assert.rejects(fetchInto(t, specFor(repo.url, { ref: { commit: missing } })), (err: Error) => err instanceof GitRefNotFoundError && err.message.includes(`commit ${missing} not found`));
    await assert.rejects(
      fetchInto(t, specFor(repo.url, { ref: { commit: missing, branch: 'gone' } })),
      (err: Error) => err instanceof GitRefNotFoundError && /branch 'gone'/.test(err.message),
    );
  });

  test('ref.name follows any reference and writes it in full', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ a: 'main' });
    await repo.branch('pr-4');
    await repo.checkout('pr-4');
    const pr = await repo.commit({ a: 'pull request' });
    await repo.tag('v3.0.0', { annotated: true });
    await repo.checkout('main');
    await repo.push('refs/heads/main:refs/heads/main');
    await repo.push('refs/heads/pr-4:refs/pull/4/head');
    await repo.push('refs/tags/v3.0.0:refs/tags/v3.0.0');

    const { dir, res } = await fetchInto(t, specFor(repo.url, { ref: { name: 'refs/pull/4/head' } }));
    assert.equal(res.revision, `refs/pull/4/head@sha1:${pr}`);
    assert.equal(await read(dir, 'a'), 'pull request');

    const tagged = await fetchInto(t, specFor(repo.url, { ref: { name: 'refs/tags/v3.0.0' } }));
    assert.equal(tagged.res.revision, `refs/tags/v3.0.0@sha1:${pr}`);

    await assert.rejects(fetchInto(t, specFor(repo.url, { ref: { name: 'refs/pull/5/head' } })), (err: Error) => err instanceof GitRefNotFoundError && /refs\/pull\/5\/head/.test(err.message));
  });
});

describe('GitRepository fetch: unchanged remotes', () => {
  test('an unchanged revision returns changed: false after listing refs only', async (t) => {
    const { info, repo } = await setup(t);
    const first = await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(repo.url, { ref: { branch: 'main' } });
    const { res } = await fetchInto(t, spec);
    assert.equal(res.revision, `main@sha1:${first}`);

    await clearRequestLog(info, repo.name);
    const dir = await newDir(t);
    const again = await fetchGitRepository(spec, undefined, { dir, lastRevision: res.revision });
    assert.deepEqual(again, { changed: false, revision: `main@sha1:${first}`, commit: first });
    assert.equal(existsSync(dir), false, 'nothing written');
    const log = await readRequestLog(info, repo.name);
    assert.ok(log.some((e) => e.command === 'ls-refs'), JSON.stringify(log));
    assert.ok(!log.some((e) => e.command === 'fetch'), `no fetch expected: ${JSON.stringify(log)}`);

    // Legacy "<branch>/<sha>" revisions compare equal too.
    assert.equal((await fetchGitRepository(spec, undefined, { dir, lastRevision: `main/${first}` })).changed, false);

    // A new commit is fetched.
    const second = await repo.commit({ a: '2' });
    await repo.push();
    const next = await fetchGitRepository(spec, undefined, { dir, lastRevision: res.revision });
    assert.equal(next.changed, true);
    assert.equal(next.revision, `main@sha1:${second}`);
    assert.equal(await read(dir, 'a'), '2');
  });

  test('resolveRemote reports the revision without fetching objects', async (t) => {
    const { info, repo } = await setup(t);
    const c = await repo.commit({ a: '1' });
    await repo.tag('v1.0.0', { annotated: true });
    await repo.push();
    await clearRequestLog(info, repo.name);
    assert.deepEqual(await resolveRemote(specFor(repo.url, { ref: { branch: 'main' } })), { revision: `main@sha1:${c}`, commit: c, ref: 'refs/heads/main' });
    assert.deepEqual(await resolveRemote(specFor(repo.url, { ref: { semver: '1.x' } })), { revision: `v1.0.0@sha1:${c}`, commit: c, ref: 'refs/tags/v1.0.0' });
    assert.equal((await resolveRemote(specFor(repo.url, { ref: { commit: c } }))).revision, `sha1:${c}`);
    const log = await readRequestLog(info, repo.name);
    assert.ok(log.length > 0 && log.every((e) => e.command !== 'fetch'), JSON.stringify(log));
  });
});

describe('GitRepository fetch: credentials', () => {
  test('basic auth: required, wrong, right', async (t) => {
    const { repo } = await setup(t, { auth: { username: 'flux', password: 'correct-horse' } });
    const tip = await repo.commit({ a: 'private' });
    await repo.push();
    const spec = specFor(repo.url, { ref: { branch: 'main' }, secretRef: { name: 'git-creds' } });
    const noSecret = specFor(repo.url, { ref: { branch: 'main' } });

    await assert.rejects(fetchInto(t, noSecret), (err: Error) => {
      assert.ok(err instanceof GitAuthError, String(err));
      assert.match(err.message, /authentication required for http:\/\/127\.0\.0\.1:\d+\/.*\.git/);
      assert.match(err.message, /spec\.secretRef/);
      return true;
    });
    await assert.rejects(fetchInto(t, spec, { username: 'flux', password: 'wrong-pass' }), (err: Error) => {
      assert.ok(err instanceof GitAuthError, String(err));
      assert.match(err.message, /authentication failed for .*: check the Secret 'team-a\/git-creds'/);
      assert.ok(!err.message.includes('wrong-pass'));
      return true;
    });
    await assert.rejects(resolveRemote(spec, { username: 'flux', password: 'wrong-pass' }), GitAuthError);

    const { dir, res } = await fetchInto(t, spec, { username: 'flux', password: 'correct-horse' });
    assert.equal(res.revision, `main@sha1:${tip}`);
    assert.equal(await read(dir, 'a'), 'private');

    // Credentials embedded in spec.url work too (Flux falls back to them), and stay out of messages.
    const withUrlCreds = new URL(repo.url);
    withUrlCreds.username = 'flux';
    withUrlCreds.password = 'correct-horse';
    assert.equal((await resolveRemote(specFor(withUrlCreds.toString(), { ref: { branch: 'main' } }))).commit, tip);
    withUrlCreds.password = 'nope-nope';
    await assert.rejects(resolveRemote(specFor(withUrlCreds.toString(), { ref: { branch: 'main' } })), (err: Error) => {
      assert.ok(err instanceof GitAuthError);
      assert.match(err.message, /check the credentials in spec\.url/);
      assert.ok(!err.message.includes('nope-nope'));
      return true;
    });

    await assert.rejects(resolveRemote(spec, { password: 'only-password' }), (err: Error) => err instanceof ValidationError && /no username/.test(err.message));
  });

  test('bearer token', async (t) => {
    const { repo } = await setup(t, { auth: { bearerToken: 'tkn-42' } });
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(repo.url, { ref: { branch: 'main' }, secretRef: { name: 'token' } });
    const { res } = await fetchInto(t, spec, { bearerToken: 'tkn-42' });
    assert.equal(res.revision, `main@sha1:${tip}`);
    await assert.rejects(fetchInto(t, spec, { bearerToken: 'tkn-0' }), (err: Error) => err instanceof GitAuthError && /check the Secret 'team-a\/token'/.test(err.message));
  });

  test('credentials never appear in logs', async (t) => {
    const lines: string[] = [];
    configureLogging({ sink: (l) => lines.push(l), level: 'debug' });
    t.after(() => configureLogging({ sink: (l) => process.stderr.write(l + '\n'), level: 'info' }));
    const { repo } = await setup(t, { auth: { username: 'flux', password: 'log-secret-pw' } });
    await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(repo.url, { ref: { branch: 'main' }, secretRef: { name: 'creds' } });
    const { res } = await fetchInto(t, spec, { username: 'flux', password: 'log-secret-pw' });
    await fetchInto(t, spec, { username: 'flux', password: 'log-secret-pw' }, res.revision);
    await fetchInto(t, spec, { username: 'flux', password: 'wrong-secret-pw' }).catch(() => undefined);
    assert.ok(lines.length > 0, 'debug logs were written');
    const all = lines.join('\n');
    const basic = Buffer.from('flux:log-secret-pw').toString('base64');
    for (const secret of ['log-secret-pw', 'wrong-secret-pw', basic]) assert.ok(!all.includes(secret), `log contains ${secret}`);
  });
});

describe('GitRepository fetch: timeout and target directory', () => {
  test('spec.timeout aborts a hanging server with a clear error', async (t) => {
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((s) => sockets.add(s)); // accepts, never answers
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const s of sockets) s.destroy();
      blackhole.close();
    });
    const { port } = blackhole.address() as net.AddressInfo;
    const spec = specFor(`http://127.0.0.1:${port}/slow.git`, { ref: { branch: 'main' }, timeout: '300ms' });
    for (const op of [() => resolveRemote(spec), () => fetchInto(t, spec)]) {
      await assert.rejects(op(), (err: Error) => {
        assert.ok(err instanceof GitTimeoutError, String(err));
        assert.match(err.message, /timed out after 300ms \(spec\.timeout\)/);
        assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}/slow\\.git`));
        return true;
      });
    }
  });

  test('refuses a non-empty target directory', async (t) => {
    const { repo } = await setup(t);
    await repo.commit({ a: '1' });
    await repo.push();
    const dir = await newDir(t);
    await fetchGitRepository(specFor(repo.url, { ref: { branch: 'main' } }), undefined, { dir });
    assert.ok((await readdir(dir)).length > 0);
    await assert.rejects(fetchGitRepository(specFor(repo.url, { ref: { branch: 'main' } }), undefined, { dir }), (err: Error) => err instanceof ValidationError && /is not empty/.test(err.message));
  });
});
