/**
 * The confinement kustomize runs in, beyond the static checks of references.ts (which are
 * the primary defence and hold everywhere):
 *  - no network unless remote bases are allowed: the child gets an empty PATH (no git),
 *    HTTP(S) proxies pointing at a closed port, and, where the kernel lets an unprivileged
 *    process create namespaces (`unshare -rn`: a user namespace with a network namespace that
 *    has only a down loopback), no network at all, loopback included. AWS Lambda allows
 *    neither unshare nor namespaces; there only the static checks and the proxies apply;
 *  - a hard address-space limit (`prlimit --as`, well above the memory limit so the Go
 *    runtime's up-front reservations fit) and a CPU-time limit, where prlimit exists, behind the watchdog
 *    (watchdog.ts) that enforces the real memory and CPU limits everywhere;
 *  - GOMEMLIMIT, so the Go runtime collects harder as it nears the limit.
 * What the machine offers is probed once per process.
 */
import { spawn } from 'node:child_process';
import { constants as fsc } from 'node:fs';
import { access } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { log } from '../util/log.js';

/** What this machine lets us use to confine a child. */
export interface SandboxCapabilities {
  /** Path of `unshare` when `unshare -rn` works here (user + network namespace). */
  unshare?: string;
  /** Path of `prlimit` when present. */
  prlimit?: string;
}

/** How to confine one kustomize run. */
export interface SandboxOptions {
  /** Let the child reach the network (remote bases). */
  allowNetwork: boolean;
  /** The memory limit the watchdog enforces (MiB); GOMEMLIMIT and the address-space backstop derive from it. */
  memoryLimitMiB: number;
  /** The CPU limit the watchdog enforces (s); the hard rlimit sits a little above it. */
  cpuLimitSeconds: number;
}

/** A command line and environment ready for spawn. */
export interface SandboxedCommand {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /** True when the child runs in its own network namespace. */
  isolatedNetwork: boolean;
}

/** Proxy for HTTP(S) fetches that get this far: the discard port, closed on any sane host. */
const DEAD_PROXY = 'http://127.0.0.1:9';

let probed: Promise<SandboxCapabilities> | undefined;

async function findBinary(name: string): Promise<string | undefined> {
  const dirs = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin', ...(process.env.PATH ?? '').split(path.delimiter)];
  for (const d of dirs) {
    if (!d || !path.isAbsolute(d)) continue;
    const p = path.join(d, name);
    try {
      await access(p, fsc.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

function runs(command: string, args: string[]): Promise<boolean> {
  return new Promise((resolve) => {
    try {
      const child = spawn(command, args, { stdio: 'ignore', env: {} });
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      child.on('error', () => {
        clearTimeout(timer);
        resolve(false);
      });
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve(code === 0);
      });
    } catch {
      resolve(false);
    }
  });
}

async function probe(): Promise<SandboxCapabilities> {
  const caps: SandboxCapabilities = {};
  const unshare = await findBinary('unshare');
  // The probe runs unshare inside its own namespaces: it exists, so the probe needs nothing else.
  if (unshare && (await runs(unshare, ['-rn', '--', unshare, '--version']))) caps.unshare = unshare;
  const prlimit = await findBinary('prlimit');
  if (prlimit && (await runs(prlimit, ['--version']))) caps.prlimit = prlimit;
  log.debug('kustomize sandbox', { networkNamespace: !!caps.unshare, prlimit: !!caps.prlimit });
  return caps;
}

/** What confinement this machine offers (probed once per process). */
export function sandboxCapabilities(): Promise<SandboxCapabilities> {
  probed ??= probe();
  return probed;
}

/**
 * Address-space backstop for when the watchdog cannot act: the Go runtime reserves about
 * 1.3 GiB of address space before it allocates anything, so the limit sits well above
 * that and above the memory limit.
 */
export function addressSpaceLimitBytes(memoryLimitMiB: number): number {
  return Math.max(3072, memoryLimitMiB * 2 + 2048) * 1024 * 1024;
}

/** The command line and environment that run `binary args` confined as `opts` says. */
export async function sandboxedCommand(binary: string, args: string[], opts: SandboxOptions): Promise<SandboxedCommand> {
  const caps = await sandboxCapabilities();
  const env: NodeJS.ProcessEnv = {
    HOME: process.env.HOME || os.tmpdir(),
    TMPDIR: os.tmpdir(),
    PATH: opts.allowNetwork ? (process.env.PATH ?? '') : '',
    GOMEMLIMIT: `${Math.max(16, Math.floor(opts.memoryLimitMiB * 0.8))}MiB`,
  };
  if (!opts.allowNetwork) {
    for (const k of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) env[k] = DEAD_PROXY;
    env.NO_PROXY = '';
    env.no_proxy = '';
  }
  let command = binary;
  let argv = args;
  if (caps.prlimit) {
    const cpu = Math.ceil(opts.cpuLimitSeconds) + 5;
    argv = [`--as=${addressSpaceLimitBytes(opts.memoryLimitMiB)}`, `--cpu=${cpu}:${cpu}`, '--', command, ...argv];
    command = caps.prlimit;
  }
  const isolatedNetwork = !opts.allowNetwork && !!caps.unshare;
  if (isolatedNetwork) {
    argv = ['-rn', '--', command, ...argv];
    command = caps.unshare!;
  }
  return { command, args: argv, env, isolatedNetwork };
}
