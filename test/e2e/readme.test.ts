/**
 * The README's own sequence, run as a new user runs it, with the real bundled CLI
 * (`node bin/fluxless.mjs`, what `npx fluxless` runs):
 *
 *   shell 1:  npm start                       (KUBECONFIG set: the harness cluster, no second control plane)
 *   shell 2:  npx fluxless get all            (no KUBECONFIG: start.json says which cluster)
 *             npx fluxless diff kustomization apps      -> 0, then 1 after a kubectl edit
 *             git clone/commit/push to the local git server, npx fluxless webhook github --send
 *   shell 2:  npm start                       -> refused at once, nothing of shell 1's overwritten
 *   shell 1:  Ctrl-C                          -> graceful stop, exit 0
 *   shell 1:  npm start                       -> works again after the push, converges
 *   shell 1:  npm start without KUBECONFIG    -> the same data directory on another (fresh,
 *             empty) cluster, the local control plane: everything is reconciled at start,
 *             nothing shown Ready over it; Ctrl-C stops gracefully with the control plane running;
 *             then back on the first cluster, likewise
 *   shell 3:  npx fluxless dev cluster up     -> stays in the foreground until Ctrl-C
 *
 * `start` publishes examples/fleet, whose objects live in the fixed namespaces flux-system and
 * demo: no other test uses them, this one removes them from the harness cluster, and it does
 * not run against a cluster where they already exist (FLUXLESS_TEST_KUBECONFIG).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, appendFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { findBinaries } from '../../shared/devenv/controlplane.js';
import { createKubeClient, isNotFound, type KubeClient } from '../../shared/kube/client.js';
import { gitTestEnv } from '../harness/git-server.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { cleanupStack } from './fixtures/cleanup.js';
import { ROOT, cliEnv, fluxlessBin, runCli, spawnCli, waitFor, type CliProcess, type CliResult } from '../cli/helpers.js';

const run = promisify(execFile);
/** The namespaces of examples/fleet. */
const EXAMPLE_NAMESPACES = ['flux-system', 'demo'];

interface Row {
  kind: string;
  namespace: string;
  name: string;
  revision: string;
  ready: string;
  message: string;
}

function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The human lines of a `start` (its JSON log lines left out). */
function humanLines(out: string): string {
  return out
    .split('\n')
    .filter((l) => !l.startsWith('{'))
    .join('\n');
}

