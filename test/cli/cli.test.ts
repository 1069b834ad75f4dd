/**
 * End-to-end tests of the `fluxless` command line: the real bin + bundle run as a child
 * process against the real kube-apiserver and git server of the harness, with the
 * configuration in environment variables and the state in --data-dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import type { KubeObject } from '../../shared/kube/object.js';
import { configMap, e2e, fleet } from '../e2e/helpers.js';
import { ROOT, cliEnv, runCli, spawnCli, waitFor, type CliResult, type CliProcess } from './helpers.js';

interface StatusRow {
  cluster?: string;
  kind: string;
  namespace: string;
  name: string;
  revision: string;
  suspended: boolean;
  ready: string;
  reason: string;
  message: string;
}

const COMMANDS = ['push', 'check', 'webhook', 'start', 'serve', 'get', 'reconcile', 'suspend', 'resume', 'diff', 'build', 'events', 'tree', 'dev', 'version'];

function secretYaml(name: string, value: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\ntype: Opaque\nstringData:\n  password: ${JSON.stringify(value)}\n`;
}

function show(r: CliResult): string {
  return `exit ${r.code}${r.signal ? ` (${r.signal})` : ''}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The one line of the table whose NAME column is `name` (e.g. kustomization/apps). */
function tableRow(table: string, name: string): string[] {
  const row = table.split('\n').map((l) => l.split('\t').map((c) => c.trim())).find((cells) => cells[1] === name);
  assert.ok(row, `no row ${name} in:\n${table}`);
  return row;
}

