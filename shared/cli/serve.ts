/**
 * `fluxless serve` (the local runtime on a configuration) and `fluxless start` (what
 * `npm start` runs: everything on embedded defaults, for trying Fluxless on a fresh machine).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadConfig, type FluxlessConfig } from '../config/config.js';
import { startControlPlane, type ControlPlane } from '../devenv/controlplane.js';
import { startGitServer } from '../devenv/git-server.js';
import { packageRoot } from '../devenv/paths.js';
import { createKubeClient, isNotFound } from '../kube/client.js';
import { loadKubeConfig } from '../kube/kubeconfig.js';
import { webhookPath } from '../receivers/signature.js';
import { LocalWorkQueue } from '../queue/index.js';
import { createRuntime } from '../runtime/factory.js';
import type { Runtime } from '../runtime/runtime.js';
import { startLocalRuntime, type LocalRuntime } from '../runtime/local.js';
import { getCondition, listRecords, readRecord, type ObjectRecord } from '../state/records.js';
import { kindReconciler } from '../kinds/registry.js';
import { getCmd } from './commands.js';
import { removeServeMarker, removeStartMarker, START_ENV, writeServeMarker, writeStartMarker, type GlobalOptions } from './context.js';
import { acquireLock, type HeldLock } from '../util/file-lock.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { waitForSignal } from './signals.js';

const run = promisify(execFile);


async function serveUntilSignal(local: LocalRuntime, dataDir: string): Promise<void> {
  mkdirSync(dataDir, { recursive: true });
  writeServeMarker(dataDir, { pid: process.pid, url: local.url });
  const sig = await waitForSignal();
  console.log(`\n${sig}: finishing running reconciles, then stopping (queued work is kept for the next start)`);
  await local.stop();
  removeServeMarker(dataDir);
}

/**
 * Takes the local work queue before anything starts: a second server on the same data
 * directory must fail at once, not serve webhooks it can never work off (its consume loop
 * would retry the lock forever) and take over the serve.json of the running one.
 */
async function ownQueue(rt: Runtime): Promise<void> {
  if (!(rt.queue instanceof LocalWorkQueue)) return;
  try {
    await rt.queue.open();
  } catch (err) {
    rt.client.close();
    await rt.queue.close().catch(() => undefined);
    throw err;
  }
}

/** `fluxless serve`: the local runtime on the configuration, until Ctrl-C. */
export async function serveCmd(g: GlobalOptions): Promise<number> {
  const cfg = loadConfig({ file: g.config, dataDir: g.dataDir });
  const rt = createRuntime(cfg);
  await ownQueue(rt);
  const local = await startLocalRuntime(rt, cfg);
  console.log(`fluxless serving: webhooks at ${local.url}/hook/<digest>, ${cfg.worker.concurrency} workers, store ${cfg.store.type}, queue ${cfg.queue.type}`);
  await serveUntilSignal(local, g.dataDir);
  return 0;
}

