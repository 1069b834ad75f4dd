/**
 * npm run bench:image — from a registry push to the new image in the Deployment, webhook
 * driven, on the local runtime (filesystem store, on-disk queue): a docker-registry sends its
 * notifications to a `distribution` Receiver; the ImageRepository scans (interval 1h: only
 * the notification triggers it), the ImagePolicy picks the tag, the ImageUpdateAutomation
 * commits and pushes it, the GitRepository fetches it and the Kustomization applies it.
 * Ten pushes; the median time, and the registry requests Fluxless made per push (counted by
 * a loopback proxy in front of the registry, by user agent). Ends with
 * `RESULT push_to_applied_s=<x> registry_calls=<n>`. Target: at most 5 s.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../shared/config/config.js';
import { startGitServer } from '../shared/devenv/git-server.js';
import { createKubeClient } from '../shared/kube/client.js';
import { loadKubeConfig } from '../shared/kube/kubeconfig.js';
import { webhookPath } from '../shared/receivers/signature.js';
import { enqueue } from '../shared/runtime/enqueue.js';
import { createRuntime } from '../shared/runtime/factory.js';
import { startLocalRuntime } from '../shared/runtime/local.js';
import { getCondition, readRecord } from '../shared/state/records.js';
import { configureLogging } from '../shared/util/log.js';
import { createTestRepo } from '../test/harness/git-server.js';
import { pushImage, startNotifyingRegistry } from '../test/receivers/notifying-registry.js';
import { benchCluster } from './common.js';

const PUSHES = Number(process.env.BENCH_PUSHES ?? 10);

/** A loopback proxy that forwards everything to `upstream` unchanged (Host included) and counts Fluxless's requests. */
async function countingProxy(upstream: string): Promise<{ host: string; fluxlessRequests(): number; close(): Promise<void> }> {
  const [uHost, uPort] = upstream.split(':');
  let count = 0;
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    if (String(req.headers['user-agent'] ?? '').startsWith('fluxless')) count++;
    const up = http.request({ host: uHost, port: Number(uPort), method: req.method, path: req.url, headers: req.headers, agent }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    fluxlessRequests: () => count,
    close: () =>
      new Promise<void>((r) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

function fleet(ns: string, image: string): Record<string, string> {
  const y = (lines: string[]) => lines.join('\n') + '\n';
  return {
    'clusters/bench/receiver.yaml': y([
      'apiVersion: notification.toolkit.fluxcd.io/v1',
      'kind: Receiver',
      'metadata: {name: registry, namespace: ' + ns + '}',
      'spec:',
      '  type: distribution',
      '  secretRef: {name: webhook-token}',
      '  resources: [{kind: ImageRepository, name: "*", matchLabels: {bench: image}}]',
    ]),
    'clusters/bench/images.yaml': y([
      'apiVersion: image.toolkit.fluxcd.io/v1',
      'kind: ImageRepository',
      `metadata: {name: app, namespace: ${ns}, labels: {bench: image}}`,
      `spec: {image: ${image}, interval: 1h}`,
      '---',
      'apiVersion: image.toolkit.fluxcd.io/v1',
      'kind: ImagePolicy',
      `metadata: {name: app, namespace: ${ns}}`,
      "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '>=1.0.0'}}}",
      '---',
      'apiVersion: image.toolkit.fluxcd.io/v1',
      'kind: ImageUpdateAutomation',
      `metadata: {name: auto, namespace: ${ns}}`,
      'spec:',
      '  interval: 1h',
      '  sourceRef: {kind: GitRepository, name: flux-system}',
      '  git:',
      '    checkout: {ref: {branch: main}}',
      '    commit: {author: {name: fluxbot, email: fluxbot@example.com}}',
      '    push: {branch: main}',
      '  update: {path: ./apps, strategy: Setters}',
      '---',
      'apiVersion: kustomize.toolkit.fluxcd.io/v1',
      'kind: Kustomization',
      `metadata: {name: apps, namespace: ${ns}}`,
      'spec:',
      '  interval: 1h',
      '  prune: true',
      '  path: ./apps',
      `  targetNamespace: ${ns}`,
      '  sourceRef: {kind: GitRepository, name: flux-system}',
    ]),
    'apps/app.yaml': y([
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: app}',
      'spec:',
      '  replicas: 0',
      '  selector: {matchLabels: {app: app}}',
      '  template:',
      '    metadata: {labels: {app: app}}',
      '    spec:',
      '      containers:',
      `        - name: app`,
      `          image: ${image}:1.0.0 # {"$imagepolicy": "${ns}:app"}`,
    ]),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function main(): Promise<void> {
  configureLogging({ level: (process.env.FLUXLESS_LOG_LEVEL as 'info' | undefined) ?? 'error' });
  const cluster = await benchCluster();
  const kc = loadKubeConfig(cluster.kubeconfigPath);
  const client = createKubeClient(kc);
  const ns = `image-bench-${Date.now().toString(36)}`;
  const token = randomBytes(16).toString('hex');
  const gitRoot = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-git-'));
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-data-'));
  const git = await startGitServer({ root: gitRoot });
  const cleanups: Array<() => Promise<unknown>> = [];
  try {
    await client.request('POST', '/api/v1/namespaces', { body: { metadata: { name: ns } } });
    await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'webhook-token' }, stringData: { token } } });
    const repo = await createTestRepo(git, { name: 'fleet' });
    const cfg = loadConfig({
      env: { FLUXLESS_SOURCE_URL: repo.url, FLUXLESS_SOURCE_BRANCH: 'main', FLUXLESS_PATH: './clusters/bench', FLUXLESS_NAMESPACE: ns, FLUXLESS_KUBECONFIG: cluster.kubeconfigPath, FLUXLESS_PORT: '0' },
      dataDir,
    });
    const rt = createRuntime(cfg, { kubeConfig: kc });
    // The runtime first (its URL is the registry's notification endpoint), the fleet once the registry exists.
    await repo.commit({ 'clusters/bench/README.md': 'bench\n' }, 'empty');
    await repo.push();
    const local = await startLocalRuntime(rt, cfg);
    cleanups.push(() => local.stop());
    const registry = await startNotifyingRegistry(`${local.url}${webhookPath(token, 'registry', ns)}`, `Bearer ${token}`);
    cleanups.push(() => registry.stop());
    const proxy = await countingProxy(registry.host);
    cleanups.push(() => proxy.close());
    const image = `${proxy.host}/bench/app`;
    await pushImage(proxy.host, 'bench/app', '1.0.0');
    await repo.commit(fleet(ns, image), 'image automation');
    await repo.push();
    const wait = async (what: string, ok: () => Promise<boolean>, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!(await ok().catch(() => false))) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    };
    const deployedImage = async () =>
      (await client.request<{ spec: { template: { spec: { containers: Array<{ image: string }> } } } }>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/app`)).spec.template.spec.containers[0].image;
    // The fleet is picked up by the GitRepository's poll: ask for it now.
    await rt.state.update(
      { kind: 'GitRepository', namespace: ns, name: 'flux-system' },
      (cur: Record<string, unknown> | undefined) => (cur ? { ...cur, requestedAt: new Date().toISOString() } : undefined),
    );
    await enqueue(rt, { kind: 'GitRepository', namespace: ns, name: 'flux-system' }, 'manual', { dedupKey: 'bench-start' });
    await wait('the fleet applied at 1.0.0', async () => (await deployedImage()) === `${image}:1.0.0`, 180_000);
    await wait('the policy at 1.0.0', async () => ((await readRecord(rt.state, { kind: 'ImagePolicy', namespace: ns, name: 'app' }))?.status.latestRef as { tag?: string } | undefined)?.tag === '1.0.0', 120_000);
    await wait('the automation ready', async () => getCondition(await readRecord(rt.state, { kind: 'ImageUpdateAutomation', namespace: ns, name: 'auto' }), 'Ready')?.status === 'True', 120_000);

    const times: number[] = [];
    const calls: number[] = [];
    for (let i = 1; i <= PUSHES; i++) {
      const tag = `1.${i}.0`;
      const before = proxy.fluxlessRequests();
      const t0 = performance.now();
      await pushImage(proxy.host, 'bench/app', tag);
      await wait(`${tag} in the Deployment`, async () => (await deployedImage()) === `${image}:${tag}`, 120_000);
      const s = (performance.now() - t0) / 1000;
      const n = proxy.fluxlessRequests() - before;
      times.push(s);
      calls.push(n);
      console.log(`push ${i}: ${tag} in the Deployment after ${s.toFixed(2)} s, ${n} registry request(s) by Fluxless`);
    }
    const avgCalls = calls.reduce((a, b) => a + b, 0) / calls.length;
    console.log(`median ${median(times).toFixed(2)} s over ${PUSHES} pushes (min ${Math.min(...times).toFixed(2)}, max ${Math.max(...times).toFixed(2)})`);
    console.log(`RESULT push_to_applied_s=${median(times).toFixed(2)} registry_calls=${Number.isInteger(avgCalls) ? avgCalls : avgCalls.toFixed(1)}`);
  } finally {
    for (const c of cleanups.reverse()) await c().catch(() => undefined);
    await git.stop();
    await client.request('DELETE', `/api/v1/namespaces/${ns}`).catch(() => undefined);
    client.close();
    await rm(dataDir, { recursive: true, force: true });
    await rm(gitRoot, { recursive: true, force: true });
    await cluster.stop();
  }
}

await main();
