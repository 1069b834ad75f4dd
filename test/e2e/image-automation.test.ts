/**
 * End to end, on the real servers: a docker-registry sends its notifications to our
 * `distribution` Receiver; pushing a tag (manifest and config blob over the registry API)
 * makes the ImageRepository scan, the ImagePolicy pick 1.10.0 over 1.9.3, the
 * ImageUpdateAutomation commit the tag to the git server (marker kept), the GitRepository
 * see the commit and the Kustomization apply it: the Deployment in the cluster has the new
 * image. The same with a signed harbor-shaped and a dockerhub-shaped payload, an ECR
 * EventBridge event (loopback ECR API, the registry dialled for the ECR host), and an
 * OCIRepository updated by `fluxless push artifact` plus the registry's notification. Bad
 * input (a forged nexus signature, an unknown repository, a tag no policy matches, a
 * registry answering 500) leaves a clear status, no commit and nothing applied.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { configureImageRegistries } from '../../shared/images/registry-auth.js';
import { handleEcrEvent } from '../../shared/images/ecr-events.js';
import { clearEcrCache } from '../../shared/oci/ecr.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { gitTestEnv, type GitServerInfo } from '../harness/git-server.js';
import { testEnv } from '../harness/index.js';
import { ROOT, cliEnv, type CliResult } from '../cli/helpers.js';
import { tree, uniqueRepo } from '../oci/helpers.js';
import { pushImage, startNotifyingRegistry } from '../receivers/notifying-registry.js';
import { configMap, e2e, fleet } from './helpers.js';

const run = promisify(execFile);
const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const GIT = 'https://github.com/example/app-manifests';

function deployment(name: string, image: string, ns: string): string {
  return [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    `  name: ${name}`,
    'spec:',
    '  replicas: 0',
    '  selector:',
    `    matchLabels: {app: ${name}}`,
    '  template:',
    '    metadata:',
    `      labels: {app: ${name}}`,
    '    spec:',
    '      containers:',
    `        - name: ${name}`,
    `          image: ${image} # {"$imagepolicy": "${ns}:${name}"}`,
    '',
  ].join('\n');
}

function receiver(name: string, type: string, resources: Array<Record<string, string>>, ns: string): string {
  return [
    'apiVersion: notification.toolkit.fluxcd.io/v1',
    'kind: Receiver',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    'spec:',
    `  type: ${type}`,
    '  secretRef:',
    '    name: webhook-token',
    '  resources:',
    ...resources.flatMap((r) => [`    - kind: ${r.kind}`, `      name: "${r.name}"`, ...(r.name === '*' ? ['      matchLabels:', '        images.fluxless.test/watch: "true"'] : [])]),
    '',
  ].join('\n');
}

function imageObjects(ns: string, name: string, image: string, extra: Record<string, unknown> = {}): string {
  return [
    'apiVersion: image.toolkit.fluxcd.io/v1',
    'kind: ImageRepository',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    '  labels:',
    '    images.fluxless.test/watch: "true"',
    'spec:',
    `  image: ${image}`,
    '  interval: 1h',
    ...Object.entries(extra).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`),
    '---',
    'apiVersion: image.toolkit.fluxcd.io/v1',
    'kind: ImagePolicy',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    'spec:',
    '  imageRepositoryRef:',
    `    name: ${name}`,
    '  policy:',
    '    semver:',
    "      range: '>=1.0.0'",
    '',
  ].join('\n');
}

function automation(ns: string): string {
  return [
    'apiVersion: image.toolkit.fluxcd.io/v1',
    'kind: ImageUpdateAutomation',
    'metadata:',
    '  name: auto',
    `  namespace: ${ns}`,
    'spec:',
    '  interval: 1h',
    '  sourceRef:',
    '    kind: GitRepository',
    '    name: flux-system',
    '  git:',
    '    checkout:',
    '      ref:',
    '        branch: main',
    '    commit:',
    '      author:',
    '        name: fluxbot',
    '        email: fluxbot@example.com',
    '      messageTemplate: "image update:{{ range .Changed.Changes }} {{ .NewValue }}{{ end }}"',
    '    push:',
    '      branch: main',
    '  update:',
    '    path: ./apps',
    '    strategy: Setters',
    '',
  ].join('\n');
}

/** A loopback stand-in for the ECR API (GetAuthorizationToken). */
async function ecrApi(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify({ authorizationData: [{ authorizationToken: Buffer.from('AWS:ecr-password').toString('base64'), expiresAt: Date.now() / 1000 + 3600, proxyEndpoint: `https://${ECR_HOST}` }] }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A registry that answers every request with HTTP 500. */
async function failingRegistry(): Promise<{ host: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(500, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNKNOWN","message":"storage is down"}]}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/**
 * The fluxless CLI from the sources (`npm run fluxless -- <args>`, i.e. tsx on
 * shared/cli/main.ts): the same commands as the bundle, without building it in this test.
 */
async function runCli(args: string[], opts: { cwd: string; env: NodeJS.ProcessEnv }): Promise<CliResult> {
  const tsx = path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [tsx, path.join(ROOT, 'shared', 'cli', 'main.ts'), ...args], { cwd: opts.cwd, env: opts.env, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null) : 0;
      if (err && typeof (err as { code?: unknown }).code !== 'number') return reject(err);
      resolve({ code, signal: null, stdout, stderr, all: stdout + stderr });
    });
  });
}

