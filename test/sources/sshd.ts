/**
 * A real OpenSSH server on 127.0.0.1 for the SSH source tests: Debian's /usr/sbin/sshd with
 * its own config, host keys and authorized_keys in a temp dir, serving `git-upload-pack` for
 * the bare repositories of the harness git server (same filesystem).
 *
 * Two ports: `port` accepts GIT_PROTOCOL (git protocol v2, like GitHub), `v0Port` does not
 * (like a stock sshd, which answers protocol v0). sshd runs with LogLevel VERBOSE and logs
 * to stderr, which is kept: connections, accepted keys and sessions can be counted from it.
 * Every upload-pack writes GIT_TRACE_PACKET lines to `tracePath`.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile, appendFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);
const SSHD = '/usr/sbin/sshd';

export interface TestKey {
  /** The private key file's text (what goes into a Secret's `identity`). */
  privateKey: string;
  /** `<type> <base64>` (authorized_keys / identity.pub). */
  publicKey: string;
}

export interface TestSshd {
  host: string;
  /** Accepts GIT_PROTOCOL=version=2. */
  port: number;
  /** Does not accept GIT_PROTOCOL: the server answers v0. */
  v0Port: number;
  /** The account that may log in (the user running the tests). */
  user: string;
  /** `ssh-ed25519 AAAA...` and `ssh-rsa AAAA...` of the server. */
  hostKeys: { ed25519: string; rsa: string };
  /** A known_hosts line for one of the ports with the given host key (default ed25519). */
  knownHostsLine(port: number, key?: string): string;
  /** Adds a key to authorized_keys, optionally with options such as `restrict,command="..."`. */
  authorize(publicKey: string, options?: string): Promise<void>;
  /** Path of a ForceCommand script that allows only git-upload-pack (through git-shell). */
  uploadPackOnlyCommand: string;
  /** sshd's log so far. */
  log(): string;
  tracePath: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** Generates a key with ssh-keygen (`args` e.g. ['-t', 'ed25519'] or ['-t', 'rsa', '-b', '2048', '-m', 'PEM']). */
export async function sshKeygen(dir: string, name: string, args: string[], passphrase = ''): Promise<TestKey> {
  const file = path.join(dir, name);
  await execFileP('ssh-keygen', [...args, '-q', '-N', passphrase, '-C', `fluxless-test-${name}`, '-f', file]);
  const [privateKey, pub] = await Promise.all([readFile(file, 'utf8'), readFile(`${file}.pub`, 'utf8')]);
  return { privateKey, publicKey: pub.trim().split(/\s+/).slice(0, 2).join(' ') };
}

/** The OpenSSH public key line of an ed25519 KeyObject (ssh-keygen cannot read PKCS#8 ed25519). */
export function ed25519PublicLine(key: KeyObject): string {
  const raw = Buffer.from(createPublicKey(key).export({ format: 'jwk' }).x ?? '', 'base64url');
  const str = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, (b.length >> 8) & 0xff, b.length & 0xff]), b]);
  return `ssh-ed25519 ${Buffer.concat([str(Buffer.from('ssh-ed25519')), str(raw)]).toString('base64')}`;
}

export async function startSshd(): Promise<TestSshd> {
  if (!existsSync(SSHD)) throw new Error(`${SSHD} not found: install openssh-server (npm run setup does)`);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-sshd-'));
  const user = os.userInfo().username;
  if (process.getuid?.() === 0 && !existsSync('/run/sshd')) await mkdir('/run/sshd', { recursive: true, mode: 0o755 });
  const host = await sshKeygen(dir, 'host_ed25519', ['-t', 'ed25519']);
  const hostRsa = await sshKeygen(dir, 'host_rsa', ['-t', 'rsa', '-b', '2048']);
  const authorizedKeys = path.join(dir, 'authorized_keys');
  await writeFile(authorizedKeys, '', { mode: 0o600 });
  const tracePath = path.join(dir, 'git-trace.log');
  const uploadPackOnlyCommand = path.join(dir, 'only-upload-pack.sh');
  await writeFile(
    uploadPackOnlyCommand,
    [
      '#!/bin/sh',
      '# Like a Git host\'s forced command: only fetches, through git-shell.',
      'case "$SSH_ORIGINAL_COMMAND" in',
      `  "git-upload-pack '"*) exec git-shell -c "$SSH_ORIGINAL_COMMAND" ;;`,
      '  *) echo "fatal: only git-upload-pack is allowed for this key" >&2; exit 1 ;;',
      'esac',
      '',
    ].join('\n'),
  );
  await chmod(uploadPackOnlyCommand, 0o755);
  const port = await freePort();
  const v0Port = await freePort();
  const config = path.join(dir, 'sshd_config');
  await writeFile(
    config,
    [
      `Port ${port}`,
      `Port ${v0Port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${path.join(dir, 'host_ed25519')}`,
      `HostKey ${path.join(dir, 'host_rsa')}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${authorizedKeys}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `AllowUsers ${user}`,
      'LogLevel VERBOSE',
      'Subsystem sftp internal-sftp',
      `SetEnv GIT_TRACE_PACKET=${tracePath}`,
      `Match LocalPort ${port}`,
      '  AcceptEnv GIT_PROTOCOL',
      '',
    ].join('\n'),
  );
  let log = '';
  const child: ChildProcess = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (log += d));
  await new Promise<void>((resolve, reject) => {
    const check = () => {
      if (log.includes(`port ${port}.`) && log.includes(`port ${v0Port}.`)) {
        child.stderr!.off('data', check);
        resolve();
      }
    };
    child.stderr!.on('data', check);
    child.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${log}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    host: '127.0.0.1',
    port,
    v0Port,
    user,
    hostKeys: { ed25519: host.publicKey, rsa: hostRsa.publicKey },
    knownHostsLine: (p, key = host.publicKey) => `[127.0.0.1]:${p} ${key}`,
    async authorize(publicKey, options) {
      await appendFile(authorizedKeys, `${options ? `${options} ` : ''}${publicKey}\n`);
    },
    uploadPackOnlyCommand,
    log: () => log,
    tracePath,
    async stop() {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
