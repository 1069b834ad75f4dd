/**
 * The fault suite's fleet: a namespace on the harness cluster, a repository on the harness
 * git server, a data directory, and the real `fluxless` command (the bundled CLI, as a user
 * runs it) for `serve`, `get`, `reconcile` and `events`. Every child's output is kept for
 * the secret scan (secret-scan.ts).
 *
 * FLUXLESS_FAULTS_BIN=<path of a bin/fluxless.mjs> runs the same tests against another
 * build (e.g. an older commit's, to see a regression test fail there).
 */
import type { TestContext } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import type { ObjectRecord } from '../../shared/state/records.js';
import { ROOT, cliEnv, waitFor } from '../cli/helpers.js';
import { createTestRepo, type TestRepo, type TestRepoAuth } from '../harness/git-server.js';
import { sendGithubPush } from '../harness/github.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';

export { waitFor };

/** What a finished `fluxless` command printed. */
export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A running `fluxless serve`. */
export interface ServeProcess {
  /** Base URL of its webhook server. */
  url: string;
  pid: number;
  child: ChildProcess;
  /** Its stdout + stderr so far. */
  output(): string;
  /** SIGKILL, then wait until it is gone. */
  kill(): Promise<void>;
  /** SIGTERM (graceful), then wait; resolves with the exit code. */
  stop(): Promise<number | null>;
  /** Resolves when it exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Options of a fault fleet. */
export interface FleetOptions {
  /** Extra FLUXLESS_* variables for every command. */
  env?: Record<string, string>;
  /** Credentials the git server demands for the repository (git credentials for the scan). */
  repoAuth?: TestRepoAuth;
  /** kubeconfig the children use instead of the harness's (e.g. a KubeProxy's). */
  kubeconfigPath?: string;
}

/** A fleet repository, a namespace and a data directory, driven through the real CLI. */
export interface FaultFleet {
  ns: string;
  repo: TestRepo;
  /** Talks to the cluster directly (never through a test proxy). */
  client: KubeClient;
  dataDir: string;
  /** The Receiver token (a secret value). */
  token: string;
  /** Every secret value this fleet used: the scan looks for each of them. */
  secrets: Set<string>;
  /** Every output of every child (serve and CLI), for the scan. */
  outputs: string[];
  /** The environment the children get. */
  env(extra?: Record<string, string>): NodeJS.ProcessEnv;
  /** Runs `fluxless --data-dir <dataDir> <args>` to completion. */
  cli(args: string[], extra?: Record<string, string>): Promise<CliRun>;
  /** `fluxless get all -n <ns> -o json`, parsed. */
  getAll(): Promise<StatusRow[]>;
  /** Starts `fluxless serve` and waits until it serves. */
  serve(extra?: Record<string, string>): Promise<ServeProcess>;
  /** The state record of an object in this namespace, read from the data directory. */
  record(kind: string, name: string): ObjectRecord | undefined;
  /** Path of an object's state file. */
  stateFile(kind: string, name: string): string;
  /** Sends a signed GitHub push for the repository's head to a running server. */
  push(serve: ServeProcess): Promise<Response>;
  /** Reads a ConfigMap (or Secret) of the namespace, undefined when absent. */
  get(kind: 'ConfigMap' | 'Secret', name: string): Promise<(KubeObject & { data?: Record<string, string> }) | undefined>;
}

/** One row of `fluxless get -o json`. */
export interface StatusRow {
  kind: string;
  namespace: string;
  name: string;
  revision: string;
  suspended: boolean;
  ready: string;
  reason: string;
  message: string;
}

/** Size and time of every source the bundle is built from: a new key whenever one changes. */
function sourcesKey(): string {
  const h = createHash('sha256');
  const walk = (rel: string) => {
    const abs = path.join(ROOT, rel);
    const st = statSync(abs);
    if (st.isDirectory()) {
      for (const e of readdirSync(abs).sort()) walk(path.join(rel, e));
    } else {
      h.update(`${rel}\0${st.size}\0${st.mtimeMs}\n`);
    }
  };
  for (const rel of ['shared', 'bin', 'scripts', 'package.json']) walk(rel);
  return h.digest('hex').slice(0, 16);
}

function runBuild(cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += String(d)));
    child.stderr.on('data', (d: Buffer) => (out += String(d)));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`building the CLI bundle failed (exit ${code}):\n${out}`))));
  });
}

let bin: Promise<string> | undefined;

/**
 * The CLI entry to run: FLUXLESS_FAULTS_BIN, else bin/fluxless.mjs of a bundle of the current
 * sources, built by the project's scripts/build.mjs once per change of the sources and shared
 * by the fault test processes (the test processes of one run build it once, not once each).
 */
