/**
 * What a Flux user does with the `fluxless` command in the first hour, run as they run it:
 * the real bin + bundle as a child process, a fluxless.yaml in the working directory whose
 * kubeconfig is `~/.kube/config` (HOME set for the child), against the harness cluster and
 * git server.
 *
 * - `~` in fluxless.yaml works for every command (serve, check, reconcile, get, events, tree,
 *   diff, build, suspend, resume, webhook);
 * - `build --path` of an overlay reaching `../../base` builds in place, and `build
 *   --kustomization-file F --dry-run` needs neither a stored definition nor a cluster;
 * - `reconcile` of a Kustomization that failed validation returns at once with the reason
 *   (given --timeout 10m, it exits: the test's own timeout would fail it otherwise), with a
 *   Warning event;
 * - `get receivers`, and `get all` listing a kind not supported yet with its reason;
 * - the bin runs the bundle (no TypeScript on the way): `get all` timed, for the record.
 */
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { createKubeClient } from '../../shared/kube/client.js';
import { createTestRepo } from '../harness/git-server.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { unsupportedKindManifest } from '../e2e/fixtures/unsupported-kind.js';
import { cleanupStack } from '../e2e/fixtures/cleanup.js';
import { cliEnv, fluxlessBin, runCli, spawnCli, waitFor, type CliProcess, type CliResult } from './helpers.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');

function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** `node <args>` to completion (a bin other than the helpers' one). */
function runNode(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += String(d)));
    c.stderr.on('data', (d: Buffer) => (stderr += String(d)));
    c.once('error', reject);
    c.once('close', (code, signal) => resolve({ code, signal, stdout, stderr, all: stdout + stderr }));
  });
}

/** Every file under `dir`, relative path -> content. */
async function filesOf(dir: string, prefix: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!e.isFile()) continue;
    const abs = path.join(e.parentPath, e.name);
    out[path.join(prefix, path.relative(dir, abs))] = await readFile(abs, 'utf8');
  }
  return out;
}

/** The objects of a multi-document YAML output, by `Kind/name`. */
function objectsOf(yaml: string): Map<string, { metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> }; data?: Record<string, string> }> {
  const m = new Map();
  for (const d of parseAllDocuments(yaml)) {
    const o = d.toJS() as { kind: string; metadata: { name: string } } | null;
    if (o) m.set(`${o.kind}/${o.metadata.name}`, o);
  }
  return m;
}

function row(table: string, name: string): string[] | undefined {
  return table.split('\n').map((l) => l.split('\t').map((c) => c.trim())).find((cells) => cells[1] === name);
}

const kustomization = (ns: string, name: string, spec: string) =>
  `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n${spec}`;

