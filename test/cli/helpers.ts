/**
 * The real `fluxless` command as a child process, the way a user runs it: `node
 * bin/fluxless.mjs <args>` on the esbuild bundle that `npm run build` makes.
 *
 * The bundle is built by the project's own scripts/build.mjs into a temporary package
 * directory (a copy of bin/ and package.json, symlinks to shared/ and node_modules/), so the
 * tests always run the current sources through the real bin + bundle, without touching the
 * repository's dist/ (which may be older than the sources while people work).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

let built: Promise<string> | undefined;

/** Path of bin/fluxless.mjs in a package directory with a freshly built dist/cli.mjs (built once per process). */
export function fluxlessBin(): Promise<string> {
  built ??= (async () => {
    const pkg = mkdtempSync(path.join(os.tmpdir(), 'fluxless-cli-pkg-'));
    process.once('exit', () => rmSync(pkg, { recursive: true, force: true }));
    mkdirSync(path.join(pkg, 'bin'));
    copyFileSync(path.join(ROOT, 'bin', 'fluxless.mjs'), path.join(pkg, 'bin', 'fluxless.mjs'));
    copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
    symlinkSync(path.join(ROOT, 'shared'), path.join(pkg, 'shared'));
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
    symlinkSync(path.join(ROOT, 'examples'), path.join(pkg, 'examples'));
    const r = await runNode([path.join(ROOT, 'scripts', 'build.mjs')], { cwd: pkg, env: process.env });
    if (r.code !== 0) throw new Error(`building the CLI bundle failed (exit ${r.code}):\n${r.stdout}${r.stderr}`);
    return path.join(pkg, 'bin', 'fluxless.mjs');
  })();
  return built;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout + stderr, for matching messages wherever they went. */
  all: string;
}

/**
 * The environment for a CLI child: this process's, without any FLUXLESS_* configuration or
 * KUBECONFIG of its own (FLUXLESS_CACHE_DIR is kept: it only says where kubectl is cached),
 * plus `vars`.
 */
export function cliEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if ((k.startsWith('FLUXLESS_') && k !== 'FLUXLESS_CACHE_DIR') || k === 'KUBECONFIG' || k.startsWith('NODE_TEST')) continue;
    env[k] = v;
  }
  return { ...env, ...vars };
}

function collect(child: ChildProcess): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  let all = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    all += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
    all += d;
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, all }));
  });
}

function runNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return collect(spawn(process.execPath, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** Runs `fluxless <args>` to completion. */
export async function runCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return runNode([await fluxlessBin(), ...args], opts);
}

export interface CliProcess {
  child: ChildProcess;
  /** Output so far (stdout + stderr). */
  output(): string;
  /** Resolves when the process has exited (and was reaped). */
  exited: Promise<CliResult>;
  /** Sends a signal (if still running) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<CliResult>;
}

/** Starts a long-running `fluxless <args>` (e.g. serve). */
export async function spawnCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliProcess> {
  const child = spawn(process.execPath, [await fluxlessBin(), ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer | string) => (out += String(d)));
  child.stderr?.on('data', (d: Buffer | string) => (out += String(d)));
  const exited = collect(child);
  let result: CliResult | undefined;
  void exited.then((r) => (result = r), () => undefined);
  return {
    child,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (!result && child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `check` until it is true; fails with `what` after timeoutMs (generous: no timing is asserted). */
export async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 90_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
