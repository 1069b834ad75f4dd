/**
 * End to end: a fleet in Git whose Kustomization takes its manifests from an OCIRepository,
 * published with the real `fluxless push artifact` (bin + bundle as a child process) to the
 * harness's docker-registry, reconciled by the local runtime on the real kube-apiserver.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ObjectRecord } from '../../shared/state/records.js';
import { getCondition } from '../../shared/state/records.js';
import { enqueue } from '../../shared/runtime/enqueue.js';
import { testEnv } from '../harness/index.js';
import { cliEnv, runCli, type CliResult } from '../cli/helpers.js';
import { startFront } from '../oci/front.js';
import { tree, uniqueRepo } from '../oci/helpers.js';
import { configMap, e2e } from './helpers.js';

const GIT = 'https://github.com/example/app-manifests';
const REV1 = 'main@sha1:1111111111111111111111111111111111111111';
const REV2 = 'main@sha1:2222222222222222222222222222222222222222';

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function fleetWithOci(ns: string, url: string): Record<string, string> {
  return {
    'clusters/dev/oci.yaml': [
      'apiVersion: source.toolkit.fluxcd.io/v1',
      'kind: OCIRepository',
      'metadata:',
      '  name: manifests',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 1h',
      `  url: ${url}`,
      '  ref:',
      '    semver: ">=1.0.0"',
      '---',
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      'metadata:',
      '  name: oci-apps',
      `  namespace: ${ns}`,
      'spec:',
      '  interval: 1h',
      '  prune: true',
      '  path: ./',
      `  targetNamespace: ${ns}`,
      '  sourceRef:',
      '    kind: OCIRepository',
      '    name: manifests',
      '',
    ].join('\n'),
  };
}

test('a Kustomization from an OCIRepository: fluxless push artifact publishes, a new semver tag is applied on request', async (t) => {
  const x = await e2e(t);
  const { host } = await (await testEnv()).registry();
  // Pushes go through a loopback front that wants basic credentials (the registry itself has no auth here).
  const front = await startFront({ upstream: host, basic: { users: { pusher: 'push-pass' } } });
  t.after(() => front.close());
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-oci-e2e-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const dockerDir = path.join(work, 'docker');
  await mkdir(dockerDir);
  await writeFile(path.join(dockerDir, 'config.json'), JSON.stringify({ auths: { [front.host]: { auth: Buffer.from('pusher:push-pass').toString('base64') } } }));
  const repo = uniqueRepo('fleet/app-manifests');

  // 1.0.0, with credentials from the docker config, -o json as flux prints it.
  const v1 = tree({ 'cm.yaml': configMap('from-oci', { v: '1' }) });
  const push1 = await runCli(
    ['push', 'artifact', `oci://${front.host}/${repo}:1.0.0`, '--path', v1, '--source', GIT, '--revision', REV1, '-o', 'json'],
    { cwd: work, env: cliEnv({ DOCKER_CONFIG: dockerDir, HOME: work }) },
  );
  assert.equal(push1.code, 0, show(push1));
  const info = JSON.parse(push1.stdout) as { url: string; repository: string; tag: string; digest: string };
  assert.deepEqual(Object.keys(info), ['url', 'repository', 'tag', 'digest']);
  assert.match(info.digest, /^sha256:[a-f0-9]{64}$/);
  assert.deepEqual(info, { url: `oci://${front.host}/${repo}@${info.digest}`, repository: `${front.host}/${repo}`, tag: '1.0.0', digest: info.digest });
  assert.ok(front.requests.some((r) => r.method === 'PUT' && r.path === `/v2/${repo}/manifests/1.0.0` && r.authorization?.startsWith('Basic ')), 'pushed with the docker config credentials');

  // Without credentials the front refuses the push: exit 1 and flux's message.
  const denied = await runCli(
    ['push', 'artifact', `oci://${front.host}/${repo}:0.0.1`, '--path', v1, '--source', GIT, '--revision', REV1],
    { cwd: work, env: cliEnv({ DOCKER_CONFIG: path.join(work, 'none'), HOME: work }) },
  );
  assert.equal(denied.code, 1, show(denied));
  assert.match(denied.stderr, /✗ pushing artifact failed: /);

  // A credential helper named in credHelpers wins over the auths entry (a wrong password here),
  // as docker's config does; the helper is asked for the registry host on stdin.
  const helperDir = path.join(work, 'bin');
  await mkdir(helperDir);
  await writeFile(
    path.join(helperDir, 'docker-credential-fluxtest'),
    `#!/bin/sh\nread host\necho "$1 $host" >> "${path.join(work, 'helper.log')}"\nprintf '{"ServerURL":"%s","Username":"pusher","Secret":"push-pass"}' "$host"\n`,
    { mode: 0o755 },
  );
  const helperConfig = path.join(work, 'docker-helper');
  await mkdir(helperConfig);
  await writeFile(
    path.join(helperConfig, 'config.json'),
    JSON.stringify({ auths: { [front.host]: { auth: Buffer.from('pusher:wrong').toString('base64') } }, credHelpers: { [front.host]: 'fluxtest' } }),
  );
  const viaHelper = await runCli(
    ['push', 'artifact', `oci://${front.host}/${repo}:0.0.2`, '--path', v1, '--source', GIT, '--revision', REV1],
    { cwd: work, env: cliEnv({ DOCKER_CONFIG: helperConfig, HOME: work, PATH: `${helperDir}:${process.env.PATH ?? ''}` }) },
  );
  assert.equal(viaHelper.code, 0, show(viaHelper));
  assert.equal((await readFile(path.join(work, 'helper.log'), 'utf8')).trim().split('\n')[0], `get ${front.host}`);

  // The fleet pulls straight from the registry.
  await x.repo.commit(fleetWithOci(x.ns, `oci://${host}/${repo}`), 'oci source');
  await x.repo.push();
  const local = await x.start();
  const rev1 = `1.0.0@${info.digest}`;
  await x.waitFor('oci-apps applied from 1.0.0', async () => {
    const r = await x.record('Kustomization', 'oci-apps');
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev1;
  });
  const ks1 = await x.record('Kustomization', 'oci-apps');
  assert.equal(ks1?.status.lastAppliedOriginRevision, REV1);
  assert.equal(((await x.get('ConfigMap', 'from-oci')) as unknown as { data: { v: string } }).data.v, '1');
  const src1 = await x.record('OCIRepository', 'manifests');
  assert.equal(src1?.status.artifact?.revision, rev1);
  assert.equal(getCondition(src1, 'Ready')?.message, `stored artifact for digest '${rev1}'`);

  // 1.1.0 with --creds, flux's human output on stderr.
  const v2 = tree({ 'cm.yaml': configMap('from-oci', { v: '2' }) });
  const push2 = await runCli(
    ['push', 'artifact', `oci://${front.host}/${repo}:1.1.0`, '--path', v2, '--source', GIT, '--revision', REV2, '--creds', 'pusher:push-pass'],
    { cwd: work, env: cliEnv({ HOME: work }) },
  );
  assert.equal(push2.code, 0, show(push2));
  assert.equal(push2.stdout, '');
  const lines = push2.stderr.trim().split('\n');
  assert.equal(lines[0], '► logging in to registry with credentials');
  assert.equal(lines[1], `► pushing artifact to ${front.host}/${repo}:1.1.0`);
  const m = /^✔ artifact successfully pushed to (\S+)@(sha256:[a-f0-9]{64})$/.exec(lines[2] ?? '');
  assert.ok(m, push2.stderr);
  assert.equal(m[1], `${front.host}/${repo}`);
  const rev2 = `1.1.0@${m[2]}`;

  // A reconcile request on the source (as `fluxless reconcile source oci` makes with a server running).
  const key = { kind: 'OCIRepository', namespace: x.ns, name: 'manifests' };
  const requestedAt = new Date().toISOString();
  await local.rt.state.update<ObjectRecord>(key, (cur) => (cur ? { ...cur, requestedAt } : undefined));
  await enqueue(local.rt, key, 'manual', { dedupKey: requestedAt });
  await x.waitFor('oci-apps applied from 1.1.0', async () => {
    const r = await x.record('Kustomization', 'oci-apps');
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev2;
  });
  const ks2 = await x.record('Kustomization', 'oci-apps');
  assert.equal(ks2?.status.lastAppliedOriginRevision, REV2);
  assert.equal(((await x.get('ConfigMap', 'from-oci')) as unknown as { data: { v: string } }).data.v, '2');
  const src2 = await x.record('OCIRepository', 'manifests');
  assert.equal(src2?.status.lastHandledReconcileAt, requestedAt);
  assert.equal(src2?.events?.filter((e) => e.reason === 'NewArtifact').at(-1)?.message, `stored artifact with revision '${rev2}' from 'oci://${host}/${repo}', origin source '${GIT}', origin revision '${REV2}'`);
});

test('an oci:// bootstrap source: fluxless.yaml names a registry repository, the root Kustomization reconciles what was pushed there', async (t) => {
  const { host } = await (await testEnv()).registry();
  const repo = uniqueRepo('fleet/bootstrap');
  const x = await e2e(t, { FLUXLESS_SOURCE_URL: `oci://${host}/${repo}`, FLUXLESS_SOURCE_BRANCH: '' });
  assert.equal(x.cfg.source.kind, 'OCIRepository');
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-oci-bootstrap-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const cm = (v: string) => configMap('fleet-config', { v }).replace('metadata:\n', `metadata:\n  namespace: ${x.ns}\n`);
  const push = async (v: string, rev: string) => {
    const r = await runCli(['push', 'artifact', `oci://${host}/${repo}:latest`, '--path', tree({ 'clusters/dev/cm.yaml': cm(v) }), '--source', GIT, '--revision', rev, '-o', 'json'], {
      cwd: work,
      env: cliEnv({ HOME: work, DOCKER_CONFIG: path.join(work, 'none') }),
    });
    assert.equal(r.code, 0, show(r));
    return `latest@${(JSON.parse(r.stdout) as { digest: string }).digest}`;
  };
  const rev1 = await push('1', REV1);
  const local = await x.start();
  await x.waitFor('the root Kustomization applied from the OCI artifact', async () => {
    const r = await x.record('Kustomization', 'flux-system');
    return getCondition(r, 'Ready')?.status === 'True' && r?.status.lastAppliedRevision === rev1;
  });
  assert.equal(((await x.get('ConfigMap', 'fleet-config')) as unknown as { data: { v: string } }).data.v, '1');
  const src = await x.record('OCIRepository', 'flux-system');
  assert.equal((src?.object?.spec as { url?: string }).url, `oci://${host}/${repo}`);
  assert.deepEqual((src?.object?.spec as { ref?: unknown }).ref, { tag: 'latest' });
  assert.equal(src?.status.artifact?.revision, rev1);
  assert.equal(await x.record('GitRepository', 'flux-system'), undefined, 'no GitRepository is bootstrapped');

  // A new push of the tag, then a reconcile request on the source: the new content is applied.
  const rev2 = await push('2', REV2);
  const key = { kind: 'OCIRepository', namespace: x.ns, name: 'flux-system' };
  await enqueue(local.rt, key, 'manual', { dedupKey: `bootstrap-${Date.now()}` });
  await x.waitFor('the second push applied', async () => (await x.record('Kustomization', 'flux-system'))?.status.lastAppliedRevision === rev2);
  assert.equal(((await x.get('ConfigMap', 'fleet-config')) as unknown as { data: { v: string } }).data.v, '2');
  assert.equal((await x.record('Kustomization', 'flux-system'))?.status.lastAppliedOriginRevision, REV2);
});