function show(r: CliResult): string {
  return `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

test('registry events drive image automation from a push to the Deployment', { timeout: 600_000 }, async (t) => {
  const x = await e2e(t);
  const ns = x.ns;
  const env = await testEnv();
  const plain = (await env.registry()).host;
  const gitInfo: GitServerInfo = await env.git();
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-img-e2e-'));
  t.after(() => rm(work, { recursive: true, force: true }));
  const api = await ecrApi();
  const broken = await failingRegistry();
  t.after(() => api.close());
  t.after(() => broken.close());
  t.after(() => {
    configureImageRegistries({});
    clearEcrCache();
  });
  configureImageRegistries({ resolve: { [ECR_HOST]: plain }, ecr: { endpoint: api.endpoint, credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } } });

  // 1. The receivers first, so that the registry's first notifications find them.
  const receivers = {
    'clusters/dev/registry-receivers.yaml': [
      receiver('registry', 'distribution', [{ kind: 'ImageRepository', name: '*' }, { kind: 'OCIRepository', name: '*' }], ns),
      receiver('harbor', 'harbor', [{ kind: 'ImageRepository', name: '*' }], ns),
      receiver('dockerhub', 'dockerhub', [{ kind: 'ImageRepository', name: 'web' }], ns),
      receiver('nexus', 'nexus', [{ kind: 'ImageRepository', name: '*' }], ns),
    ].join('---\n'),
  };
  await x.repo.commit(fleet(ns, { 'cm.yaml': configMap('base', { v: '1' }) }, receivers), 'receivers');
  await x.repo.push();
  const local = await x.start();
  await x.waitFor('the registry receiver', async () => Boolean((await x.record('Receiver', 'registry'))?.object));
  const registry = await startNotifyingRegistry(`${local.url}${webhookPath(x.token, 'registry', ns)}`, `Bearer ${x.token}`);
  t.after(() => registry.stop());

  // 2. Images and the fleet that follows them.
  const app = 'team/app';
  await pushImage(registry.host, app, '1.9.3');
  const web = uniqueRepo('team/web');
  await pushImage(plain, web, '1.0.0');
  const ecrRepo = uniqueRepo('team/ecr');
  await pushImage(plain, ecrRepo, '1.0.0');
  const manifestsRepo = 'team/manifests';
  const art1 = await runCli(['push', 'artifact', `oci://${registry.host}/${manifestsRepo}:1.0.0`, '--path', tree({ 'cm.yaml': configMap('from-oci', { v: '1' }) }), '--source', GIT, '--revision', `main@sha1:${'1'.repeat(40)}`], { cwd: work, env: cliEnv({ HOME: work }) });
  assert.equal(art1.code, 0, show(art1));

  await run('git', ['pull', '-q', 'origin', 'main'], { cwd: x.repo.workdir, env: gitTestEnv() });
  await x.repo.commit(
    {
      'clusters/dev/images.yaml': [
        imageObjects(ns, 'app', `${registry.host}/${app}`),
        imageObjects(ns, 'web', `${plain}/${web}`),
        imageObjects(ns, 'ecr', `${ECR_HOST}/${ecrRepo}`, { provider: 'aws', insecure: true }),
        imageObjects(ns, 'broken', `${broken.host}/team/app`),
        automation(ns),
      ].join('---\n'),
      'clusters/dev/oci.yaml': [
        'apiVersion: source.toolkit.fluxcd.io/v1',
        'kind: OCIRepository',
        'metadata:',
        '  name: manifests',
        `  namespace: ${ns}`,
        '  labels:',
        '    images.fluxless.test/watch: "true"',
        'spec:',
        '  interval: 1h',
        `  url: oci://${registry.host}/${manifestsRepo}`,
        '  ref:',
        "    semver: '>=1.0.0'",
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
      'apps/app.yaml': deployment('app', `${registry.host}/${app}:1.9.3`, ns),
      'apps/web.yaml': deployment('web', `${plain}/${web}:1.0.0`, ns),
      'apps/ecr.yaml': deployment('ecr', `${ECR_HOST}/${ecrRepo}:1.0.0`, ns),
    },
    'image automation',
  );
  await x.repo.push();
  assert.equal((await x.push(local)).status, 200);

  const image = async (name: string) =>
    (await x.client.request<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/${name}`).catch(() => undefined))?.spec.template.spec.containers[0].image;
  const policy = async (name: string) => (await x.record('ImagePolicy', name))?.status.latestRef as { tag?: string } | undefined;
  await x.waitFor('the Deployments applied at their first tags', async () => (await image('app')) === `${registry.host}/${app}:1.9.3` && (await image('web')) === `${plain}/${web}:1.0.0`, 180_000);
  await x.waitFor('the policies resolved', async () => (await policy('app'))?.tag === '1.9.3' && (await policy('web'))?.tag === '1.0.0' && (await policy('ecr'))?.tag === '1.0.0', 120_000);
  const bare = path.join(gitInfo.root, `${x.repo.name}.git`);
  const head = async () => (await run('git', ['rev-parse', 'refs/heads/main'], { cwd: bare, env: gitTestEnv() })).stdout.trim();

  // 3. The docker-registry's own notification: 1.10.0 beats 1.9.3 (semver, not alphabetical).
  await pushImage(registry.host, app, '1.10.0');
  await x.waitFor('app 1.10.0 in the cluster', async () => (await image('app')) === `${registry.host}/${app}:1.10.0`, 120_000);
  const commit = await head();
  const { stdout: appYaml } = await run('git', ['show', `${commit}:apps/app.yaml`], { cwd: bare, env: gitTestEnv() });
  assert.equal(appYaml, deployment('app', `${registry.host}/${app}:1.10.0`, ns), 'the marker line kept, every other byte the same');
  const { stdout: subject } = await run('git', ['log', '-1', '--format=%an|%s', commit], { cwd: bare, env: gitTestEnv() });
  assert.equal(subject.trim(), `fluxbot|image update: ${registry.host}/${app}:1.10.0`);
  const repoRec = await x.record('ImageRepository', 'app');
  assert.equal(repoRec?.requestedAt, repoRec?.status.lastHandledReconcileAt, 'scanned because the registry asked');
  assert.equal((await x.record('GitRepository', 'flux-system'))?.status.artifact?.revision, `main@sha1:${commit}`);
  assert.equal((await x.record('ImageUpdateAutomation', 'auto'))?.status.lastPushCommit, commit);

  // 4. A harbor-shaped payload (Authorization = the token) and a dockerhub-shaped one (named target).
  const hook = (name: string) => `${local.url}${webhookPath(x.token, name, ns)}`;
  const d2 = await pushImage(plain, web, '2.0.0');
  const harbor = await fetch(hook('harbor'), {
    method: 'POST',
    headers: { authorization: x.token, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'PUSH_ARTIFACT', occur_at: Date.now(), operator: 'admin', event_data: { resources: [{ digest: d2, tag: '2.0.0', resource_url: `${plain}/${web}:2.0.0` }], repository: { name: web.split('/')[1], namespace: 'team', repo_full_name: web } } }),
  });
  assert.equal(harbor.status, 200, await harbor.clone().text());
  await x.waitFor('web 2.0.0 in the cluster', async () => (await image('web')) === `${plain}/${web}:2.0.0`, 120_000);
  await pushImage(plain, web, '2.1.0');
  const dockerhub = await fetch(hook('dockerhub'), {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ callback_url: 'https://registry.hub.docker.com/u/team/web/hook/x/', push_data: { pushed_at: 1, pusher: 'team', tag: '2.1.0' }, repository: { repo_name: 'team/web', repo_url: 'https://hub.docker.com/r/team/web', namespace: 'team', name: 'web' } }),
  });
  assert.equal(dockerhub.status, 200, await dockerhub.clone().text());
  await x.waitFor('web 2.1.0 in the cluster', async () => (await image('web')) === `${plain}/${web}:2.1.0`, 120_000);

  // 5. An ECR push through EventBridge (provider aws: a token from the ECR API).
  await pushImage(plain, ecrRepo, '1.1.0');
  const ecr = await handleEcrEvent(local.rt, {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'eu-west-1',
    detail: { result: 'SUCCESS', 'repository-name': ecrRepo, 'image-digest': `sha256:${'c'.repeat(64)}`, 'action-type': 'PUSH', 'image-tag': '1.1.0' },
  } as Parameters<typeof handleEcrEvent>[1]);
  assert.deepEqual(ecr.enqueued.map((k) => k.name), ['ecr']);
  await x.waitFor('ecr 1.1.0 in the cluster', async () => (await image('ecr')) === `${ECR_HOST}/${ecrRepo}:1.1.0`, 120_000);

  // 6. An OCIRepository updated by `fluxless push artifact` and the registry's notification.
  await x.waitFor('oci-apps at 1.0.0', async () => ((await x.get('ConfigMap', 'from-oci')) as { data?: { v?: string } } | undefined)?.data?.v === '1', 120_000);
  const art2 = await runCli(['push', 'artifact', `oci://${registry.host}/${manifestsRepo}:1.1.0`, '--path', tree({ 'cm.yaml': configMap('from-oci', { v: '2' }) }), '--source', GIT, '--revision', `main@sha1:${'2'.repeat(40)}`], { cwd: work, env: cliEnv({ HOME: work }) });
  assert.equal(art2.code, 0, show(art2));
  await x.waitFor('oci-apps at 1.1.0', async () => ((await x.get('ConfigMap', 'from-oci')) as { data?: { v?: string } } | undefined)?.data?.v === '2', 120_000);

  // 7. Bad input: nothing is marked, committed or applied.
  const before = await head();
  const appRequested = (await x.record('ImageRepository', 'app'))?.requestedAt;
  const nexusBody = JSON.stringify({ action: 'CREATED', repositoryName: 'docker-hosted', component: { name: app, version: '9.9.9', format: 'docker' } });
  const forged = await fetch(hook('nexus'), { method: 'POST', headers: { 'content-type': 'application/json', 'x-nexus-webhook-signature': createHmac('sha1', 'not-the-token').update(nexusBody).digest('hex') }, body: nexusBody });
  assert.equal(forged.status, 401);
  const unknown = await fetch(hook('registry'), {
    method: 'POST',
    headers: { authorization: `Bearer ${x.token}`, 'content-type': 'application/vnd.docker.distribution.events.v1+json' },
    body: JSON.stringify({ events: [{ id: randomUUID(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', repository: 'nobody/uses-this', tag: '1.0.0', digest: `sha256:${createHash('sha256').update('x').digest('hex')}` }, request: { host: registry.host } }] }),
  });
  assert.equal(unknown.status, 200);
  assert.equal(((await unknown.json()) as { marked: number }).marked, 0, 'an unknown repository marks nothing');
  assert.equal((await x.record('ImageRepository', 'app'))?.requestedAt, appRequested);

  // A tag no policy matches: scanned, the policy keeps 1.10.0, no commit.
  await pushImage(registry.host, app, '3.0.0-rc.1');
  await x.waitFor('the rc tag scanned and the policy re-evaluated', async () => {
    const r = await x.record('ImageRepository', 'app');
    const scan = r?.status.lastScanResult as { latestTags?: string[]; scanTime: string } | undefined;
    const p = await x.record('ImagePolicy', 'app');
    return Boolean(scan?.latestTags?.includes('3.0.0-rc.1') && p?.status.lastReconciledAt && (p.status.lastReconciledAt as string) >= scan.scanTime);
  });
  assert.equal((await policy('app'))?.tag, '1.10.0');

  // A registry that answers 500: a clear status on the ImageRepository, its policy has nothing.
  const harborBroken = await fetch(hook('harbor'), {
    method: 'POST',
    headers: { authorization: x.token, 'content-type': 'application/json' },
    body: JSON.stringify({ type: 'PUSH_ARTIFACT', event_data: { resources: [{ tag: '1.0.0', resource_url: `${broken.host}/team/app:1.0.0` }] } }),
  });
  assert.equal(harborBroken.status, 200);
  await x.waitFor('the broken repository reports the registry error', async () => {
    const r: ObjectRecord | undefined = await x.record('ImageRepository', 'broken');
    const ready = getCondition(r, 'Ready');
    return ready?.status === 'False' && ready.reason === 'ReadOperationFailed' && /500|storage is down/.test(ready.message) && r?.requestedAt === r?.status.lastHandledReconcileAt;
  });
  assert.equal(await policy('broken'), undefined);
  assert.equal(await head(), before, 'no commit from bad input');
  assert.equal(await image('app'), `${registry.host}/${app}:1.10.0`);

  // 8. The CLI sees it all (through the running server's data directory).
  const cli = await runCli(['get', 'images', 'all', '-n', ns, '--data-dir', x.dataDir], { cwd: work, env: cliEnv({ HOME: work }) });
  assert.equal(cli.code, 0, show(cli));
  assert.match(cli.stdout, new RegExp(`imagepolicy/app\\s+${registry.host.replace(/[.]/g, '\\.')}/team/app:1\\.10\\.0`));
  assert.match(cli.stdout, /imageupdateautomation\/auto\s/);
  assert.match(cli.stdout, /imagerepository\/broken\s.*False\s+scan failed/);
  const cliRun = (...args: string[]) => runCli([...args, '-n', ns, '--data-dir', x.dataDir], { cwd: work, env: cliEnv({ HOME: work, FLUXLESS_KUBECONFIG: x.cfg.cluster.kubeconfig ?? '' }) });
  const suspended = await cliRun('suspend', 'image', 'update', 'auto');
  assert.equal(suspended.code, 0, show(suspended));
  assert.match(suspended.stdout, new RegExp(`✔ image update ${ns}/auto suspended`));
  assert.match((await cliRun('get', 'images', 'update')).stdout, /imageupdateautomation\/auto\s.*\strue\s/);
  assert.equal((await cliRun('resume', 'image', 'update', 'auto')).code, 0);

  // With the server stopped, `reconcile image repository` scans in the CLI's own process.
  await local.stop();
  const scanned = await cliRun('reconcile', 'image', 'repository', 'web');
  assert.equal(scanned.code, 0, show(scanned));
  assert.match(scanned.stdout, /✔ successful scan: found 3 tags with checksum \d+/);
});