export function cliBin(): Promise<string> {
  const given = process.env.FLUXLESS_FAULTS_BIN;
  if (given) return Promise.resolve(given);
  bin ??= (async () => {
    const tmp = os.tmpdir();
    const final = path.join(tmp, `fluxless-faults-cli-${sourcesKey()}`);
    const entry = path.join(final, 'bin', 'fluxless.mjs');
    if (existsSync(path.join(final, 'dist', 'cli.mjs'))) return entry;
    // Bundles of older sources, left by earlier runs (a run uses its bundle for minutes, not half an hour).
    for (const n of readdirSync(tmp)) {
      if (!n.startsWith('fluxless-faults-cli-')) continue;
      const p = path.join(tmp, n);
      if (Date.now() - statSync(p).mtimeMs > 30 * 60_000) rmSync(p, { recursive: true, force: true });
    }
    const pkg = mkdtempSync(path.join(tmp, 'fluxless-faults-build-'));
    try {
      mkdirSync(path.join(pkg, 'bin'));
      copyFileSync(path.join(ROOT, 'bin', 'fluxless.mjs'), path.join(pkg, 'bin', 'fluxless.mjs'));
      copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
      symlinkSync(path.join(ROOT, 'shared'), path.join(pkg, 'shared'));
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
      await runBuild(pkg);
      try {
        renameSync(pkg, final);
      } catch {
        // Another test process finished the same build first: use its bundle.
        if (!existsSync(path.join(final, 'dist', 'cli.mjs'))) throw new Error(`could not move the CLI bundle into ${final}`);
      }
    } finally {
      rmSync(pkg, { recursive: true, force: true });
    }
    return entry;
  })();
  return bin;
}

/** A random secret value with a recognisable prefix. */
export function secretValue(prefix: string): string {
  return `${prefix}-${randomBytes(9).toString('hex')}`;
}

/** Creates (or replaces) an Opaque Secret in `ns`. */
export async function putSecret(client: KubeClient, ns: string, name: string, stringData: Record<string, string>): Promise<void> {
  await client.request('DELETE', `/api/v1/namespaces/${ns}/secrets/${name}`).catch(() => undefined);
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name }, type: 'Opaque', stringData } });
}

/** Creates a ConfigMap in `ns` (outside Git). */
export async function putConfigMap(client: KubeClient, ns: string, name: string, data: Record<string, string>): Promise<void> {
  await client.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name }, data } });
}

function readStateFile(file: string): ObjectRecord | undefined {
  if (!existsSync(file)) return undefined;
  const env = JSON.parse(readFileSync(file, 'utf8')) as { value?: ObjectRecord };
  return env.value;
}

function collect(child: ChildProcess, sink: (s: string) => void): { output: () => string; done: Promise<{ code: number | null; signal: NodeJS.Signals | null }> } {
  let out = '';
  const on = (d: Buffer | string) => {
    const s = String(d);
    out += s;
    sink(s);
  };
  child.stdout?.on('data', on);
  child.stderr?.on('data', on);
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  return { output: () => out, done };
}

/** Heap limit of every child: the suite never lets one process eat the machine. */
export const CHILD_HEAP_MIB = 768;
/**
 * Data-segment limit (RLIMIT_DATA) of every child and of what it starts (kubectl, helm): a
 * bound on each process's memory, Buffers and Go heaps included, that holds whatever the
 * code under test does. kustomize's own limit (FLUXLESS_TOOL_MEMORY_MIB) sits below it.
 */
export const CHILD_DATA_MIB = 1536;
/** kustomize's memory limit in the children (the render module's option). */
export const TOOL_MEMORY_MIB = 384;

const PRLIMIT = ['/usr/bin/prlimit', '/bin/prlimit'].find((p) => existsSync(p));

/** argv that runs `node <args>` under the suite's memory limits. */
export function limitedNode(args: string[], heapMiB = CHILD_HEAP_MIB, dataMiB = CHILD_DATA_MIB): string[] {
  const node = [process.execPath, `--max-old-space-size=${heapMiB}`, ...args];
  return PRLIMIT ? [PRLIMIT, `--data=${dataMiB * 1024 * 1024}`, '--', ...node] : node;
}

