import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { gzipSync } from 'node:zlib';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { testEnv } from './index.js';
import { clearRequestLog, createTestRepo, gitAuthArgs, gitTestEnv, readRequestLog, startGitServer, type TestRepoAuth } from './git-server.js';

const execFileP = promisify(execFile);

async function gitCli(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await execFileP('git', args, { cwd, env: gitTestEnv() });
  return stdout.trim();
}

async function tmpDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-gs-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A pkt-line encoded protocol v2 ls-refs request. */
function lsRefsRequest(): Buffer {
  const pkt = (s: string) => (s.length + 4).toString(16).padStart(4, '0') + s;
  return Buffer.from(pkt('command=ls-refs\n') + '0001' + pkt('ref-prefix refs/heads/\n') + '0000');
}

describe('git test server with the git CLI', () => {
  test('clone, push back and fetch without credentials', async (t) => {
    const info = await (await testEnv()).git();
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const first = await repo.commit({ 'README.md': '# hello\n', 'dir/file.txt': 'content' }, 'first');
    await repo.push();

    const dir = await tmpDir(t);
    await gitCli(dir, ['clone', '-q', repo.url, 'clone']);
    const clone = path.join(dir, 'clone');
    assert.equal(await readFile(path.join(clone, 'dir/file.txt'), 'utf8'), 'content');
    assert.equal(await gitCli(clone, ['rev-parse', 'HEAD']), first);

    // Push from the clone (receive-pack), then fetch it into the test repo's work dir.
    await writeFile(path.join(clone, 'new.txt'), 'from the clone');
    await gitCli(clone, ['add', '-A']);
    await gitCli(clone, ['commit', '-q', '-m', 'second']);
    const second = await gitCli(clone, ['rev-parse', 'HEAD']);
    await gitCli(clone, ['push', '-q', 'origin', 'main']);
    await gitCli(repo.workdir, ['fetch', '-q', 'origin']);
    assert.equal(await gitCli(repo.workdir, ['rev-parse', 'origin/main']), second);
    assert.notEqual(second, first);
  });

  test('protocol v2 is served (ls-remote with protocol.version=2)', async (t) => {
    const info = await (await testEnv()).git();
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const sha = await repo.commit({ a: '1' });
    await repo.tag('v1.0.0', { annotated: true });
    await repo.push();
    await clearRequestLog(info, repo.name);
    const out = await gitCli(os.tmpdir(), ['-c', 'protocol.version=2', 'ls-remote', repo.url]);
    assert.match(out, new RegExp(`^${sha}\\trefs/heads/main$`, 'm'));
    assert.match(out, /\trefs\/tags\/v1\.0\.0\^\{\}$/m);
    const entries = await readRequestLog(info, repo.name);
    assert.ok(entries.some((e) => e.protocol === 2 && e.command === 'ls-refs'), JSON.stringify(entries));
  });

  test('basic auth: refused without or with wrong credentials, accepted with the right ones', async (t) => {
    const info = await (await testEnv()).git();
    const auth = { username: 'alice', password: 's3cret' };
    const repo = await createTestRepo(info, { auth });
    t.after(() => repo.cleanup());
    const sha = await repo.commit({ a: '1' });
    await repo.push(); // the helper pushes with the repo's credentials

    const dir = await tmpDir(t);
    await assert.rejects(gitCli(dir, ['clone', '-q', repo.url, 'anon']), /401|Authentication failed|could not read Username/i);
    await assert.rejects(gitCli(dir, [...gitAuthArgs({ username: 'alice', password: 'wrong' }), 'clone', '-q', repo.url, 'wrong']), /401|Authentication failed|could not read Username/i);
    await assert.rejects(
      gitCli(dir, [...gitAuthArgs({ username: 'mallory', password: 's3cret' }), 'ls-remote', repo.url]),
      /401|Authentication failed|could not read Username/i,
    );
    await gitCli(dir, [...gitAuthArgs(auth), 'clone', '-q', repo.url, 'ok']);
    assert.equal(await gitCli(path.join(dir, 'ok'), ['rev-parse', 'HEAD']), sha);

    const entries = await readRequestLog(info, repo.name);
    assert.ok(entries.some((e) => e.status === 401));
    assert.ok(entries.some((e) => e.status === 200 && e.user === 'alice'));
    assert.ok(!entries.some((e) => e.status === 200 && e.user !== 'alice'), 'no request succeeded without alice');
  });

  test('bearer token auth', async (t) => {
    const info = await (await testEnv()).git();
    const auth: TestRepoAuth = { bearerToken: 'tok-123' };
    const repo = await createTestRepo(info, { auth });
    t.after(() => repo.cleanup());
    const sha = await repo.commit({ a: '1' });
    await repo.push();
    const out = await gitCli(os.tmpdir(), [...gitAuthArgs(auth), 'ls-remote', repo.url, 'refs/heads/main']);
    assert.equal(out.split('\t')[0], sha);
    await assert.rejects(gitCli(os.tmpdir(), [...gitAuthArgs({ bearerToken: 'nope' }), 'ls-remote', repo.url]), /401|Authentication failed|could not read Username/i);
  });
});