test('the fluxless CLI: reconcile in-process, get, diff, build, suspend/resume, events, tree, errors, and through a running server', async (t) => {
  const x = await e2e(t);
  const secretValue = `s3cr3t-${randomBytes(6).toString('hex')}`;
  await x.repo.commit(
    fleet(x.ns, { 'config.yaml': configMap('app-config', { greeting: 'hello' }), 'secret.yaml': secretYaml('app-secret', secretValue) }),
    'first',
  );
  await x.repo.push();
  const head1 = await x.repo.head();
  const rev1 = `main@sha1:${head1}`;

  const env = cliEnv({
    FLUXLESS_SOURCE_URL: x.repo.url,
    FLUXLESS_SOURCE_BRANCH: 'main',
    FLUXLESS_PATH: './clusters/dev',
    FLUXLESS_NAMESPACE: x.ns,
    FLUXLESS_KUBECONFIG: x.cfg.cluster.kubeconfig!,
  });
  const cli = (...args: string[]) => runCli(['--data-dir', x.dataDir, ...args], { cwd: x.dataDir, env });
  const ok = async (...args: string[]) => {
    const r = await cli(...args);
    assert.equal(r.code, 0, `fluxless ${args.join(' ')}: ${show(r)}`);
    return r;
  };
  const configMapValue = async () => ((await x.get('ConfigMap', 'app-config')) as unknown as { data?: Record<string, string> } | undefined)?.data?.greeting;
  const patchConfigMap = (greeting: string) =>
    x.client.request('PATCH', `/api/v1/namespaces/${x.ns}/configmaps/app-config`, {
      body: { data: { greeting } },
      contentType: 'application/merge-patch+json',
    });
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-cli-test-'));
  let server: CliProcess | undefined;
  t.after(async () => {
    await server?.stop('SIGKILL');
    await rm(work, { recursive: true, force: true });
  });

  await t.test('reconcile with no server: the CLI reconciles in this process', async () => {
    const root = await ok('reconcile', 'kustomization', 'flux-system', '-n', x.ns, '--with-source');
    assert.match(root.stdout, /in this process/);
    assert.match(root.stdout, new RegExp(`✔ stored artifact for revision '${rev1}'`));
    assert.match(root.stdout, new RegExp(`✔ Applied revision: ${rev1}`));
    const apps = await ok('reconcile', 'kustomization', 'apps', '-n', x.ns);
    assert.match(apps.stdout, new RegExp(`✔ Applied revision: ${rev1}`));
    assert.equal(await configMapValue(), 'hello');
    assert.ok(await x.get('Secret', 'app-secret'), 'the Secret was applied');
  });

  await t.test('get all: table and JSON', async () => {
    const table = (await ok('get', 'all', '-n', x.ns)).stdout;
    assert.match(table.split('\n')[0], /^NAMESPACE\s+NAME\s+REVISION\s+SUSPENDED\s+READY\s+MESSAGE$/);
    for (const name of ['gitrepository/flux-system', 'kustomization/flux-system', 'kustomization/apps']) {
      const [ns, , revision, suspended, ready] = tableRow(table, name);
      assert.deepEqual([ns, revision, suspended, ready], [x.ns, rev1, 'false', 'True'], name);
    }
    const rows = JSON.parse((await ok('get', 'all', '-n', x.ns, '-o', 'json')).stdout) as StatusRow[];
    const apps = rows.find((r) => r.kind === 'Kustomization' && r.name === 'apps');
    assert.deepEqual(apps, {
      kind: 'Kustomization',
      namespace: x.ns,
      name: 'apps',
      cluster: 'in-cluster',
      revision: rev1,
      suspended: false,
      ready: 'True',
      reason: 'ReconciliationSucceeded',
      message: `Applied revision: ${rev1}`,
    });
    const src = rows.find((r) => r.kind === 'GitRepository' && r.name === 'flux-system');
    assert.equal(src?.revision, rev1);
    assert.equal(src?.ready, 'True');
    assert.equal(src?.cluster, '-', 'a source applies nothing, so it has no cluster');
  });

  await t.test('diff: no diff after reconcile, drift found, Secret values masked, errors exit 2', async () => {
    const clean = await cli('diff', 'kustomization', 'apps', '-n', x.ns);
    assert.equal(clean.code, 0, show(clean));
    assert.match(clean.stdout, /no changes/);

    await patchConfigMap('tampered');
    const drift = await cli('diff', 'kustomization', 'apps', '-n', x.ns);
    assert.equal(drift.code, 1, show(drift));
    assert.match(drift.stdout, new RegExp(`ConfigMap/${x.ns}/app-config`));
    assert.match(drift.stdout, /data\.greeting: tampered -> hello/);
    assert.doesNotMatch(drift.stdout, /app-secret/, 'the unchanged Secret is not reported');

    // A local checkout of the apps path with another Secret value: masked, never shown.
    const local = path.join(work, 'apps');
    await cp(path.join(x.repo.workdir, 'apps'), local, { recursive: true });
    const newSecret = `n3w-${randomBytes(6).toString('hex')}`;
    await writeFile(path.join(local, 'secret.yaml'), secretYaml('app-secret', newSecret));
    const masked = await cli('diff', 'kustomization', 'apps', '-n', x.ns, '--path', local);
    assert.equal(masked.code, 1, show(masked));
    assert.match(masked.stdout, new RegExp(`Secret/${x.ns}/app-secret`));
    assert.match(masked.stdout, /\*\*\*/);
    for (const v of [secretValue, newSecret]) {
      for (const form of [v, Buffer.from(v).toString('base64')]) assert.ok(!masked.all.includes(form), `the output shows a Secret value:\n${masked.all}`);
    }

    const missing = await cli('diff', 'kustomization', 'nope', '-n', x.ns);
    assert.equal(missing.code, 2, show(missing));
    const errLines = missing.stderr.split('\n').filter((l) => l.startsWith('✗'));
    assert.equal(errLines.length, 1, show(missing));
    assert.match(errLines[0], new RegExp(`Kustomization ${x.ns}/nope not found`));
    assert.match(missing.stderr, /hint: /);
  });

  await t.test('build: the rendered objects with the owner labels', async () => {
    const r = await ok('build', 'kustomization', 'apps', '-n', x.ns, '--path', path.join(x.repo.workdir, 'apps'));
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as KubeObject);
    assert.deepEqual(docs.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`).sort(), [`ConfigMap/${x.ns}/app-config`, `Secret/${x.ns}/app-secret`]);
    for (const o of docs) {
      assert.equal(o.metadata.labels?.['kustomize.toolkit.fluxcd.io/name'], 'apps');
      assert.equal(o.metadata.labels?.['kustomize.toolkit.fluxcd.io/namespace'], x.ns);
    }
  });

  await t.test("build: kustomize runs under the configuration's render.toolMemoryMiB", async () => {
    // A 4 MB file in a ConfigMap generator: kustomize needs well over 64 MiB for it, far less than the default 1024.
    const big = path.join(work, 'big');
    await mkdir(big, { recursive: true });
    await writeFile(path.join(big, 'kustomization.yaml'), 'configMapGenerator:\n  - name: big\n    files: [big.txt]\n');
    await writeFile(path.join(big, 'big.txt'), (randomBytes(3_000_000).toString('base64').match(/.{1,100}/g) ?? []).join('\n'));
    const args = ['--data-dir', x.dataDir, 'build', 'kustomization', 'apps', '-n', x.ns, '--path', big];
    const low = await runCli(args, { cwd: x.dataDir, env: { ...env, FLUXLESS_TOOL_MEMORY_MIB: '64' } });
    assert.notEqual(low.code, 0, show(low));
    assert.match(low.stderr, /kustomize ran out of its memory limit \(64 MiB\)/, show(low));
    const fine = await ok('build', 'kustomization', 'apps', '-n', x.ns, '--path', big);
    assert.match(fine.stdout, /kind: ConfigMap/);
    assert.match(fine.stdout, /name: big-/, 'the generated ConfigMap, with its hash suffix');
  });

  await t.test('suspend: shown, and a reconcile does nothing; resume restores', async () => {
    const eventsBefore = (await ok('events', '-n', x.ns, '--for', 'Kustomization/apps')).stdout;
    const s = await ok('suspend', 'kustomization', 'apps', '-n', x.ns);
    assert.match(s.stdout, new RegExp(`✔ kustomization ${x.ns}/apps suspended`));
    assert.equal(tableRow((await ok('get', 'kustomizations', '-n', x.ns)).stdout, 'kustomization/apps')[3], 'true');
    const json = JSON.parse((await ok('get', 'kustomizations', '-n', x.ns, '-o', 'json')).stdout) as StatusRow[];
    assert.equal(json.find((r) => r.name === 'apps')?.suspended, true);

    // The ConfigMap still drifts (from the diff step): a reconcile must not correct it.
    assert.equal(await configMapValue(), 'tampered');
    const refused = await cli('reconcile', 'kustomization', 'apps', '-n', x.ns);
    assert.equal(refused.code, 1, show(refused));
    assert.match(refused.stderr, new RegExp(`✗ Kustomization ${x.ns}/apps is suspended`));
    assert.match(refused.stderr, /hint: resume it with 'fluxless resume kustomization apps/);
    assert.equal(await configMapValue(), 'tampered', 'nothing applied while suspended');
    assert.equal((await ok('events', '-n', x.ns, '--for', 'Kustomization/apps')).stdout, eventsBefore, 'no new event while suspended');

    const r = await ok('resume', 'kustomization', 'apps', '-n', x.ns);
    assert.match(r.stdout, new RegExp(`✔ kustomization ${x.ns}/apps resumed`));
    assert.equal(tableRow((await ok('get', 'kustomizations', '-n', x.ns)).stdout, 'kustomization/apps')[3], 'false');
    await ok('reconcile', 'kustomization', 'apps', '-n', x.ns);
    assert.equal(await configMapValue(), 'hello', 'the drift is corrected once resumed');
    assert.equal((await cli('diff', 'kustomization', 'apps', '-n', x.ns)).code, 0);
  });

  await t.test('events and tree', async () => {
    const all = (await ok('events', '-n', x.ns)).stdout;
    assert.match(all.split('\n')[0], /^LAST SEEN\s+TYPE\s+REASON\s+OBJECT\s+MESSAGE$/);
    assert.match(all, /GitRepository\/flux-system/);
    assert.match(all, new RegExp(`Kustomization/flux-system.*Kustomization/${x.ns}/apps created`));
    assert.match(all, new RegExp(`Kustomization/apps.*ConfigMap/${x.ns}/app-config created`));
    assert.match(all, new RegExp(`Kustomization/apps.*ConfigMap/${x.ns}/app-config configured`), 'the drift correction');

    const forApps = (await ok('events', '-n', x.ns, '--for', 'Kustomization/apps')).stdout.trimEnd().split('\n').slice(1);
    assert.ok(forApps.length >= 2, forApps.join('\n'));
    for (const line of forApps) assert.match(line, /\tKustomization\/apps\s*\t/, line);

    const tree = (await ok('tree', 'kustomization', 'flux-system', '-n', x.ns)).stdout.split('\n');
    assert.equal(tree[0], `Kustomization/${x.ns}/flux-system`);
    const appsLine = tree.findIndex((l) => l.endsWith(`── Kustomization/${x.ns}/apps`));
    assert.ok(appsLine > 0, tree.join('\n'));
    const depth = (l: string) => l.indexOf('── ');
    const under = tree.slice(appsLine + 1).filter((l) => depth(l) > depth(tree[appsLine]));
    assert.ok(under.some((l) => l.endsWith(`── ConfigMap/${x.ns}/app-config`)), `ConfigMap not under apps:\n${tree.join('\n')}`);
    assert.ok(under.some((l) => l.endsWith(`── Secret/${x.ns}/app-secret`)), tree.join('\n'));
  });

  await t.test('reconcile of a broken revision exits 1 with the reason', async () => {
    await x.repo.commit({ 'apps/bad.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bad\nspec:\n  replicas: many\n' }, 'broken');
    await x.repo.push();
    const rev2 = `main@sha1:${await x.repo.head()}`;
    const r = await cli('reconcile', 'kustomization', 'apps', '-n', x.ns, '--with-source');
    assert.equal(r.code, 1, show(r));
    assert.match(r.stdout, new RegExp(`✔ stored artifact for revision '${rev2}'`));
    assert.match(r.stdout, new RegExp(`✗ .*failed validation[^]*Deployment/${x.ns}/bad`));
    const apps = (JSON.parse((await ok('get', 'kustomizations', '-n', x.ns, '-o', 'json')).stdout) as StatusRow[]).find((k) => k.name === 'apps');
    assert.equal(apps?.ready, 'False');
    assert.equal(apps?.reason, 'ReconciliationFailed');
    assert.equal(apps?.revision, rev1, 'the last applied revision is still the good one');
    await x.repo.commit({ 'apps/bad.yaml': null, 'apps/config.yaml': configMap('app-config', { greeting: 'hello again' }) }, 'fixed');
    await x.repo.push();
  });

  await t.test('help, unknown command, bad flags, version', async () => {
    for (const args of [['--help'], ['help'], [], ...COMMANDS.map((c) => [c, '--help'])]) {
      const r = await cli(...args);
      assert.equal(r.code, 0, `fluxless ${args.join(' ')}: ${show(r)}`);
      assert.match(r.stdout, /Usage: fluxless/, args.join(' '));
    }
    const unknown = await cli('frobnicate');
    assert.equal(unknown.code, 2, show(unknown));
    assert.match(unknown.stderr, /✗ unknown command 'frobnicate'/);
    assert.match(unknown.stderr, /hint: run 'fluxless --help'/);
    const badFlag = await cli('get', 'all', '--bogus');
    assert.equal(badFlag.code, 2, show(badFlag));
    assert.match(badFlag.stderr, /✗ .*--bogus/);
    assert.match(badFlag.stderr, /hint: /);
    const badTimeout = await cli('reconcile', 'kustomization', 'apps', '-n', x.ns, '--timeout', 'soon');
    assert.equal(badTimeout.code, 2, show(badTimeout));
    assert.match(badTimeout.stderr, /--timeout: invalid duration 'soon'/);
    const noName = await cli('reconcile', 'kustomization');
    assert.equal(noName.code, 2, show(noName));
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.equal((await ok('version')).stdout.trim(), `fluxless ${pkg.version}`);
  });

  await t.test('with a running `fluxless serve`, reconcile goes through the server; SIGTERM stops it cleanly', async () => {
    const marker = path.join(x.dataDir, 'serve.json');
    server = await spawnCli(['--data-dir', x.dataDir, 'serve'], { cwd: x.dataDir, env: { ...env, FLUXLESS_PORT: '0', FLUXLESS_SCHEDULE_INTERVAL: '1s' } });
    await waitFor('serve.json written by the server', () => existsSync(marker), 60_000, () => server!.output());
    const { pid, url } = JSON.parse(readFileSync(marker, 'utf8')) as { pid: number; url: string };
    assert.equal(pid, server.child.pid);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

    // A second server on the same data directory refuses to start and leaves the first alone.
    const second = await runCli(['--data-dir', x.dataDir, 'serve'], { cwd: x.dataDir, env: { ...env, FLUXLESS_PORT: '0' } });
    assert.equal(second.code, 1, show(second));
    assert.match(second.stderr, new RegExp(`✗ .*in use by process ${pid}`));
    assert.match(second.stderr, /hint: /);
    assert.equal((JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }).pid, pid, 'serve.json still names the running server');

    const r = await cli('reconcile', 'kustomization', 'apps', '-n', x.ns, '--with-source');
    if (r.code !== 0) await server.stop('SIGKILL');
    assert.equal(r.code, 0, `${show(r)}\n--- server\n${server.output()}`);
    assert.match(r.stdout, new RegExp(`waiting for GitRepository reconciliation \\(by the server at ${url}\\)`));
    assert.match(r.stdout, new RegExp(`waiting for Kustomization reconciliation \\(by the server at ${url}\\)`));
    assert.doesNotMatch(r.stdout, /in this process/);
    const rev3 = `main@sha1:${await x.repo.head()}`;
    assert.match(r.stdout, new RegExp(`✔ Applied revision: ${rev3}`));
    assert.equal(await configMapValue(), 'hello again');

    const stopped = await server.stop('SIGTERM');
    assert.equal(stopped.code, 0, `serve exit: ${show(stopped)}`);
    assert.match(stopped.stdout, /SIGTERM: finishing running reconciles/);
    assert.equal(existsSync(marker), false, 'serve.json removed');
    // Without the server, the CLI works in-process again.
    const again = await ok('reconcile', 'kustomization', 'apps', '-n', x.ns);
    assert.match(again.stdout, /in this process/);
  });
});