/** Sets up a fault fleet for test `t` (removed when the test ends). */
export async function faultFleet(t: TestContext, opts: FleetOptions = {}): Promise<FaultFleet> {
  const env = await testEnv();
  const ns = await env.namespace(t, 'fault');
  const cluster = await env.cluster();
  const client = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  const repo = await createTestRepo(await env.git(), { defaultBranch: 'main', auth: opts.repoAuth });
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-fault-'));
  const token = secretValue('hook-token');
  await putSecret(client, ns, 'webhook-token', { token });
  const secrets = new Set<string>([token]);
  const outputs: string[] = [];
  const children = new Set<ChildProcess>();
  const bin = await cliBin();
  const kubeconfig = opts.kubeconfigPath ?? cluster.kubeconfigPath;
  t.after(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    client.close();
    await repo.cleanup().catch(() => undefined);
    await rm(dataDir, { recursive: true, force: true });
  });
  const childEnv = (extra: Record<string, string> = {}) =>
    cliEnv({
      FLUXLESS_SOURCE_URL: repo.url,
      FLUXLESS_SOURCE_BRANCH: 'main',
      FLUXLESS_SOURCE_INTERVAL: '1h',
      FLUXLESS_PATH: './clusters/dev',
      FLUXLESS_NAMESPACE: ns,
      FLUXLESS_KUBECONFIG: kubeconfig,
      FLUXLESS_PORT: '0',
      FLUXLESS_SCHEDULE_INTERVAL: '500ms',
      FLUXLESS_HEALTH_INTERVAL: '500ms',
      FLUXLESS_CONCURRENCY: '4',
      FLUXLESS_LOG_LEVEL: 'debug',
      FLUXLESS_TOOL_MEMORY_MIB: String(TOOL_MEMORY_MIB),
      ...(opts.env ?? {}),
      ...extra,
    });
  const spawnFluxless = (args: string[], extra?: Record<string, string>) => {
    const argv = limitedNode([bin, '--data-dir', dataDir, ...args]);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: dataDir,
      env: childEnv(extra),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.add(child);
    child.once('close', () => children.delete(child));
    return child;
  };
  const self: FaultFleet = {
    ns,
    repo,
    client,
    dataDir,
    token,
    secrets,
    outputs,
    env: childEnv,
    async cli(args, extra) {
      const child = spawnFluxless(args, extra);
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (d: Buffer) => (stdout += String(d)));
      child.stderr?.on('data', (d: Buffer) => (stderr += String(d)));
      const { done } = collect(child, () => undefined);
      const { code } = await done;
      outputs.push(stdout, stderr);
      return { code, stdout, stderr };
    },
    async getAll() {
      const r = await self.cli(['get', 'all', '-n', ns, '-o', 'json']);
      assertExit(r, 0, 'fluxless get all -o json');
      return JSON.parse(r.stdout) as StatusRow[];
    },
    async serve(extra) {
      const marker = path.join(dataDir, 'serve.json');
      const child = spawnFluxless(['serve'], extra);
      let log = '';
      const { output, done } = collect(child, (s) => (log += s));
      void done.then(() => outputs.push(log));
      let url = '';
      const serving = waitFor(
        `fluxless serve (pid ${child.pid}) to serve`,
        () => {
          if (!existsSync(marker)) return false;
          const m = JSON.parse(readFileSync(marker, 'utf8')) as { pid: number; url: string };
          if (m.pid !== child.pid) return false;
          url = m.url;
          return true;
        },
        90_000,
        output,
      );
      const died = done.then(() => {
        throw new Error(`fluxless serve exited before serving`);
      });
      await Promise.race([serving, died]).catch((err: unknown) => {
        throw new Error(`${(err as Error).message}\n--- serve output\n${output()}`);
      });
      void died.catch(() => undefined);
      return {
        url,
        pid: child.pid!,
        child,
        output,
        exited: done,
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
          await done;
        },
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          return (await done).code;
        },
      };
    },
    stateFile: (kind, name) => path.join(dataDir, 'state', kind, ns, `${name}.json`),
    record: (kind, name) => readStateFile(self.stateFile(kind, name)),
    async push(serve) {
      return sendGithubPush({ url: serve.url, namespace: ns, token, head: await repo.head(), repository: { full_name: 'fleet/fleet', clone_url: repo.url } });
    },
    get: (kind, name) =>
      client.request<KubeObject & { data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/${kind.toLowerCase()}s/${name}`).catch(() => undefined),
  };
  return self;
}

/** `p`, or a failure naming `what` (and `detail()`) once `ms` passed: no test waits forever. */
export async function within<T>(p: Promise<T>, ms: number, what: string, detail?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}${detail ? `\n${detail()}` : ''}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails with the command's output unless it exited with `code`. */
export function assertExit(r: CliRun, code: number, what: string): void {
  if (r.code !== code) throw new Error(`${what}: exit ${r.code}, expected ${code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`);
}

/** The Ready condition of a record. */
export function ready(rec: ObjectRecord | undefined): { status?: string; reason?: string; message?: string } {
  return rec?.status.conditions?.find((c) => c.type === 'Ready') ?? {};
}

// ------------------------------------------------------------------ fleet manifests

/** A Flux object as YAML. */
export function fluxObject(apiVersion: string, kind: string, ns: string, name: string, spec: Record<string, unknown>): string {
  return stringify({ apiVersion, kind, metadata: { name, namespace: ns }, spec });
}

/** A Kustomization on the bootstrap source (`flux-system`), applying `path` into `ns`. */
export function kustomization(ns: string, name: string, path: string, spec: Record<string, unknown> = {}): string {
  return fluxObject('kustomize.toolkit.fluxcd.io/v1', 'Kustomization', ns, name, {
    interval: '1h',
    prune: true,
    path,
    targetNamespace: ns,
    sourceRef: { kind: 'GitRepository', name: 'flux-system' },
    ...spec,
  });
}

/** The GitHub Receiver `github` on the `webhook-token` Secret, for the bootstrap source. */
export function receiver(ns: string, name = 'github'): string {
  return fluxObject('notification.toolkit.fluxcd.io/v1', 'Receiver', ns, name, {
    type: 'github',
    events: ['push', 'ping'],
    secretRef: { name: 'webhook-token' },
    resources: [{ kind: 'GitRepository', name: 'flux-system' }],
  });
}

/** A ConfigMap manifest. */
export function configMap(name: string, data: Record<string, string>): string {
  return stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data });
}
