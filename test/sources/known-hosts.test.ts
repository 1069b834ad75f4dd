import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { KnownHostsFormatError, checkHostKey, hostKeyAlgorithms, knownHostName, parseKnownHosts, sshFingerprint } from '../../shared/sources/known-hosts.js';

const execFileP = promisify(execFile);

/** Real host keys and hashed entries from ssh-keygen, so the parser is checked against OpenSSH's output. */
async function fixtures(t: { after(fn: () => Promise<void>): void }) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-kh-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const key = async (name: string, args: string[]) => {
    await execFileP('ssh-keygen', [...args, '-q', '-N', '', '-f', path.join(dir, name)]);
    const pub = (await readFile(path.join(dir, `${name}.pub`), 'utf8')).trim().split(/\s+/);
    const fp = (await execFileP('ssh-keygen', ['-lf', path.join(dir, `${name}.pub`)])).stdout.split(/\s+/)[1];
    return { line: `${pub[0]} ${pub[1]}`, blob: Buffer.from(pub[1], 'base64'), fp };
  };
  const hash = async (entries: string) => {
    const file = path.join(dir, `kh-${Math.random().toString(36).slice(2)}`);
    await writeFile(file, entries);
    await execFileP('ssh-keygen', ['-H', '-f', file]);
    return readFile(file, 'utf8');
  };
  return { ed: await key('ed', ['-t', 'ed25519']), rsa: await key('rsa', ['-t', 'rsa', '-b', '2048']), ec: await key('ec', ['-t', 'ecdsa', '-b', '256']), hash };
}

describe('known_hosts', () => {
  test('plain, [host]:port, wildcard and negated patterns match like OpenSSH and Flux', async (t) => {
    const { ed, rsa } = await fixtures(t);
    const db = parseKnownHosts(
      [
        '# comment',
        '',
        `github.com,140.82.112.3 ${ed.line} comment here`,
        `[git.example.com]:2222 ${rsa.line}`,
        `*.corp.example,!evil.corp.example ${ed.line}`,
      ].join('\n'),
    );
    assert.equal(checkHostKey(db, 'github.com', 22, ed.blob).ok, true);
    assert.equal(checkHostKey(db, 'GitHub.com', 22, ed.blob).ok, true, 'host names are case-insensitive');
    assert.equal(checkHostKey(db, '140.82.112.3', 22, ed.blob).ok, true);
    assert.deepEqual(checkHostKey(db, 'github.com', 2222, ed.blob), { ok: false, reason: 'unknown-host' }, 'a port 22 entry does not cover other ports');
    assert.equal(checkHostKey(db, 'git.example.com', 2222, rsa.blob).ok, true);
    assert.equal(checkHostKey(db, 'git.example.com', 22, rsa.blob).ok, false);
    assert.equal(checkHostKey(db, 'a.corp.example', 22, ed.blob).ok, true);
    assert.deepEqual(checkHostKey(db, 'evil.corp.example', 22, ed.blob), { ok: false, reason: 'unknown-host' });
    const mismatch = checkHostKey(db, 'github.com', 22, rsa.blob);
    assert.equal(mismatch.ok, false);
    assert.ok(!mismatch.ok && mismatch.reason === 'mismatch' && mismatch.known[0].line === 3);
    assert.equal(sshFingerprint(ed.blob), ed.fp, 'fingerprints read like ssh-keygen -l');
  });

  test('hashed entries from ssh-keygen -H match their host (and port) only', async (t) => {
    const { ed, rsa, hash } = await fixtures(t);
    const db = parseKnownHosts(await hash(`github.com ${ed.line}\n[127.0.0.1]:2222 ${rsa.line}\n`));
    assert.equal(checkHostKey(db, 'github.com', 22, ed.blob).ok, true);
    assert.equal(checkHostKey(db, 'gitlab.com', 22, ed.blob).ok, false);
    assert.equal(checkHostKey(db, '127.0.0.1', 2222, rsa.blob).ok, true);
    assert.equal(checkHostKey(db, '127.0.0.1', 22, rsa.blob).ok, false);
  });

  test('host key algorithms offered are those of the known keys (RSA as rsa-sha2-* first)', async (t) => {
    const { ed, rsa, ec } = await fixtures(t);
    const db = parseKnownHosts(`h ${rsa.line}\nh ${ec.line}\nother ${ed.line}\n`);
    assert.deepEqual(hostKeyAlgorithms(db, 'h', 22), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']);
    assert.deepEqual(hostKeyAlgorithms(db, 'nobody', 22), []);
  });

  test('@revoked refuses a key for every host; @cert-authority alone does not vouch for a host', async (t) => {
    const { ed, rsa } = await fixtures(t);
    const db = parseKnownHosts(`h ${ed.line}\nh ${rsa.line}\n@revoked * ${rsa.line}\n@cert-authority *.ca.example ${ed.line}\n`);
    assert.equal(checkHostKey(db, 'h', 22, ed.blob).ok, true);
    const revoked = checkHostKey(db, 'h', 22, rsa.blob);
    assert.ok(!revoked.ok && revoked.reason === 'revoked');
    assert.deepEqual(checkHostKey(db, 'x.ca.example', 22, ed.blob), { ok: false, reason: 'cert-authority-only' });
  });

  test('malformed files are refused naming the line', async (t) => {
    const { ed } = await fixtures(t);
    const bad = (text: string, re: RegExp) =>
      assert.throws(
        () => parseKnownHosts(text),
        (err: unknown) => err instanceof KnownHostsFormatError && re.test(err.message),
      );
    bad(`# only a comment\n`, /lists no host key/);
    bad(`h ${ed.line}\nh ssh-ed25519\n`, /line 2: expected '<hosts> <key type> <base64 key>'/);
    bad(`h ssh-ed25519 !!notbase64!!\n`, /line 1: the key is not base64/);
    bad(`h ssh-ed25519 AAAA\n`, /line 1: the key is not an SSH public key/);
    bad(`@trusted h ${ed.line}\n`, /line 1: unknown marker '@trusted'/);
    bad(`[h]:99999 ${ed.line}\n`, /line 1: '99999' is not a port number/);
    bad(`|2|abc|def ${ed.line}\n`, /line 1: hashed host type '2' is not supported/);
    bad(`! ${ed.line}\n`, /line 1: '!' without a host name/);
  });

  test('host names in messages are written as in known_hosts', () => {
    assert.equal(knownHostName('github.com', 22), 'github.com');
    assert.equal(knownHostName('127.0.0.1', 2222), '[127.0.0.1]:2222');
  });
});
