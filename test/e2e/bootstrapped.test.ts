/**
 * A `flux bootstrap`ped fleet repository adopted by Fluxless: clusters/dev/flux-system with
 * gotk-components.yaml (Flux's own controllers, CRDs and RBAC) and gotk-sync.yaml (the
 * GitRepository with an ssh:// URL and the flux-system Kustomization), served over SSH by a
 * real sshd, with fluxless.yaml naming the SSH URL it can reach and the deploy key Secret in
 * the cluster. Through the local runtime: the apps reconcile; none of Flux's controllers or
 * CRDs are applied (its Namespace is); the root Kustomization does not list itself and `tree`
 * does not recurse; where fluxless.yaml differs from gotk-sync.yaml it is reported (event and
 * `get`) and the configuration's value is used. `fluxless check --path` reports the layout
 * (and a kind not supported yet, while one is left).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { createKubeClient, isNotFound } from '../../shared/kube/client.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import { startLocalRuntime } from '../../shared/runtime/local.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { createTestRepo } from '../harness/git-server.js';
import { kubeConfigFrom, testEnv } from '../harness/index.js';
import { sshKeygen, startSshd } from '../sources/sshd.js';
import { cliEnv, runCli, waitFor, type CliResult } from '../cli/helpers.js';
import { bootstrappedFleet, FLUX_CLUSTER_OBJECTS, GIT_URL_IN_GOTK_SYNC } from './fixtures/bootstrapped-fleet.js';
import { unsupportedKindManifest } from './fixtures/unsupported-kind.js';
import { cleanupStack } from './fixtures/cleanup.js';

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

test('a flux-bootstrapped repository over SSH: apps reconcile, Flux itself is left out, the bootstrap pair is merged and reported', { timeout: 300_000 }, async (t) => {
  const defer = cleanupStack(t);
  const env = await testEnv();
  const ns = await env.namespace(t, 'boot');
  const cluster = await env.cluster();
  const client = createKubeClient(kubeConfigFrom(cluster.kubeconfigPath));
  defer(() => client.close());
  defer(async () => {
    // If Flux's components were applied (a regression), do not leave them in the shared cluster.
    // (CRDs are shared by name: only ours, labelled with this test's namespace, are removed.)
    for (const p of FLUX_CLUSTER_OBJECTS(ns)) {
      const o = await client.request<{ metadata: { labels?: Record<string, string> } }>('GET', p).catch(() => undefined);
      if (o?.metadata.labels?.['app.kubernetes.io/instance'] === ns) await client.request('DELETE', p).catch(() => undefined);
    }
  });
  const gitInfo = await env.git();
  const sshd = await startSshd();
  defer(() => sshd.stop());
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bootstrapped-'));
  defer(() => rm(work, { recursive: true, force: true }));
  const repo = await createTestRepo(gitInfo, { defaultBranch: 'main' });
  defer(() => repo.cleanup());

  // What `flux bootstrap git --url=ssh://git@github.com/... --namespace=<ns> --path=clusters/dev` writes.
  const unsupported = unsupportedKindManifest(ns, 'not-yet');
  const head = await repo.commit(bootstrappedFleet(ns, unsupported?.yaml), 'Add Flux sync manifests');
  await repo.push();
  // The deploy key Secret `flux bootstrap` creates (identity, identity.pub, known_hosts).
  const key = await sshKeygen(work, 'deploy-key', ['-t', 'ed25519']);
  await sshd.authorize(key.publicKey);
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
    body: { metadata: { name: 'flux-system' }, stringData: { identity: key.privateKey, 'identity.pub': key.publicKey, known_hosts: sshd.knownHostsLine(sshd.port) } },
  });

  // fluxless.yaml: the SSH URL this machine reaches the repository at (not gotk-sync.yaml's).
  const sshUrl = `ssh://${sshd.user}@127.0.0.1:${sshd.port}${gitInfo.root}/${repo.name}.git`;
  const cwd = path.join(work, 'cwd');
  const configFile = path.join(cwd, 'fluxless.yaml');
  await mkdir(cwd);
  await writeFile(
    configFile,
    [
      'source:',
      `  url: ${sshUrl}`,
      '  ref: { branch: main }',
      '  interval: 1m',
      '  secretRef: flux-system',
      'path: ./clusters/dev',
      `namespace: ${ns}`,
      `cluster: { kubeconfig: ${cluster.kubeconfigPath} }`,
      'webhook: { port: 0 }',
      'scheduleInterval: 500ms',
      'worker: { concurrency: 4, healthInterval: 200ms }',
      '',
    ].join('\n'),
  );
  const dataDir = path.join(cwd, '.fluxless');
  const cfg = loadConfig({ file: configFile, dataDir, env: {} });
  const rt = createRuntime(cfg);
  const local = await startLocalRuntime(rt, cfg);
  defer(() => local.stop());
  const rec = (kind: string, name: string) => readRecord(rt.state, { kind, namespace: ns, name });
  const revision = `main@sha1:${head}`;
  const ready = async (kind: string, name: string) => {
    const r = await rec(kind, name);
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === revision;
  };
  await waitFor('the apps Kustomization to be Ready at the bootstrapped revision', () => ready('Kustomization', 'apps'), 120_000, () => 'see the records under ' + dataDir);
  await waitFor('the root Kustomization to be Ready', () => ready('Kustomization', 'flux-system'), 60_000);

  // The apps landed.
  const cm = await client.request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${ns}/configmaps/podinfo-config`);
  assert.equal(cm.data?.message, 'hello from a bootstrapped fleet');
  assert.equal(cm.data?.copied, 'hello from a bootstrapped fleet', 'the replacements file outside apps/ was applied');

  // Flux's Namespace is applied (its labels are there); its controllers, CRDs and RBAC are not.
  const nsObj = await client.request<{ metadata: { labels?: Record<string, string> } }>('GET', `/api/v1/namespaces/${ns}`);
  assert.equal(nsObj.metadata.labels?.['app.kubernetes.io/part-of'], 'flux', 'the Namespace of gotk-components.yaml is applied');
  for (const p of FLUX_CLUSTER_OBJECTS(ns)) {
    const got = await client.request('GET', p).then(() => 'present', (err: unknown) => (isNotFound(err) ? 'absent' : `error ${String(err)}`));
    assert.equal(got, 'absent', `${p} must not be applied (Fluxless replaces Flux's controllers)`);
  }

  // The root's inventory: the Namespace and the apps Kustomization, never itself nor Flux's components.
  const root = (await rec('Kustomization', 'flux-system'))!;
  const ids = (root.status.inventory?.entries ?? []).map((e) => e.id);
  assert.ok(ids.includes(`_${ns}__Namespace`), `the Namespace is in the inventory: ${ids.join(', ')}`);
  assert.ok(ids.includes(`${ns}_apps_kustomize.toolkit.fluxcd.io_Kustomization`), ids.join(', '));
  assert.ok(!ids.includes(`${ns}_flux-system_kustomize.toolkit.fluxcd.io_Kustomization`), `the root does not manage itself: ${ids.join(', ')}`);
  assert.ok(!ids.some((id) => /_(Deployment|CustomResourceDefinition|ClusterRole|ClusterRoleBinding|ServiceAccount)$/.test(id)), `no Flux component in the inventory: ${ids.join(', ')}`);

  // The bootstrap pair: fluxless.yaml's URL is used (the fetch went over our sshd), Git's is reported.
  const source = (await rec('GitRepository', 'flux-system')) as ObjectRecord;
  assert.equal((source.object?.spec as { url?: string }).url, sshUrl);
  assert.equal(source.status.artifact?.revision, revision);
  assert.equal(source.bootstrap?.git?.spec && (source.bootstrap.git.spec as { url?: string }).url, GIT_URL_IN_GOTK_SYNC, 'Git\'s definition is kept next to the configuration\'s');
  // Only the URL differs: `1m0s` (what flux bootstrap writes) and `1m` are the same interval.
  assert.equal(source.bootstrap?.conflicts?.length, 1, `conflicts: ${JSON.stringify(source.bootstrap?.conflicts)}`);
  assert.match(source.bootstrap!.conflicts![0], /^spec\.url: the configuration's "ssh:\/\/\*\*\*@127\.0\.0\.1:\d+\/.*" is used, not Git's "ssh:\/\/\*\*\*@github\.com\/example\/fleet"$/);
  const override = source.events?.find((e) => e.reason === 'BootstrapOverride');
  assert.ok(override, `a BootstrapOverride event: ${JSON.stringify(source.events)}`);
  assert.match(override.message, /gotk-sync\.yaml.*spec\.url/);

  // What a user sees, from the directory holding fluxless.yaml.
  const cliOpts = { cwd, env: cliEnv({}) };
  const get = await runCli(['get', 'all'], cliOpts);
  assert.equal(get.code, 0, show(get));
  const sourceRow = get.stdout.split('\n').find((l) => l.includes('gitrepository/flux-system'));
  assert.match(sourceRow ?? '', /True\s.*fluxless\.yaml overrides Git: 1 field\(s\)/, get.stdout);
  assert.match(get.stdout, /kustomization\/apps\s.*True/);
  const events = await runCli(['events', '--for', 'GitRepository/flux-system', '-n', ns], cliOpts);
  assert.equal(events.code, 0, show(events));
  assert.match(events.stdout, /Warning\s+BootstrapOverride\s+GitRepository\/flux-system\s+.*spec\.url/);
  const tree = await runCli(['tree', 'kustomization', 'flux-system', '-n', ns], cliOpts);
  assert.equal(tree.code, 0, show(tree));
  for (const l of ['fluxless tree kustomization flux-system:', ...tree.stdout.trimEnd().split('\n')]) t.diagnostic(l);
  const treeLines = tree.stdout.trim().split('\n');
  assert.equal(treeLines.filter((l) => l.includes(`Kustomization/${ns}/flux-system`)).length, 1, `the root appears once, at the top:\n${tree.stdout}`);
  assert.ok(treeLines.some((l) => /[├└]── Kustomization\/.*\/apps$/.test(l)), tree.stdout);
  assert.ok(treeLines.some((l) => /^\s*[│ ]\s+[├└]── ConfigMap\/.*\/podinfo-config$/.test(l)), `apps' objects below apps:\n${tree.stdout}`);
  assert.ok(treeLines.length < 12, `a flat tree, no recursion:\n${tree.stdout}`);

  // `fluxless check` on a checkout: Flux's components left out, the bootstrap pair, the kinds not supported yet.
  const check = await runCli(['check', '--path', repo.workdir], cliOpts);
  for (const l of ['fluxless check --path <checkout>:', ...check.stdout.trimEnd().split('\n')]) t.diagnostic(l);
  assert.equal(check.code, unsupported ? 1 : 0, show(check));
  assert.match(check.stdout, /✔ no Flux controllers run in this cluster/);
  assert.match(check.stdout, /! \d+ object\(s\) of Flux's own components \(gotk-components\.yaml\) are left out/);
  assert.match(check.stdout, new RegExp(`GitRepository/${ns}/flux-system is the bootstrap pair \\(gotk-sync\\.yaml\\): merged with fluxless\\.yaml; fluxless\\.yaml wins on spec\\.url`));
  assert.match(check.stdout, new RegExp(`Kustomization/${ns}/flux-system is the bootstrap pair \\(gotk-sync\\.yaml\\): merged with fluxless\\.yaml$`, 'm'));
  assert.match(check.stdout, /✔ Kustomization \(kustomize\.toolkit\.fluxcd\.io\/v1\): 2 supported/);
  assert.match(check.stdout, /✔ GitRepository \(source\.toolkit\.fluxcd\.io\/v1\): 1 supported/);
  if (unsupported) {
    assert.ok(check.stdout.includes(`✗ ${unsupported.kind} (${unsupported.apiVersion}): 1 of 1: ${unsupported.kind} is not supported yet`), check.stdout);
    assert.match(check.stdout, /✗ 1 problem\(s\)/);
  } else {
    assert.match(check.stdout, /✔ all checks passed/);
  }
  // The directory of the path, as `flux build --path` takes it, is the same check.
  const inPath = await runCli(['check', '--path', path.join(repo.workdir, 'clusters', 'dev')], cliOpts);
  assert.equal(inPath.code, check.code, show(inPath));
  assert.match(inPath.stdout, /► checking the repository \(path \.\/clusters\/dev\)/);
  assert.deepEqual(inPath.stdout.split('\n').filter((l) => !/^✔ Kubernetes/.test(l)), check.stdout.split('\n').filter((l) => !/^✔ Kubernetes/.test(l)));
});