describe('git test server with isomorphic-git', () => {
  test('clone and push without credentials; protocol v2 discovery', async (t) => {
    const info = await (await testEnv()).git();
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    await repo.commit({ 'a.txt': 'one' });
    await repo.push();

    const remote = await git.getRemoteInfo2({ http, url: repo.url, protocolVersion: 2 });
    assert.equal(remote.protocolVersion, 2);

    const dir = await tmpDir(t);
    await git.clone({ fs, http, dir, url: repo.url, singleBranch: true, depth: 1 });
    assert.equal(await readFile(path.join(dir, 'a.txt'), 'utf8'), 'one');
    await writeFile(path.join(dir, 'b.txt'), 'two');
    await git.add({ fs, dir, filepath: 'b.txt' });
    const sha = await git.commit({ fs, dir, message: 'from isomorphic-git', author: { name: 'iso', email: 'iso@example.invalid' } });
    const res = await git.push({ fs, http, dir, remote: 'origin', ref: 'main' });
    assert.equal(res.ok, true);
    await gitCli(repo.workdir, ['fetch', '-q', 'origin']);
    assert.equal(await gitCli(repo.workdir, ['rev-parse', 'origin/main']), sha);
  });

  test('clone and push with basic credentials; 401 without', async (t) => {
    const info = await (await testEnv()).git();
    const auth = { username: 'bob', password: 'pw' };
    const repo = await createTestRepo(info, { auth });
    t.after(() => repo.cleanup());
    await repo.commit({ 'a.txt': 'one' });
    await repo.push();

    const dir = await tmpDir(t);
    await assert.rejects(git.clone({ fs, http, dir: path.join(dir, 'anon'), url: repo.url }), (err: Error & { data?: { statusCode?: number } }) => {
      assert.equal(err.data?.statusCode, 401);
      return true;
    });
    const onAuth = () => auth;
    const work = path.join(dir, 'ok');
    await git.clone({ fs, http, dir: work, url: repo.url, onAuth });
    await writeFile(path.join(work, 'b.txt'), 'two');
    await git.add({ fs, dir: work, filepath: 'b.txt' });
    const sha = await git.commit({ fs, dir: work, message: 'second', author: { name: 'iso', email: 'iso@example.invalid' } });
    await assert.rejects(git.push({ fs, http, dir: work, remote: 'origin', ref: 'main', onAuth: () => ({ username: 'bob', password: 'bad' }), onAuthFailure: () => ({ cancel: true }) }));
    await git.push({ fs, http, dir: work, remote: 'origin', ref: 'main', onAuth });
    const refs = await git.listServerRefs({ http, url: repo.url, onAuth, prefix: 'refs/heads/main' });
    assert.equal(refs.find((r) => r.ref === 'refs/heads/main')?.oid, sha);
  });
});

describe('git test server internals', () => {
  test('accepts gzip-encoded request bodies', async (t) => {
    const info = await (await testEnv()).git();
    const repo = await createTestRepo(info);
    t.after(() => repo.cleanup());
    const sha = await repo.commit({ a: '1' });
    await repo.push();
    const res = await fetch(`${repo.url}/git-upload-pack`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-git-upload-pack-request',
        'content-encoding': 'gzip',
        'git-protocol': 'version=2',
      },
      body: gzipSync(lsRefsRequest()),
    });
    assert.equal(res.status, 200);
    assert.match(await res.text(), new RegExp(`${sha} refs/heads/main`));
  });

  test('unknown repositories answer 404', async () => {
    const info = await (await testEnv()).git();
    const res = await fetch(`${info.url}/does-not-exist.git/info/refs?service=git-upload-pack`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
    const bad = await fetch(`${info.url}/../etc.git/info/refs`);
    assert.equal(bad.status, 404);
    await bad.arrayBuffer();
  });

  test('createTestRepo pushes nothing until push()', async (t) => {
    const info = await (await testEnv()).git();
    const repo = await createTestRepo(info, { defaultBranch: 'trunk' });
    t.after(() => repo.cleanup());
    await repo.commit({ a: '1' });
    const before = await gitCli(os.tmpdir(), ['ls-remote', repo.url]);
    assert.equal(before, '');
    await repo.branch('feature', { from: 'trunk' });
    await repo.tag('v0.1.0');
    await repo.push();
    const after = await gitCli(os.tmpdir(), ['ls-remote', repo.url]);
    assert.match(after, /\trefs\/heads\/trunk$/m);
    assert.match(after, /\trefs\/heads\/feature$/m);
    assert.match(after, /\trefs\/tags\/v0\.1\.0$/m);
  });

  test('stop() closes the server and removes the root it created', async () => {
    const srv = await startGitServer();
    const repo = await createTestRepo(srv);
    await repo.commit({ a: '1' });
    await repo.push();
    assert.ok(existsSync(srv.root));
    await srv.stop();
    assert.equal(existsSync(srv.root), false);
    await assert.rejects(fetch(`${repo.url}/info/refs?service=git-upload-pack`));
    await repo.cleanup();
  });

  test('stop() keeps a root it was given', async (t) => {
    const root = await tmpDir(t);
    const srv = await startGitServer({ root });
    const repo = await createTestRepo({ url: srv.url, root: srv.root }, { name: 'kept' });
    await repo.commit({ a: '1' });
    await repo.push();
    await srv.stop();
    assert.ok(existsSync(path.join(root, 'kept.git', 'HEAD')));
    await repo.cleanup();
  });
});
