/**
 * GitRepository over SSH against a real sshd (Debian's openssh-server) on loopback, serving
 * git-upload-pack for the harness git server's bare repositories.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { testEnv } from '../harness/index.js';
import { configureLogging } from '../../shared/util/log.js';
import { createTestRepo, gitTestEnv, type GitServerInfo, type TestRepo } from '../harness/git-server.js';
import {
  GitAuthError,
  GitHostKeyError,
  GitRefNotFoundError,
  GitTimeoutError,
  fetchGitRepository,
  gitCredentialsFromSecret,
  parseGitRepository,
  resolveRemote,
  type GitCredentials,
  type GitRepositorySpec,
} from '../../shared/sources/git.js';
import { ed25519PublicLine, sshKeygen, startSshd, type TestKey, type TestSshd } from './sshd.js';

const execFileP = promisify(execFile);
type Ctx = { after(fn: () => Promise<void> | void): void };

let sshd: TestSshd;
let info: GitServerInfo;
let keyDir: string;
const keys: Record<'ed25519' | 'rsa' | 'encrypted' | 'rsaPemEncrypted' | 'ecdsaPkcs8' | 'ed25519Pkcs8' | 'rsaPkcs8Encrypted' | 'restricted' | 'stranger', TestKey> = {} as never;
const PASSPHRASE = 'correct horse battery';

before(async () => {
  info = await (await testEnv()).git();
  sshd = await startSshd();
  keyDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-sshkeys-'));
  keys.ed25519 = await sshKeygen(keyDir, 'ed25519', ['-t', 'ed25519']);
  keys.rsa = await sshKeygen(keyDir, 'rsa', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
  keys.encrypted = await sshKeygen(keyDir, 'encrypted', ['-t', 'ed25519'], PASSPHRASE);
  keys.rsaPemEncrypted = await sshKeygen(keyDir, 'rsa-pem-encrypted', ['-t', 'rsa', '-b', '2048', '-m', 'PEM'], PASSPHRASE);
  // What `flux create secret git` / `flux bootstrap` write: PKCS#8 (default ECDSA P-384).
  keys.ecdsaPkcs8 = await sshKeygen(keyDir, 'ecdsa', ['-t', 'ecdsa', '-b', '384', '-m', 'PKCS8']);
  const ed = generateKeyPairSync('ed25519');
  keys.ed25519Pkcs8 = { privateKey: ed.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), publicKey: ed25519PublicLine(ed.privateKey) };
  const rsa = await sshKeygen(keyDir, 'rsa-enc', ['-t', 'rsa', '-b', '2048', '-m', 'PEM']);
  keys.rsaPkcs8Encrypted = {
    privateKey: createPrivateKey(rsa.privateKey).export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: PASSPHRASE }).toString(),
    publicKey: rsa.publicKey,
  };
  keys.restricted = await sshKeygen(keyDir, 'restricted', ['-t', 'ed25519']);
  keys.stranger = await sshKeygen(keyDir, 'stranger', ['-t', 'ed25519']);
  for (const k of ['ed25519', 'rsa', 'encrypted', 'rsaPemEncrypted', 'ecdsaPkcs8', 'ed25519Pkcs8', 'rsaPkcs8Encrypted'] as const) await sshd.authorize(keys[k].publicKey);
  await sshd.authorize(keys.restricted.publicKey, `restrict,command="${sshd.uploadPackOnlyCommand}"`);
});

after(async () => {
  await sshd?.stop();
  if (keyDir) await rm(keyDir, { recursive: true, force: true });
});

async function newRepo(t: Ctx, opts: { defaultBranch?: string } = {}): Promise<TestRepo> {
  const repo = await createTestRepo(info, opts);
  t.after(() => repo.cleanup());
  return repo;
}

function sshUrl(repo: TestRepo, port = sshd.port): string {
  return `ssh://${sshd.user}@127.0.0.1:${port}${info.root}/${repo.name}.git`;
}

function specFor(url: string, spec: Record<string, unknown> = {}): GitRepositorySpec {
  return parseGitRepository({
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'fleet', namespace: 'flux-system' },
    spec: { url, interval: '1m', secretRef: { name: 'ssh-creds' }, ...spec },
  }).spec;
}

function creds(key: TestKey, port = sshd.port, extra: Partial<GitCredentials> = {}): GitCredentials {
  return { identity: key.privateKey, knownHosts: sshd.knownHostsLine(port), ...extra };
}

async function newDir(t: Ctx): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-sshsrc-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return path.join(dir, 'checkout');
}

async function fetchInto(t: Ctx, spec: GitRepositorySpec, auth: GitCredentials, lastRevision?: string) {
  const dir = await newDir(t);
  const res = await fetchGitRepository(spec, auth, { dir, lastRevision });
  return { dir, res };
}

const read = (dir: string, file: string) => readFile(path.join(dir, file), 'utf8');
const count = (text: string, re: RegExp) => text.match(new RegExp(re.source, 'g'))?.length ?? 0;

/**
 * sshd's log lines written while `fn` ran, once every connection it saw has been closed
 * (event order, not time: sshd logs the close of each connection).
 */