/** Commits examples/fleet into a bare repository under the data dir (a new commit only when it changed). */
async function publishExamples(dataDir: string, gitRoot: string): Promise<string> {
  const src = path.join(packageRoot(), 'examples', 'fleet');
  const work = path.join(dataDir, 'examples-work');
  const bare = path.join(gitRoot, 'fleet.git');
  const git = (args: string[], cwd: string) =>
    run('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 'Fluxless', GIT_AUTHOR_EMAIL: 'fluxless@localhost', GIT_COMMITTER_NAME: 'Fluxless', GIT_COMMITTER_EMAIL: 'fluxless@localhost' } });
  if (!existsSync(path.join(bare, 'HEAD'))) {
    mkdirSync(bare, { recursive: true });
    await git(['init', '--bare', '-q', '-b', 'main'], bare);
    await git(['config', 'http.receivepack', 'true'], bare);
  }
  if (!existsSync(path.join(work, '.git'))) {
    mkdirSync(work, { recursive: true });
    await git(['init', '-q', '-b', 'main'], work);
    await git(['remote', 'add', 'origin', bare], work);
  }
  await run('rsync', ['-a', '--delete', '--exclude', '.git', `${src}/`, `${work}/`]).catch(async () => {
    const { cp, rm } = await import('node:fs/promises');
    for (const e of await (await import('node:fs/promises')).readdir(work)) if (e !== '.git') await rm(path.join(work, e), { recursive: true, force: true });
    await cp(src, work, { recursive: true });
  });
  // Someone may have pushed to the local git server since (the README's push + webhook):
  // commit examples/fleet on top of what the server has, never a rejected push.
  const remoteHasMain = (await git(['ls-remote', '--heads', 'origin', 'main'], work)).stdout.trim() !== '';
  if (remoteHasMain) {
    await git(['fetch', '-q', 'origin', 'main'], work);
    await git(['reset', '-q', '--mixed', 'FETCH_HEAD'], work);
  }
  await git(['add', '-A'], work);
  const status = (await git(['status', '--porcelain'], work)).stdout.trim();
  if (status) await git(['commit', '-q', '-m', 'Update from examples/fleet'], work);
  await git(['push', '-q', 'origin', 'HEAD:main'], work);
  return 'fleet.git';
}

/** True when an object's status is about its current definition (not a previous one). */
function current(r: ObjectRecord): boolean {
  return getCondition(r, 'Ready')?.status === 'True' && r.status.observedGeneration === Number(r.object?.metadata.generation ?? 1);
}

/** Stalled for its current definition: it cannot succeed until the definition changes (InvalidSpec, ...). */
function stalled(r: ObjectRecord): boolean {
  return getCondition(r, 'Stalled')?.status === 'True' && r.status.observedGeneration === Number(r.object?.metadata.generation ?? 1);
}

/**
 * 'ready': every Kustomization Ready for its current definition, at the revision its source
 * has now (a restart after a push must not print the state before it), that source Ready
 * too; 'stalled': the same, except some that are Stalled (waiting would not change them);
 * 'waiting' otherwise.
 */
async function convergence(rt: Runtime): Promise<'ready' | 'stalled' | 'waiting'> {
  const reads = await listRecords(rt.state, { kind: 'Kustomization' });
  if (!reads.length) return 'waiting';
  let anyStalled = false;
  for (const { record } of reads) {
    if (!record?.object || record.deleted) continue;
    if (stalled(record)) {
      anyStalled = true;
      continue;
    }
    if (!current(record) || !record.status.lastAppliedRevision) return 'waiting';
    const src = kindReconciler('Kustomization')?.sourceOf?.(record);
    const source = src ? await readRecord(rt.state, src) : undefined;
    if (source && (!current(source) || source.status.artifact?.revision !== record.status.lastAppliedRevision)) return 'waiting';
  }
  return anyStalled ? 'stalled' : 'ready';
}

/** `fluxless start`: everything on embedded defaults (what `npm start` runs). Returns the exit code. */
export async function startCmd(g: GlobalOptions, opts: { once: boolean; timeoutMs: number }): Promise<number> {
  const dataDir = g.dataDir;
  mkdirSync(dataDir, { recursive: true });
  // What to stop, most recently started first (unshift); the lock is released after all of it,
  // so a next start never sees this one's start.json or control plane going away under it.
  const stops: Array<() => Promise<void>> = [];
  // One start per data directory, decided before anything is started or written.
  let held: HeldLock;
  try {
    held = await acquireLock(path.join(dataDir, 'start'), { staleMs: Number.POSITIVE_INFINITY, timeoutMs: 0, what: `fluxless start in ${dataDir}` });
  } catch (err) {
    throw new FluxlessError('AlreadyRunning', errorMessage(err), { hint: "use the running one (see 'npx fluxless get all'), or stop it with Ctrl-C first" });
  }
  try {
    // 1. A cluster: the one the configuration names (as `fluxless serve` uses it), else
    // KUBECONFIG's, else the local control plane. A bad configuration fails here, before anything starts.
    const configured = Boolean(g.config || process.env.FLUXLESS_CONFIG || process.env.FLUXLESS_SOURCE_URL || existsSync('fluxless.yaml'));
    const named = configured || process.env.FLUXLESS_KUBECONFIG ? loadConfig({ file: g.config, dataDir, requireSource: false }).cluster.kubeconfig : undefined;
    let kubeconfigPath = named ?? process.env.KUBECONFIG;
    let cp: ControlPlane | undefined;
    if (!kubeconfigPath) {
      console.log('► starting the local Kubernetes control plane (first run builds it: ~10 minutes)');
      cp = await startControlPlane();
      stops.unshift(() => cp!.stop());
      kubeconfigPath = path.join(dataDir, 'kubeconfig');
      writeFileSync(kubeconfigPath, cp.kubeconfig, { mode: 0o600 });
      // Its cluster goes with this process: no kubeconfig of a dead cluster is left behind.
      const written = kubeconfigPath;
      stops.unshift(async () => rmSync(written, { force: true }));
      console.log(`✔ control plane at ${cp.server} (export KUBECONFIG=${kubeconfigPath})`);
    } else {
      console.log(named ? `► using the cluster of the configuration (kubeconfig ${kubeconfigPath})` : `► using the cluster of KUBECONFIG=${kubeconfigPath}`);
    }
    // 2. A fleet repository: the configured one, else examples/fleet on a local git server.
    const env: Record<string, string | undefined> = { ...process.env, FLUXLESS_KUBECONFIG: kubeconfigPath };
    if (!configured) {
      const gitRoot = path.join(dataDir, 'git');
      const repo = await publishExamples(dataDir, gitRoot);
      const server = await startGitServer({ root: gitRoot });
      stops.unshift(() => server.stop());
      env.FLUXLESS_SOURCE_URL = `${server.url}/${repo}`;
      env.FLUXLESS_SOURCE_BRANCH = 'main';
      env.FLUXLESS_PATH = './clusters/local';
      console.log(`✔ serving examples/fleet at ${env.FLUXLESS_SOURCE_URL}`);
    }
    const cfg: FluxlessConfig = loadConfig({ file: g.config, env, dataDir });
    // Other shells' `npx fluxless ...` in this directory use the same cluster and source.
    writeStartMarker(dataDir, { kubeconfig: kubeconfigPath, env: Object.fromEntries(START_ENV.filter((k) => env[k]).map((k) => [k, env[k]!])) });
    stops.unshift(async () => removeStartMarker(dataDir));
    // 3. The webhook token Secret the example Receiver uses.
    const client = createKubeClient(loadKubeConfig(kubeconfigPath));
    const tokenFile = path.join(dataDir, 'webhook-token');
    const token = existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : randomBytes(20).toString('hex');
    writeFileSync(tokenFile, token, { mode: 0o600 });
    await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: cfg.namespace } } }).catch(() => undefined);
    await client
      .request('GET', `/api/v1/namespaces/${cfg.namespace}/secrets/webhook-token`)
      .catch(async (err: unknown) => {
        if (!isNotFound(err)) throw err;
        await client.request('POST', `/api/v1/namespaces/${cfg.namespace}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
      });
    client.close();
    // 4. Serve.
    const rt = createRuntime(cfg);
    await ownQueue(rt);
    const local = await startLocalRuntime(rt, cfg);
    stops.unshift(() => local.stop());
    console.log(`► reconciling ${cfg.source.url} path ${cfg.path}`);
    const deadline = Date.now() + opts.timeoutMs;
    let state: 'ready' | 'stalled' | 'waiting' = 'waiting';
    while (Date.now() < deadline && state === 'waiting') {
      await new Promise((r) => setTimeout(r, 1000));
      state = await convergence(rt);
    }
    const settled = state === 'ready';
    console.log('');
    console.log(await getCmd(rt, 'all', { output: 'table' }));
    console.log('');
    console.log(`Webhook URL (GitHub receiver flux-system/github): ${local.url}${webhookPath(token, 'github', cfg.namespace)}`);
    console.log(`  (the token is in ${tokenFile}; the Receiver's Secret is ${cfg.namespace}/webhook-token)`);
    if (state === 'stalled') console.log("! some Kustomizations cannot become Ready until their definition is fixed (Stalled): see 'npx fluxless get all' and 'npx fluxless events'");
    else if (!settled) console.log(`! not every Kustomization is Ready yet after ${opts.timeoutMs / 1000}s: see 'npx fluxless get all' and 'npx fluxless events'`);
    if (opts.once) return settled ? 0 : 1;
    console.log('Serving. Edit examples/fleet and run `npm start` again, or use `npx fluxless get all` from another shell. Ctrl-C stops.');
    await serveUntilSignal(local, dataDir);
    stops.shift();
    return 0;
  } finally {
    for (const s of stops) await s().catch(() => undefined);
    await held.release();
  }
}