test('a Flux user\'s first hour with the fluxless command', { timeout: 300_000 }, async (t) => {
  const defer = cleanupStack(t);
  const env = await testEnv();
  const ns = await env.namespace(t, 'first');
  const cluster = await env.cluster();
  const client = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  defer(() => client.close());
  const repo = await createTestRepo(await env.git(), { defaultBranch: 'main' });
  defer(() => repo.cleanup());
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-first-hour-'));
  defer(() => rm(work, { recursive: true, force: true }));
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token: 'first-hour-token' } } });

  // The fleet: apps, a Receiver, a Kustomization with an invalid interval, a kind not supported yet, and kustomize's helloWorld-style overlay.
  const unsupported = unsupportedKindManifest(ns, 'not-yet');
  const head = await repo.commit({
    'clusters/dev/apps.yaml': kustomization(ns, 'apps', `  interval: 10m\n  path: ./apps\n  prune: true\n  targetNamespace: ${ns}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n`),
    'clusters/dev/broken.yaml': kustomization(ns, 'broken', `  interval: every minute\n  path: ./apps\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n`),
    'clusters/dev/receiver.yaml': `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: github\n  namespace: ${ns}\nspec:\n  type: github\n  events: ["push"]\n  secretRef:\n    name: webhook-token\n  resources:\n    - kind: GitRepository\n      name: flux-system\n`,
    ...(unsupported ? { 'clusters/dev/not-supported-yet.yaml': unsupported.yaml } : {}),
    'apps/configmap.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  greeting: hello\n',
    ...(await filesOf(path.join(FIXTURES, 'hello'), 'hello')),
  });
  await repo.push();
  const revision = `main@sha1:${head}`;

  // HOME with ~/.kube/config, and a fluxless.yaml that names it the README's way.
  const home = path.join(work, 'home');
  await mkdir(path.join(home, '.kube'), { recursive: true });
  await copyFile(cluster.kubeconfigPath, path.join(home, '.kube', 'config'));
  const cwd = path.join(work, 'fleet-admin');
  await mkdir(cwd);
  await writeFile(
    path.join(cwd, 'fluxless.yaml'),
    [
      'source:',
      `  url: ${repo.url}`,
      '  ref: { branch: main }',
      '  interval: 1m',
      'path: ./clusters/dev',
      `namespace: ${ns}`,
      'cluster: { kubeconfig: ~/.kube/config }',
      'webhook: { port: 0 }',
      'scheduleInterval: 500ms',
      'worker: { concurrency: 4, healthInterval: 250ms }',
      '',
    ].join('\n'),
  );
  const opts = { cwd, env: cliEnv({ HOME: home }) };
  const cli = (...args: string[]) => runCli(args, opts);
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `fluxless ${args.join(' ')}: ${show(r)}`);
    assert.doesNotMatch(r.all, /ENOENT|~\/\.kube/, `fluxless ${args.join(' ')} read the path as written: ${show(r)}`);
    return r;
  };

  let serve: CliProcess | undefined;
  defer(() => serve?.stop('SIGKILL'));

  await t.test('`~` in fluxless.yaml: serve and every command read ~/.kube/config', async () => {
    // Before anything runs: the prerequisites check reads the cluster through ~/.kube/config.
    const pre = await ok('check', '--pre');
    assert.match(pre.stdout, /✔ Kubernetes v\d+\.\d+\.\d+ at https:\/\/127\.0\.0\.1:\d+/);
    // `fluxless serve` from the same directory, then every command from "another shell".
    const server = await spawnCli(['serve'], opts);
    serve = server;
    await waitFor('fluxless serve to listen', () => /fluxless serving: webhooks at http:\/\/127\.0\.0\.1:\d+/.test(server.output()) || server.child.exitCode !== null, 60_000, () => server.output());
    assert.equal(server.child.exitCode, null, server.output());
    await waitFor(
      'apps to be Ready',
      async () => {
        const r = await cli('get', 'kustomizations', '-o', 'json');
        const rows = JSON.parse(r.stdout || '[]') as Array<{ name: string; ready: string; revision: string }>;
        return rows.some((x) => x.name === 'apps' && x.ready === 'True' && x.revision === revision);
      },
      120_000,
      () => server.output().slice(-4000),
    );
    const cm = await client.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/configmaps/app-config`);
    assert.equal(cm.data?.greeting, 'hello');
    await ok('reconcile', 'kustomization', 'apps', '--with-source');
    await ok('events');
    const tree = await ok('tree', 'kustomization', 'apps');
    assert.match(tree.stdout, new RegExp(`└── ConfigMap/${ns}/app-config`));
    const diff = await ok('diff', 'kustomization', 'apps');
    assert.match(diff.stdout, /no changes/);
    const built = await ok('build', 'kustomization', 'apps');
    assert.equal(objectsOf(built.stdout).get('ConfigMap/app-config')?.metadata.namespace, ns);
    await ok('suspend', 'kustomization', 'apps');
    await ok('resume', 'kustomization', 'apps');
    const hook = await ok('webhook', 'github');
    assert.match(hook.stdout, /^curl -sS -X POST .*-H 'x-hub-signature-256: sha256=[0-9a-f]{64}'/m);
    const check = await cli('check');
    assert.doesNotMatch(check.all, /ENOENT/, show(check));
    assert.match(check.stdout, /✔ Kubernetes v/, show(check));
    if (unsupported) assert.ok(check.stdout.includes(`✗ ${unsupported.kind} (${unsupported.apiVersion}): 1 of 1: ${unsupported.kind} is not supported yet`), show(check));
  });

  let objectCount = 0;
  await t.test('get all lists Receivers, kinds not supported yet and invalid definitions with their reason; get receivers', async () => {
    const all = await ok('get', 'all');
    assert.equal(row(all.stdout, 'receiver/github')?.[4], 'True', all.stdout);
    const invalid = row(all.stdout, 'kustomization/broken');
    assert.equal(invalid?.[4], 'False', all.stdout);
    assert.match(invalid?.[5] ?? '', /spec\.interval: invalid duration 'every minute'/);
    const allJson = JSON.parse((await ok('get', 'all', '-o', 'json')).stdout) as Array<{ kind: string; name: string; reason: string; message: string }>;
    objectCount = allJson.length;
    if (unsupported) {
      const r = row(all.stdout, `${unsupported.kind.toLowerCase()}/not-yet`);
      assert.equal(r?.[4], 'False', `get all lists the ${unsupported.kind}:\n${all.stdout}`);
      assert.match(r?.[5] ?? '', new RegExp(`^${unsupported.kind} is not supported yet by Fluxless`));
      assert.equal(allJson.find((x) => x.kind === unsupported.kind)?.reason, 'NotSupported');
    }
    const receivers = await ok('get', 'receivers');
    assert.ok(row(receivers.stdout, 'receiver/github'), receivers.stdout);
    assert.ok(!row(receivers.stdout, 'kustomization/apps'), `only Receivers:\n${receivers.stdout}`);
  });

  await t.test('reconcile of an invalid Kustomization returns at once with the reason (not after --timeout 10m), with a Warning event', async () => {
    const rec = await cli('reconcile', 'kustomization', 'broken', '--timeout', '10m');
    assert.equal(rec.code, 1, show(rec));
    assert.match(rec.stdout, /✗ .*spec\.interval: invalid duration 'every minute'/, show(rec));
    const events = await ok('events', '--for', 'Kustomization/broken');
    assert.match(events.stdout, /Warning\s+InvalidSpec\s+Kustomization\/broken\s+.*spec\.interval/, events.stdout);
  });

  await t.test('build --path of an overlay reaching ../../base builds in place', async () => {
    const overlay = await ok('build', 'kustomization', 'apps', '--path', path.join(repo.workdir, 'hello', 'overlays', 'staging'));
    const objs = objectsOf(overlay.stdout);
    assert.deepEqual([...objs.keys()].sort(), ['ConfigMap/staging-the-map', 'Deployment/staging-the-deployment', 'Service/staging-the-service']);
    const map = objs.get('ConfigMap/staging-the-map')!;
    assert.equal(map.data?.altGreeting, 'Have a pineapple!', 'the overlay patch');
    assert.equal(map.metadata.labels?.app, 'hello', 'the base label');
    assert.equal(map.metadata.labels?.variant, 'staging');
    assert.equal(map.metadata.namespace, ns, "apps' targetNamespace");
    assert.equal(map.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], 'apps');
    const diff = await cli('diff', 'kustomization', 'apps', '--path', path.join(repo.workdir, 'hello', 'overlays', 'staging'));
    assert.equal(diff.code, 1, show(diff));
    assert.match(diff.stdout, new RegExp(`► ConfigMap/${ns}/staging-the-map created`));
  });

  await t.test('build --kustomization-file --dry-run: no stored definition, no configuration, no cluster, a directory outside git', async () => {
    const alone = path.join(work, 'alone');
    await cp(path.join(FIXTURES, 'hello'), path.join(alone, 'hello'), { recursive: true });
    await writeFile(
      path.join(alone, 'hello-ks.yaml'),
      kustomization('flux-system', 'hello', '  interval: 5m\n  path: ./hello/overlays/staging\n  prune: true\n  targetNamespace: hello-staging\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n  postBuild:\n    substitute:\n      greeting: from the file\n    substituteFrom:\n      - kind: ConfigMap\n        name: cluster-vars\n'),
    );
    const dry = await runCli(['build', 'kustomization', 'hello', '--path', path.join(alone, 'hello', 'overlays', 'staging'), '--kustomization-file', path.join(alone, 'hello-ks.yaml'), '--dry-run'], {
      cwd: alone,
      env: cliEnv({ HOME: path.join(work, 'empty-home') }),
    });
    assert.equal(dry.code, 0, show(dry));
    const dryMap = objectsOf(dry.stdout).get('ConfigMap/staging-the-map');
    assert.equal(dryMap?.metadata.namespace, 'hello-staging');
    assert.equal(dryMap?.data?.message, 'from the file', 'postBuild.substitute of the file applies');
    assert.equal(dryMap?.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], 'hello');
  });

  await t.test('the bin runs the bundle (a package with bin/ and dist/ only); get all timed', async (st) => {
    const bin = await fluxlessBin();
    const built = path.dirname(path.dirname(bin));
    const pkg = path.join(work, 'pkg');
    await mkdir(path.join(pkg, 'bin'), { recursive: true });
    await mkdir(path.join(pkg, 'dist'));
    await copyFile(bin, path.join(pkg, 'bin', 'fluxless.mjs'));
    await copyFile(path.join(built, 'package.json'), path.join(pkg, 'package.json'));
    await copyFile(path.join(built, 'dist', 'cli.mjs'), path.join(pkg, 'dist', 'cli.mjs'));
    await symlink(path.join(built, 'node_modules'), path.join(pkg, 'node_modules'));
    const timed: number[] = [];
    for (let i = 0; i < 5; i++) {
      const t0 = process.hrtime.bigint();
      const r = await runNode([path.join(pkg, 'bin', 'fluxless.mjs'), 'get', 'all'], opts);
      timed.push(Number(process.hrtime.bigint() - t0) / 1e6);
      assert.equal(r.code, 0, show(r));
      assert.ok(row(r.stdout, 'kustomization/apps'), r.stdout);
    }
    timed.sort((a, b) => a - b);
    st.diagnostic(`fluxless get all (bundle, ${objectCount} objects): median ${timed[2].toFixed(0)} ms, min ${timed[0].toFixed(0)} ms, max ${timed[4].toFixed(0)} ms (target: under 500 ms)`);
  });

  await t.test('Ctrl-C stops serve gracefully', async () => {
    assert.ok(serve);
    const stopped = await serve.stop('SIGINT');
    assert.equal(stopped.code, 0, show(stopped));
  });

  await t.test("start uses the configuration's cluster (~/.kube/config) and does not wait for a Stalled Kustomization", async () => {
    // --timeout 10m: a start that waited for `broken` would be stopped by this test's own timeout.
    const once = await cli('start', '--once', '--timeout', '10m');
    assert.equal(once.code, 1, show(once));
    assert.ok(once.stdout.includes(`► using the cluster of the configuration (kubeconfig ${path.join(home, '.kube', 'config')})`), show(once));
    assert.doesNotMatch(once.all, /starting the local Kubernetes control plane|ENOENT/);
    assert.match(once.stdout, /! some Kustomizations cannot become Ready until their definition is fixed \(Stalled\)/);
    assert.match(once.stdout, /kustomization\/apps\s*\t.*\tTrue\s/);
  });
});