async function sshdLogOf(fn: () => Promise<unknown>): Promise<string> {
  const mark = sshd.log().length;
  await writeFile(sshd.tracePath, '');
  await fn();
  for (;;) {
    const slice = sshd.log().slice(mark);
    const opened = count(slice, /Connection from 127\.0\.0\.1/);
    const closed = count(slice, /Disconnected from|Connection closed by|Connection reset by|Received disconnect .*\[preauth\]/);
    if (closed >= opened) return slice;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function trace(): Promise<string> {
  return existsSync(sshd.tracePath) ? readFile(sshd.tracePath, 'utf8') : '';
}

describe('GitRepository over SSH', () => {
  test('branch, tag, semver and commit with an ed25519 key (protocol v2 server) and an RSA key (v0 server)', async (t) => {
    const repo = await newRepo(t);
    const first = await repo.commit({ 'app.yaml': 'v: 1\n' }, 'first');
    await repo.tag('v1.0.0', { annotated: true });
    const second = await repo.commit({ 'app.yaml': 'v: 2\n' }, 'second');
    await repo.tag('v1.1.0');
    const tip = await repo.commit({ 'app.yaml': 'v: 3\n' }, 'third');
    await repo.push();

    for (const [key, port] of [
      [keys.ed25519, sshd.port],
      [keys.rsa, sshd.v0Port],
    ] as const) {
      const url = sshUrl(repo, port);
      const auth = creds(key, port);
      const branch = await fetchInto(t, specFor(url, { ref: { branch: 'main' } }), auth);
      assert.equal(branch.res.revision, `main@sha1:${tip}`, url);
      assert.equal(await read(branch.dir, 'app.yaml'), 'v: 3\n');
      assert.ok(branch.res.changed && branch.res.message.startsWith('third'));

      const tag = await fetchInto(t, specFor(url, { ref: { tag: 'v1.0.0' } }), auth);
      assert.equal(tag.res.revision, `v1.0.0@sha1:${first}`, 'annotated tag peeled to its commit');
      assert.equal(await read(tag.dir, 'app.yaml'), 'v: 1\n');

      const semver = await fetchInto(t, specFor(url, { ref: { semver: '^1.0.0' } }), auth);
      assert.equal(semver.res.revision, `v1.1.0@sha1:${second}`);
      assert.equal(await read(semver.dir, 'app.yaml'), 'v: 2\n');

      // A pinned commit that is no branch tip: over SSH upload-pack only serves advertised tips
      // by hash, so this takes Flux's route (the branch's history).
      const pinned = await fetchInto(t, specFor(url, { ref: { branch: 'main', commit: first } }), auth);
      assert.equal(pinned.res.revision, `main@sha1:${first}`);
      assert.equal(await read(pinned.dir, 'app.yaml'), 'v: 1\n');
      const bare = await fetchInto(t, specFor(url, { ref: { commit: second } }), auth);
      assert.equal(bare.res.revision, `sha1:${second}`);
      assert.equal(await read(bare.dir, 'app.yaml'), 'v: 2\n');

      assert.deepEqual(await resolveRemote(specFor(url, { ref: { branch: 'main' } }), auth), { revision: `main@sha1:${tip}`, commit: tip, ref: 'refs/heads/main' });
    }
  });

  test('keys as Flux writes them (PKCS#8) and passphrase-protected keys with `password`', async (t) => {
    const repo = await newRepo(t);
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(sshUrl(repo), { ref: { branch: 'main' } });
    for (const [name, auth] of [
      ['ECDSA P-384 PKCS#8', creds(keys.ecdsaPkcs8)],
      ['ed25519 PKCS#8', creds(keys.ed25519Pkcs8)],
      ['encrypted OpenSSH ed25519', creds(keys.encrypted, sshd.port, { password: PASSPHRASE })],
      ['encrypted PEM RSA (Proc-Type)', creds(keys.rsaPemEncrypted, sshd.port, { password: PASSPHRASE })],
      ['encrypted PKCS#8 RSA', creds(keys.rsaPkcs8Encrypted, sshd.port, { password: PASSPHRASE })],
      ['unencrypted key with a password set', creds(keys.ed25519, sshd.port, { password: 'ignored' })],
    ] as const) {
      assert.equal((await resolveRemote(spec, auth)).commit, tip, name);
    }
    for (const key of [keys.encrypted, keys.rsaPemEncrypted, keys.rsaPkcs8Encrypted]) {
      await assert.rejects(resolveRemote(spec, creds(key)), (err: Error) => {
        assert.ok(err instanceof GitAuthError, String(err));
        assert.match(err.message, /SSH identity key is encrypted but no 'password' field was provided in the Secret 'flux-system\/ssh-creds'/);
        return true;
      });
      await assert.rejects(resolveRemote(spec, creds(key, sshd.port, { password: 'wrong' })), (err: Error) => {
        assert.ok(err instanceof GitAuthError, String(err));
        assert.match(err.message, /cannot decrypt the SSH identity key with the 'password' of the Secret 'flux-system\/ssh-creds'/);
        assert.ok(!err.message.includes('wrong'));
        return true;
      });
    }
    await assert.rejects(resolveRemote(spec, creds({ privateKey: keys.ed25519.publicKey, publicKey: '' })), (err: Error) => err instanceof GitAuthError && /is a public key/.test(err.message));
    await assert.rejects(resolveRemote(spec, creds({ privateKey: 'not a key', publicKey: '' })), (err: Error) => err instanceof GitAuthError && /'identity' of the Secret 'flux-system\/ssh-creds' is not a private key/.test(err.message));
  });

  test('an unchanged remote costs one connection, one upload-pack advertisement and no pack', async (t) => {
    for (const port of [sshd.port, sshd.v0Port]) {
      const repo = await newRepo(t);
      const c = await repo.commit({ a: '1' });
      await repo.push();
      const spec = specFor(sshUrl(repo, port), { ref: { branch: 'main' } });
      const auth = creds(keys.ed25519, port);
      const dir = await newDir(t);
      let again: Awaited<ReturnType<typeof fetchGitRepository>> | undefined;
      const log = await sshdLogOf(async () => {
        again = await fetchGitRepository(spec, auth, { dir, lastRevision: `main@sha1:${c}` });
      });
      assert.deepEqual(again, { changed: false, revision: `main@sha1:${c}`, commit: c });
      assert.equal(existsSync(dir), false, 'nothing written');
      assert.equal(count(log, /Accepted publickey for/), 1, log);
      assert.equal(count(log, /Starting session: command/), 1, log);
      const tr = await trace();
      assert.ok(!/upload-pack< want /.test(tr), `no want sent (port ${port}):\n${tr}`);
      if (port === sshd.port) assert.match(tr, /upload-pack< command=ls-refs/, 'the v2 server was asked with ls-refs');
      else assert.ok(!/command=ls-refs/.test(tr), 'the v0 server was read from its advertisement');

      // A changed remote is fetched over one connection too.
      const next = await repo.commit({ a: '2' });
      await repo.push();
      const dir2 = await newDir(t);
      let changed: Awaited<ReturnType<typeof fetchGitRepository>> | undefined;
      const log2 = await sshdLogOf(async () => {
        changed = await fetchGitRepository(spec, auth, { dir: dir2, lastRevision: `main@sha1:${c}` });
      });
      assert.equal(changed?.revision, `main@sha1:${next}`);
      assert.equal(await read(dir2, 'a'), '2');
      assert.equal(count(log2, /Accepted publickey for/), 1, log2);
      // v2: ls-refs, then the v0 conversation isomorphic-git fetches with; v0: one advertisement serves both.
      assert.equal(count(log2, /Starting session: command/), port === sshd.port ? 2 : 1, log2);
      assert.equal(count(await trace(), /upload-pack< want /), 1);
    }
  });

  test('a wrong host key is rejected before anything is read, naming the host', async (t) => {
    const repo = await newRepo(t);
    await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(sshUrl(repo), { ref: { branch: 'main' } });
    const other = await sshKeygen(keyDir, `impostor-${repo.name}`, ['-t', 'ed25519']);
    const auth = { identity: keys.ed25519.privateKey, knownHosts: sshd.knownHostsLine(sshd.port, other.publicKey) };
    const dir = await newDir(t);
    let err: unknown;
    const log = await sshdLogOf(async () => {
      err = await fetchGitRepository(spec, auth, { dir }).then(
        () => undefined,
        (e: unknown) => e,
      );
    });
    assert.ok(err instanceof GitHostKeyError, String(err));
    assert.match(err.message, new RegExp(`host key mismatch for \\[127\\.0\\.0\\.1\\]:${sshd.port}: the server presented ssh-ed25519 SHA256:\\S+, but 'known_hosts' of the Secret 'flux-system/ssh-creds' has ssh-ed25519 SHA256:`));
    assert.equal(count(log, /Connection from 127\.0\.0\.1/), 1, log);
    assert.equal(count(log, /Accepted publickey|Postponed publickey|Starting session/), 0, `no authentication, no command:\n${log}`);
    assert.equal(await trace(), '', 'git-upload-pack never ran');
  });

  test('no known_hosts, a host missing from it, or no secretRef: refused without connecting', async (t) => {
    const repo = await newRepo(t);
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const url = sshUrl(repo);
    const spec = specFor(url, { ref: { branch: 'main' } });
    const log = await sshdLogOf(async () => {
      await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey }), (err: Error) => {
        assert.ok(err instanceof GitAuthError, String(err));
        assert.match(err.message, /the Secret 'flux-system\/ssh-creds' has no 'known_hosts': the SSH server's host key must be known in advance \(it is never trusted on first use\)/);
        assert.match((err as GitAuthError).hint ?? '', new RegExp(`ssh-keyscan -p ${sshd.port} 127\\.0\\.0\\.1`));
        return true;
      });
      await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts: `# nothing\n\n` }), (err: Error) => err instanceof GitAuthError && /'known_hosts' of the Secret 'flux-system\/ssh-creds' is invalid: it lists no host key/.test(err.message));
      await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts: 'example.com ssh-ed25519 %%%' }), (err: Error) => err instanceof GitAuthError && /is invalid: line 1: the key is not base64/.test(err.message));
      // The default port's entry does not vouch for another port (OpenSSH and Flux agree).
      await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts: `127.0.0.1 ${sshd.hostKeys.ed25519}` }), (err: Error) => {
        assert.ok(err instanceof GitHostKeyError, String(err));
        assert.match(err.message, new RegExp(`has no key for \\[127\\.0\\.0\\.1\\]:${sshd.port}`));
        return true;
      });
      await assert.rejects(resolveRemote(specFor(url, { ref: { branch: 'main' }, secretRef: undefined }), undefined), (err: Error) => err instanceof GitAuthError && /is an SSH URL but spec\.secretRef is not set/.test(err.message));
      await assert.rejects(resolveRemote(spec, { knownHosts: sshd.knownHostsLine(sshd.port) }), (err: Error) => err instanceof GitAuthError && /has no 'identity'/.test(err.message));
      // The one that connects.
      assert.equal((await resolveRemote(spec, creds(keys.ed25519))).commit, tip);
    });
    assert.equal(count(log, /Connection from 127\.0\.0\.1/), 1, log);
  });

  test('hashed entries, an RSA-only host key and wildcards are accepted; @revoked and @cert-authority-only hosts are refused', async (t) => {
    const repo = await newRepo(t);
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(sshUrl(repo), { ref: { branch: 'main' } });
    const file = path.join(keyDir, `known_hosts-${repo.name}`);
    await writeFile(file, `${sshd.knownHostsLine(sshd.port)}\n`);
    await execFileP('ssh-keygen', ['-H', '-f', file], { env: gitTestEnv() });
    const hashed = await readFile(file, 'utf8');
    assert.match(hashed, /^\|1\|/, 'ssh-keygen hashed the entry');
    const ok = async (knownHosts: string, what: string) => assert.equal((await resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts })).commit, tip, what);
    await ok(hashed, 'hashed |1|salt|hash entry');
    // Only the RSA host key is known: the client must ask for it (rsa-sha2-*), not the ed25519 one.
    await ok(sshd.knownHostsLine(sshd.port, sshd.hostKeys.rsa), 'RSA host key only');
    await ok(`# comment\nexample.com,!nothing ${sshd.hostKeys.rsa}\n[127.0.0.*]:${sshd.port} ${sshd.hostKeys.ed25519}\n`, 'wildcard pattern');

    const revoked = `${sshd.knownHostsLine(sshd.port)}\n@revoked * ${sshd.hostKeys.ed25519}\n`;
    await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts: revoked }), (err: Error) => {
      assert.ok(err instanceof GitHostKeyError, String(err));
      assert.match(err.message, /host key of \[127\.0\.0\.1\]:\d+ \(ssh-ed25519 SHA256:\S+\) is marked @revoked/);
      return true;
    });
    await assert.rejects(resolveRemote(spec, { identity: keys.ed25519.privateKey, knownHosts: `@cert-authority [127.0.0.1]:${sshd.port} ${sshd.hostKeys.ed25519}` }), (err: Error) => {
      assert.ok(err instanceof GitHostKeyError, String(err));
      assert.match(err.message, /only with @cert-authority lines: host certificates are not supported/);
      return true;
    });
  });

  test('a key the server does not accept is an authentication error naming the Secret and the key', async (t) => {
    const repo = await newRepo(t);
    await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(sshUrl(repo), { ref: { branch: 'main' } });
    const fp = (await execFileP('ssh-keygen', ['-lf', path.join(keyDir, 'stranger.pub')])).stdout.split(/\s+/)[1];
    await assert.rejects(resolveRemote(spec, creds(keys.stranger)), (err: Error) => {
      assert.ok(err instanceof GitAuthError, String(err));
      assert.match(err.message, new RegExp(`SSH authentication to \\[127\\.0\\.0\\.1\\]:${sshd.port} as '${sshd.user}' failed: the server did not accept the key in the Secret 'flux-system/ssh-creds' \\(ssh-ed25519 ${fp.replace(/[+/]/g, '\\$&')}\\)`));
      return true;
    });
  });

  test('an account restricted to git-upload-pack (ForceCommand through git-shell) works', async (t) => {
    const repo = await newRepo(t);
    await repo.commit({ a: '1' });
    await repo.tag('v2.0.0', { annotated: true });
    const tip = await repo.commit({ a: '2' });
    await repo.push();
    for (const port of [sshd.port, sshd.v0Port]) {
      const auth = creds(keys.restricted, port);
      const { dir, res } = await fetchInto(t, specFor(sshUrl(repo, port), { ref: { branch: 'main' } }), auth);
      assert.equal(res.revision, `main@sha1:${tip}`);
      assert.equal(await read(dir, 'a'), '2');
      assert.match((await resolveRemote(specFor(sshUrl(repo, port), { ref: { semver: '2.x' } }), auth)).revision, /^v2\.0\.0@sha1:/);
    }
  });

  test('a missing repository is reported as not found, with what the server said', async (t) => {
    const spec = specFor(`ssh://${sshd.user}@127.0.0.1:${sshd.port}${info.root}/does-not-exist.git`, { ref: { branch: 'main' } });
    const dir = await newDir(t);
    await assert.rejects(fetchGitRepository(spec, creds(keys.ed25519), { dir }), (err: Error) => {
      assert.ok(err instanceof GitRefNotFoundError, String(err));
      assert.match(err.message, /repository ssh:\/\/.*does-not-exist\.git not found: the SSH server said ".*does not appear to be a git repository/);
      return true;
    });
  });

  test('a remote whose HEAD names a missing branch works for an explicit branch', async (t) => {
    const repo = await newRepo(t);
    const first = await repo.commit({ a: 'first' });
    await repo.commit({ a: 'main' });
    await repo.tag('v1.0.0');
    const tip = await repo.commit({ a: 'main 2' });
    await repo.push();
    await execFileP('git', ['symbolic-ref', 'HEAD', 'refs/heads/master'], { cwd: path.join(info.root, `${repo.name}.git`), env: gitTestEnv() });
    for (const port of [sshd.port, sshd.v0Port]) {
      const { dir, res } = await fetchInto(t, specFor(sshUrl(repo, port), { ref: { branch: 'main' } }), creds(keys.ed25519, port));
      assert.equal(res.revision, `main@sha1:${tip}`);
      assert.equal(await read(dir, 'a'), 'main 2');
      const tag = await fetchInto(t, specFor(sshUrl(repo, port), { ref: { tag: 'v1.0.0' } }), creds(keys.ed25519, port));
      assert.equal(await read(tag.dir, 'a'), 'main');
      // Not a tip and no branch: the fallback fetches all branches, which must not need HEAD.
      const pinned = await fetchInto(t, specFor(sshUrl(repo, port), { ref: { commit: first } }), creds(keys.ed25519, port));
      assert.equal(pinned.res.revision, `sha1:${first}`);
      assert.equal(await read(pinned.dir, 'a'), 'first');
    }
  });

  test('spec.timeout bounds a server that accepts the connection and never speaks SSH', async (t) => {
    const sockets = new Set<net.Socket>();
    const blackhole = net.createServer((sock) => {
      sockets.add(sock);
      sock.resume(); // read (and ignore) the client's SSH greeting; never answer
    });
    await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', r));
    t.after(() => {
      for (const sock of sockets) sock.destroy();
      blackhole.close();
    });
    const { port } = blackhole.address() as net.AddressInfo;
    const spec = specFor(`ssh://git@127.0.0.1:${port}/slow.git`, { ref: { branch: 'main' }, timeout: '300ms' });
    const auth = { identity: keys.ed25519.privateKey, knownHosts: `[127.0.0.1]:${port} ${sshd.hostKeys.ed25519}` };
    for (const op of [() => resolveRemote(spec, auth), async () => fetchGitRepository(spec, auth, { dir: await newDir(t) })]) {
      await assert.rejects(op(), (err: Error) => {
        assert.ok(err instanceof GitTimeoutError, String(err));
        assert.match(err.message, new RegExp(`timed out after 300ms \\(spec\\.timeout\\)`));
        return true;
      });
    }
    // Both connections were given up by the client, not left open.
    assert.ok(sockets.size >= 1, "the client connected");
    await Promise.all([...sockets].map((x) => (x.closed ? undefined : new Promise((r) => x.once('close', r)))));
  });

  test('keys and passphrases never appear in logs', async (t) => {
    const lines: string[] = [];
    configureLogging({ sink: (l) => lines.push(l), level: 'debug' });
    t.after(() => configureLogging({ sink: (l) => process.stderr.write(l + '\n'), level: 'info' }));
    const repo = await newRepo(t);
    const tip = await repo.commit({ a: '1' });
    await repo.push();
    const spec = specFor(sshUrl(repo), { ref: { branch: 'main' } });
    const auth = creds(keys.encrypted, sshd.port, { password: PASSPHRASE });
    const { res } = await fetchInto(t, spec, auth);
    assert.equal(res.commit, tip);
    await fetchInto(t, spec, auth, res.revision);
    await resolveRemote(spec, { ...auth, password: 'wrong-passphrase' }).catch(() => undefined);
    assert.ok(lines.length > 0);
    const all = lines.join('\n');
    const keyBody = keys.encrypted.privateKey.split('\n')[2];
    for (const secret of [PASSPHRASE, 'wrong-passphrase', keyBody]) assert.ok(!all.includes(secret), `log contains ${secret}`);
  });

  test('the Secret data Flux uses maps to the credentials', () => {
    assert.deepEqual(gitCredentialsFromSecret({ identity: 'KEY', 'identity.pub': 'PUB', known_hosts: 'KH', password: 'pw' }), { identity: 'KEY', knownHosts: 'KH', password: 'pw' });
    assert.deepEqual(gitCredentialsFromSecret({ username: 'u', password: 'p', bearerToken: '' }), { username: 'u', password: 'p' });
  });
});