async function configMap(client: KubeClient, ns: string, name: string): Promise<Record<string, string> | undefined> {
  try {
    return (await client.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`)).data ?? {};
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

test('the README, as written: npm start, another shell, a push and a signed webhook, Ctrl-C, restarts, dev cluster up', { timeout: 600_000 }, async (t) => {
  const defer = cleanupStack(t);
  const env = await testEnv();
  const cluster = await env.cluster();
  const harness = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  defer(() => harness.close());
  for (const ns of EXAMPLE_NAMESPACES) {
    if (await harness.request('GET', `/api/v1/namespaces/${ns}`).then(() => true, () => false)) {
      t.skip(`namespace ${ns} already exists in the test cluster: the README test needs it free`);
      return;
    }
  }
  defer(async () => {
    for (const ns of EXAMPLE_NAMESPACES) await harness.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
  });
  const { kubectl } = await env.tools();
  const bin = await fluxlessBin();
  // `start` serves examples/fleet from the package it runs from.
  const pkg = path.dirname(path.dirname(bin));
  if (!existsSync(path.join(pkg, 'examples'))) await symlink(path.join(ROOT, 'examples'), path.join(pkg, 'examples'));

  const cwd = await mkdtemp(path.join(os.tmpdir(), 'fluxless-readme-'));
  const dataDir = path.join(cwd, '.fluxless');
  defer(() => rm(cwd, { recursive: true, force: true }));
  // Every process this test starts is killed before the data directory and the namespaces go.
  const procs: CliProcess[] = [];
  defer(async () => {
    for (const p of procs.reverse()) await p.stop('SIGKILL');
  });
  // "From another shell": the same directory, nothing exported.
  const shell = { cwd, env: cliEnv({}) };
  const fluxless = (...args: string[]) => runCli(args, shell);
  const start = async (kubeconfig: string, what: string): Promise<CliProcess> => {
    // FLUXLESS_PORT=0: the webhook server on a free port (9292 may be taken on a test machine).
    const p = await spawnCli(['start'], { cwd, env: cliEnv({ KUBECONFIG: kubeconfig, FLUXLESS_PORT: '0' }) });
    procs.push(p);
    await waitFor(`${what}: the "Serving." line of npm start`, () => /^Serving\. /m.test(p.output()) || p.child.exitCode !== null, 240_000, () => p.output().slice(-6000));
    assert.equal(p.child.exitCode, null, `${what}: start exited:\n${p.output()}`);
    return p;
  };
  const rows = async (): Promise<Row[]> => {
    const r = await fluxless('get', 'all', '-o', 'json');
    assert.equal(r.code, 0, show(r));
    return JSON.parse(r.stdout) as Row[];
  };
  const allReadyAt = async (revision: string) => {
    const ks = (await rows()).filter((r) => r.kind === 'Kustomization');
    return ks.length >= 3 && ks.every((r) => r.ready === 'True' && r.revision === revision);
  };

  // ---- shell 1: npm start, on the cluster of KUBECONFIG.
  const first = await start(cluster.kubeconfigPath, 'the first start');
  const firstOut = humanLines(first.output());
  assert.match(firstOut, new RegExp(`► using the cluster of KUBECONFIG=${cluster.kubeconfigPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  const repoUrl = /✔ serving examples\/fleet at (http:\/\/127\.0\.0\.1:\d+\/fleet\.git)/.exec(firstOut)?.[1];
  assert.ok(repoUrl, firstOut);
  assert.match(firstOut, /kustomization\/apps\s*\tmain@sha1:[0-9a-f]{40}\s*\tfalse\s*\tTrue\s*\tApplied revision/);
  assert.match(firstOut, /Webhook URL \(GitHub receiver flux-system\/github\): http:\/\/127\.0\.0\.1:\d+\/hook\/[0-9a-f]{64}/);
  assert.equal((await configMap(harness, 'demo', 'podinfo-config'))?.message, 'Hello from Fluxless');

  await t.test('a second npm start is refused at once and overwrites nothing of the running one', async () => {
    const marker = readFileSync(path.join(dataDir, 'start.json'), 'utf8');
    // As typed in another shell: no KUBECONFIG, so it would start a control plane if it got that far.
    const second = await fluxless('start');
    assert.equal(second.code, 1, show(second));
    assert.match(second.stderr, new RegExp(`✗ fluxless start in ${dataDir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is in use by process ${first.child.pid}`));
    assert.match(second.stderr, /hint: use the running one \(see 'npx fluxless get all'\), or stop it with Ctrl-C first/);
    assert.doesNotMatch(second.all, /starting the local Kubernetes control plane/);
    assert.equal(existsSync(path.join(dataDir, 'kubeconfig')), false, 'no .fluxless/kubeconfig written');
    assert.equal(readFileSync(path.join(dataDir, 'start.json'), 'utf8'), marker, 'start.json is the running start\'s');
  });

  await t.test('another shell: get all, diff (0, then 1 after a kubectl edit) on the cluster npm start uses', async () => {
    const table = await fluxless('get', 'all');
    assert.equal(table.code, 0, show(table));
    for (const name of ['kustomization/flux-system', 'kustomization/infrastructure', 'kustomization/apps', 'gitrepository/flux-system', 'receiver/github']) {
      assert.match(table.stdout, new RegExp(`^flux-system\\s*\\t${name}\\s*\\t.*\\tTrue\\s`, 'm'), `${name} Ready in:\n${table.stdout}`);
    }
    const clean = await fluxless('diff', 'kustomization', 'apps');
    assert.equal(clean.code, 0, show(clean));
    assert.match(clean.stdout, /✔ no changes/);
    await run(kubectl, ['--kubeconfig', cluster.kubeconfigPath, '-n', 'demo', 'patch', 'configmap', 'podinfo-config', '--type', 'merge', '-p', '{"data":{"message":"edited by hand"}}']);
    const drifted = await fluxless('diff', 'kustomization', 'apps');
    assert.equal(drifted.code, 1, show(drifted));
    assert.match(drifted.stdout, /► ConfigMap\/demo\/podinfo-config drifted/);
    assert.match(drifted.stdout, /data\.message: edited by hand -> Hello from Fluxless/);
  });

  let pushed = '';
  await t.test('a push through the local git server and a signed webhook: the change lands', async () => {
    const clone = path.join(cwd, 'clone');
    const git = (...args: string[]) => run('git', args, { cwd: clone, env: gitTestEnv() });
    await run('git', ['clone', '-q', repoUrl!, clone], { env: gitTestEnv() });
    await appendFile(path.join(clone, 'apps', 'podinfo', 'configmap.yaml'), '  pushed: "from a clone"\n');
    await git('commit', '-qam', 'podinfo: one more key');
    await git('push', '-q', 'origin', 'HEAD:main');
    pushed = (await git('rev-parse', 'HEAD')).stdout.trim();
    const hook = await fluxless('webhook', 'github', '--send');
    assert.equal(hook.code, 0, show(hook));
    assert.match(hook.stdout, /^✔ 200 .*"status":"accepted"/);
    await waitFor('every Kustomization at the pushed revision', () => allReadyAt(`main@sha1:${pushed}`), 120_000, () => first.output().slice(-4000));
    const data = await configMap(harness, 'demo', 'podinfo-config');
    assert.equal(data?.pushed, 'from a clone');
    assert.equal(data?.message, 'Hello from Fluxless', 'the hand edit was reverted by the apply');
  });

  await t.test('Ctrl-C stops gracefully', async () => {
    const stopped = await first.stop('SIGINT');
    assert.equal(stopped.code, 0, show(stopped));
    assert.match(stopped.stdout, /SIGINT: finishing running reconciles, then stopping/);
    assert.equal(existsSync(path.join(dataDir, 'start.json')), false, 'start.json removed');
    assert.equal(existsSync(path.join(dataDir, 'serve.json')), false, 'serve.json removed');
    assert.equal(existsSync(path.join(dataDir, 'start.lock')), false, 'the start lock released');
  });

  await t.test('npm start again after the push: examples/fleet is published on top, no rejected push, converges', async () => {
    const again = await start(cluster.kubeconfigPath, 'the second start');
    assert.doesNotMatch(again.output(), /rejected|non-fast-forward/);
    const bare = path.join(dataDir, 'git', 'fleet.git');
    const head = (await run('git', ['--git-dir', bare, 'rev-parse', 'main'], { env: gitTestEnv() })).stdout.trim();
    const parent = (await run('git', ['--git-dir', bare, 'rev-parse', 'main^'], { env: gitTestEnv() })).stdout.trim();
    assert.equal(parent, pushed, 'the examples commit sits on top of the pushed one');
    await waitFor('every Kustomization at the republished revision', () => allReadyAt(`main@sha1:${head}`), 120_000, () => again.output().slice(-4000));
    assert.equal((await configMap(harness, 'demo', 'podinfo-config'))?.pushed, undefined, 'examples/fleet is the truth again');
    const stopped = await again.stop('SIGINT');
    assert.equal(stopped.code, 0, show(stopped));
  });

  const localControlPlane = findBinaries() ? false : 'the local control plane is not built on this machine';
  // `dev cluster up` in a third shell, started now: it comes up while the starts below wait on reconciles.
  const dev = localControlPlane ? undefined : await spawnCli(['dev', 'cluster', 'up'], shell);
  if (dev) procs.push(dev);

  await t.test('npm start without KUBECONFIG: the data directory on a fresh local control plane, and back, is reconciled at start; Ctrl-C stops it gracefully', { skip: localControlPlane }, async () => {
    // As on a fresh machine: no KUBECONFIG, so start runs the local control plane. The data
    // directory's records say everything is Ready (on the harness cluster): they must not be believed.
    const p = await spawnCli(['start'], { cwd, env: cliEnv({ FLUXLESS_PORT: '0' }) });
    procs.push(p);
    await waitFor('the start on the local control plane: "Serving."', () => /^Serving\. /m.test(p.output()) || p.child.exitCode !== null, 240_000, () => p.output().slice(-6000));
    assert.equal(p.child.exitCode, null, p.output());
    const kubeconfig = /✔ control plane at https:\/\/127\.0\.0\.1:\d+ \(export KUBECONFIG=(\S+)\)/.exec(p.output())?.[1];
    assert.equal(kubeconfig, path.join(dataDir, 'kubeconfig'), p.output());
    const fresh = createKubeClient(kubeConfigFrom(kubeconfig));
    try {
      assert.equal((await configMap(fresh, 'demo', 'podinfo-config'))?.message, 'Hello from Fluxless', 'reconciled into the new cluster before "Serving."');
      assert.ok(await fresh.request('GET', '/apis/apps/v1/namespaces/demo/deployments/podinfo'), 'the podinfo Deployment too');
    } finally {
      fresh.close();
    }
    // From another shell, through start.json: the new cluster.
    const diff = await fluxless('diff', 'kustomization', 'apps');
    assert.equal(diff.code, 0, show(diff));
    for (const r of (await rows()).filter((x) => x.kind === 'Kustomization')) assert.equal(r.ready, 'True', `${r.name}: ${r.message}`);
    // Ctrl-C with the control plane running: the graceful stop runs before the control plane goes.
    const stopped = await p.stop('SIGINT');
    assert.equal(stopped.code, 0, show(stopped));
    assert.match(stopped.stdout, /SIGINT: finishing running reconciles, then stopping/);
    assert.equal(existsSync(path.join(dataDir, 'start.json')), false);
    assert.equal(existsSync(kubeconfig), false, 'the kubeconfig of the stopped control plane is removed');

    // And back on the first cluster a minute later (A -> B -> A), where objects went missing meanwhile.
    await harness.request('DELETE', '/api/v1/namespaces/demo/configmaps/podinfo-config');
    await harness.request('DELETE', '/api/v1/namespaces/demo/resourcequotas/demo-quota');
    const back = await start(cluster.kubeconfigPath, 'the start back on the first cluster');
    assert.equal((await configMap(harness, 'demo', 'podinfo-config'))?.message, 'Hello from Fluxless', 'reconciled again before "Serving."');
    assert.ok(await harness.request('GET', '/api/v1/namespaces/demo/resourcequotas/demo-quota'));
    const stoppedBack = await back.stop('SIGINT');
    assert.equal(stoppedBack.code, 0, show(stoppedBack));
  });

  await t.test('dev cluster up stays in the foreground until Ctrl-C', { skip: localControlPlane }, async () => {
    assert.ok(dev);
    await waitFor('dev cluster up to print its kubeconfig', () => /export KUBECONFIG=\S+/.test(dev.output()) || dev.child.exitCode !== null, 120_000, () => dev.output());
    const devKubeconfig = /export KUBECONFIG=(\S+)/.exec(dev.output())?.[1];
    assert.ok(devKubeconfig, dev.output());
    const devClient = createKubeClient(kubeConfigFrom(devKubeconfig));
    try {
      // The cluster answers, so its process is still there: it did not exit after printing.
      assert.match((await devClient.request<{ gitVersion: string }>('GET', '/version')).gitVersion, /^v1\./);
    } finally {
      devClient.close();
    }
    assert.equal(dev.child.exitCode, null, `dev cluster up is still in the foreground:\n${dev.output()}`);
    const where = await fluxless('dev', 'cluster', 'kubeconfig');
    assert.equal(where.code, 0, show(where));
    assert.equal(where.stdout.trim(), devKubeconfig, 'another shell finds it');
    const down = await dev.stop('SIGINT');
    assert.equal(down.code, 0, show(down));
    assert.match(down.stdout, /^stopped$/m);
    assert.equal(existsSync(devKubeconfig), false, 'its kubeconfig removed');
    assert.equal(existsSync(path.join(dataDir, 'dev-cluster.json')), false);
  });
});
