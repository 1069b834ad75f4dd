/**
 * More end-to-end behaviour of the local runtime: pushes racing each other, a server killed
 * in the middle of a reconcile, and a fleet of three levels with dependsOn.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../shared/kube/object.js';
import { LocalWorkQueue, type ReceivedMessage, type WorkQueue } from '../../shared/queue/index.js';
import { getCondition, readRecord } from '../../shared/state/records.js';
import { cliEnv, spawnCli, type CliProcess } from '../cli/helpers.js';
import { configMap, e2e, fleet } from './helpers.js';
import { sendGithubPush } from '../harness/github.js';

/**
 * Watches the handling of one target's messages on a running consume loop. consume()
 * (shared/queue/consume.ts) runs the handler (handleMessage -> reconcileKustomization) for a
 * received message strictly between `receive()` returning it and the `ack`/`release`/
 * `deadLetter` of its receipt, so the receipts of the target that are out at once are the
 * reconciles of that target running at once. The queue object is the one the loop calls, so
 * wrapping its methods observes every delivery from now on, whatever the timing.
 */
function watchTarget(queue: WorkQueue, target: { kind: string; namespace: string; name: string }, onDone: () => Promise<void>) {
  const out = new Set<string>();
  const stats = { running: 0, maxRunning: 0, handled: 0 };
  const mine = (r: ReceivedMessage) =>
    r.message.target.kind === target.kind && r.message.target.namespace === target.namespace && r.message.target.name === target.name;
  const receive = queue.receive.bind(queue);
  queue.receive = async (opts) => {
    const batch = await receive(opts);
    for (const r of batch) {
      if (!mine(r)) continue;
      out.add(r.receipt);
      stats.running = out.size;
      stats.maxRunning = Math.max(stats.maxRunning, out.size);
    }
    return batch;
  };
  const settle = <A extends unknown[]>(f: (receipt: string, ...rest: A) => Promise<void>) =>
    async (receipt: string, ...rest: A): Promise<void> => {
      if (out.has(receipt)) {
        // The handler has returned: look at the result before the receipt is settled.
        await onDone();
        out.delete(receipt);
        stats.running = out.size;
        stats.handled++;
      }
      return f(receipt, ...rest);
    };
  queue.ack = settle(queue.ack.bind(queue));
  queue.release = settle(queue.release.bind(queue));
  queue.deadLetter = settle(queue.deadLetter.bind(queue));
  return stats;
}

test('two pushes in quick succession: the latest revision wins, and a Kustomization never runs twice at once', async (t) => {
  const x = await e2e(t);
  await x.repo.commit(fleet(x.ns, { 'a.yaml': configMap('a', { v: '0' }), 'b.yaml': configMap('b', { v: '0' }) }), 'first');
  await x.repo.push();
  const rev0 = `main@sha1:${await x.repo.head()}`;
  const local = await x.start();
  // Every applied revision apps reports after one of its reconciles, in order.
  const applied: string[] = [];
  const stats = watchTarget(local.rt.queue, { kind: 'Kustomization', namespace: x.ns, name: 'apps' }, async () => {
    const r = await readRecord(local.rt.state, { kind: 'Kustomization', namespace: x.ns, name: 'apps' });
    applied.push(r?.status.lastAppliedRevision ?? '');
  });
  await x.waitFor('apps Ready at the first revision', async () => (await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision === rev0);

  // Two commits, each pushed and announced by its webhook, the second right after the first.
  await x.repo.commit({ 'apps/a.yaml': configMap('a', { v: '1' }), 'apps/b.yaml': configMap('b', { v: '1' }) }, 'second');
  await x.repo.push();
  const rev1 = `main@sha1:${await x.repo.head()}`;
  const hook1 = x.push(local);
  await x.repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }), 'apps/b.yaml': null }, 'third');
  await x.repo.push();
  const rev2 = `main@sha1:${await x.repo.head()}`;
  const hook2 = x.push(local);
  assert.equal((await hook1).status, 200);
  assert.equal((await hook2).status, 200);

  await x.waitFor('apps Ready at the second push', async () => {
    const r = await x.record('Kustomization', 'apps');
    return r?.status.lastAppliedRevision === rev2 && getCondition(r, 'Ready')?.status === 'True';
  }, 90_000);
  // Let apps be reconciled a few more times (its interval is 2s, plus whatever was still
  // queued for the first push): a late message must not bring an older revision back.
  const handledAtRev2 = stats.handled;
  await x.waitFor('three more reconciles of apps', async () => stats.handled >= handledAtRev2 + 3, 90_000);

  assert.equal((await x.record('GitRepository', 'flux-system'))?.status.artifact?.revision, rev2);
  assert.equal((await x.record('Kustomization', 'apps'))?.status.lastAppliedRevision, rev2);
  assert.equal(((await x.get('ConfigMap', 'a')) as unknown as { data: { v: string } }).data.v, '2');
  assert.equal(await x.get('ConfigMap', 'b'), undefined, 'b pruned by the latest revision');
  const order = [rev0, rev1, rev2];
  t.diagnostic(`apps reconciles: ${stats.handled}, at most ${stats.maxRunning} at once; applied revisions in order: ${applied.map((a) => order.indexOf(a)).join(' ')}`);
  const firstAtRev2 = applied.indexOf(rev2);
  assert.ok(firstAtRev2 >= 0, `apps never reported ${rev2}: ${applied.join(', ')}`);
  for (const r of applied.slice(firstAtRev2)) assert.equal(r, rev2, `an older revision came back after the latest: ${applied.map((a) => order.indexOf(a)).join(' ')}`);
  for (let i = 1; i < applied.length; i++) {
    assert.ok(order.indexOf(applied[i]) >= order.indexOf(applied[i - 1]), `applied revisions went backwards: ${applied.map((a) => order.indexOf(a)).join(' ')}`);
  }
  assert.ok(stats.handled >= 4, `apps reconciles observed: ${stats.handled}`);
  assert.equal(stats.maxRunning, 1, 'apps was reconciled twice at once');
});

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
        - name: web
          image: registry.invalid/web:1.0
`;

const waitingApps = (ns: string) => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: apps
  namespace: ${ns}
spec:
  interval: 10m
  retryInterval: 5s
  timeout: 20s
  wait: true
  prune: true
  path: ./apps
  targetNamespace: ${ns}
  sourceRef:
    kind: GitRepository
    name: flux-system
`;

interface LogLine {
  msg?: string;
  target?: string;
  delivery?: number;
}

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as LogLine;
      } catch {
        return {};
      }
    });
}

test('a server killed in the middle of a reconcile: the next one picks the work up and converges', async (t) => {
  const x = await e2e(t);
  // apps waits for a Deployment of 1 replica: without nodes it never becomes available, so
  // apps stays in its health check for its whole timeout (20s).
  await x.repo.commit(fleet(x.ns, { 'web.yaml': deployment(1), 'config.yaml': configMap('web-config', { v: '1' }) }, { 'clusters/dev/apps.yaml': waitingApps(x.ns) }), 'first');
  await x.repo.push();
  const rev1 = `main@sha1:${await x.repo.head()}`;
  const env = cliEnv({
    FLUXLESS_SOURCE_URL: x.repo.url,
    FLUXLESS_SOURCE_BRANCH: 'main',
    FLUXLESS_PATH: './clusters/dev',
    FLUXLESS_NAMESPACE: x.ns,
    FLUXLESS_KUBECONFIG: x.cfg.cluster.kubeconfig!,
    FLUXLESS_PORT: '0',
    FLUXLESS_SCHEDULE_INTERVAL: '500ms',
  });
  const marker = path.join(x.dataDir, 'serve.json');
  const serve = () => spawnCli(['--data-dir', x.dataDir, 'serve'], { cwd: x.dataDir, env });
  const servers: CliProcess[] = [];
  try {
    const first = await serve();
    servers.push(first);
    await x.waitFor('apps in its health check at the first revision', async () => {
      const r = await x.record('Kustomization', 'apps');
      // The inventory is saved before the health check; Ready is written after it.
      return r?.status.lastAttemptedRevision === rev1 && !getCondition(r, 'Ready') && Boolean(await x.get('ConfigMap', 'web-config'));
    }, 90_000);
    first.child.kill('SIGKILL');
    const killed = await first.exited;
    assert.equal(killed.signal, 'SIGKILL');
    assert.ok(existsSync(marker), 'a killed server leaves its serve.json behind');

    // The fix goes to Git while no server runs.
    await x.repo.commit({ 'apps/web.yaml': deployment(0), 'apps/config.yaml': configMap('web-config', { v: '2' }) }, 'scale to zero');
    await x.repo.push();
    const rev2 = `main@sha1:${await x.repo.head()}`;

    const second = await serve();
    servers.push(second);
    await x.waitFor('the new server to write serve.json', () => Promise.resolve(existsSync(marker) && (JSON.parse(readFileSync(marker, 'utf8')) as { pid: number }).pid === second.child.pid), 60_000);
    const { url } = JSON.parse(readFileSync(marker, 'utf8')) as { url: string };
    const hook = await sendGithubPush({ url, namespace: x.ns, token: x.token, head: await x.repo.head() });
    assert.equal(hook.status, 200, await hook.text());

    await x.waitFor('apps Ready at the new revision', async () => {
      const r = await x.record('Kustomization', 'apps');
      return r?.status.lastAppliedRevision === rev2 && getCondition(r, 'Ready')?.status === 'True';
    }, 150_000);
    const dep = (await x.client.request<KubeObject & { spec: { replicas: number } }>('GET', `/apis/apps/v1/namespaces/${x.ns}/deployments/web`));
    assert.equal(dep.spec.replicas, 0);
    assert.equal(((await x.get('ConfigMap', 'web-config')) as unknown as { data: { v: string } }).data.v, '2');
    const apps = await x.record('Kustomization', 'apps');
    assert.deepEqual(apps?.status.inventory?.entries.map((e) => e.id).sort(), [`${x.ns}_web-config__ConfigMap`, `${x.ns}_web_apps_Deployment`]);
    assert.equal(getCondition(await x.record('Kustomization', 'flux-system'), 'Ready')?.status, 'True');
    assert.equal(getCondition(await x.record('GitRepository', 'flux-system'), 'Ready')?.status, 'True');
    // The reconcile the kill interrupted was delivered again to the new server (its second
    // delivery), and nothing was dead-lettered.
    const redelivered = logLines(second.output()).filter((l) => l.msg === 'kustomization handled' && l.target === `Kustomization/${x.ns}/apps` && (l.delivery ?? 0) >= 2);
    t.diagnostic(`apps deliveries on the new server: ${logLines(second.output()).filter((l) => l.msg === 'kustomization handled' && l.target === `Kustomization/${x.ns}/apps`).map((l) => l.delivery).join(', ')}`);
    assert.ok(redelivered.length >= 1, `the interrupted apps message was not redelivered:\n${second.output()}`);
    assert.deepEqual(await new LocalWorkQueue(path.join(x.dataDir, 'queue')).listDead(), []);

    const stopped = await second.stop('SIGTERM');
    assert.equal(stopped.code, 0, stopped.all);
    assert.equal(existsSync(marker), false);
  } finally {
    for (const s of servers) await s.stop('SIGKILL');
  }
});

const kustomization = (ns: string, name: string, extra: string[]) =>
  [
    'apiVersion: kustomize.toolkit.fluxcd.io/v1',
    'kind: Kustomization',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${ns}`,
    'spec:',
    '  interval: 10m',
    '  prune: true',
    `  path: ./${name}`,
    `  targetNamespace: ${ns}`,
    '  sourceRef:',
    '    kind: GitRepository',
    '    name: flux-system',
    ...extra,
    '',
  ].join('\n');

test('a three-level fleet: root -> infrastructure and apps (apps dependsOn infrastructure) -> objects', async (t) => {
  const x = await e2e(t);
  await x.repo.commit(
    {
      'clusters/dev/infrastructure.yaml': kustomization(x.ns, 'infrastructure', []),
      // apps renders with variables from a ConfigMap that infrastructure creates: it can only
      // build once infrastructure has been applied.
      'clusters/dev/apps.yaml': kustomization(x.ns, 'apps', ['  dependsOn:', '    - name: infrastructure', '  postBuild:', '    substituteFrom:', '      - kind: ConfigMap', '        name: cluster-vars']),
      'infrastructure/vars.yaml': configMap('cluster-vars', { environment: 'production', region: 'eu-west-1' }),
      'infrastructure/shared.yaml': configMap('shared', { v: '1' }),
      'apps/app.yaml': configMap('app', { environment: '${environment}', region: '${region}' }),
    },
    'three levels',
  );
  await x.repo.push();
  const rev = `main@sha1:${await x.repo.head()}`;
  await x.start();
  await x.waitFor('every Kustomization Ready at the revision', async () => {
    for (const name of ['flux-system', 'infrastructure', 'apps']) {
      const r = await x.record('Kustomization', name);
      if (r?.status.lastAppliedRevision !== rev || getCondition(r, 'Ready')?.status !== 'True') return false;
    }
    return true;
  }, 90_000);

  const root = await x.record('Kustomization', 'flux-system');
  assert.deepEqual(root?.status.inventory?.entries.map((e) => e.id).sort(), [
    `${x.ns}_apps_kustomize.toolkit.fluxcd.io_Kustomization`,
    `${x.ns}_infrastructure_kustomize.toolkit.fluxcd.io_Kustomization`,
  ]);
  const infra = await x.record('Kustomization', 'infrastructure');
  const apps = await x.record('Kustomization', 'apps');
  assert.deepEqual(infra?.status.inventory?.entries.map((e) => e.id).sort(), [`${x.ns}_cluster-vars__ConfigMap`, `${x.ns}_shared__ConfigMap`]);
  assert.deepEqual(apps?.status.inventory?.entries.map((e) => e.id), [`${x.ns}_app__ConfigMap`]);
  assert.deepEqual(((await x.get('ConfigMap', 'app')) as unknown as { data: Record<string, string> }).data, { environment: 'production', region: 'eu-west-1' });

  // apps was applied after infrastructure: its first success was recorded after
  // infrastructure's (same clock, same process), and it never tried to build before its
  // dependency was ready (that would have failed on the missing ConfigMap).
  const firstSuccess = (r: typeof apps) => r?.status.history?.find((h) => h.lastReconciledStatus === 'ReconciliationSucceeded')?.firstReconciled;
  const infraAt = firstSuccess(infra);
  const appsAt = firstSuccess(apps);
  assert.ok(infraAt && appsAt, 'both have a successful history entry');
  assert.ok(Date.parse(appsAt) >= Date.parse(infraAt), `apps succeeded at ${appsAt}, before infrastructure at ${infraAt}`);
  t.diagnostic(`infrastructure first Ready at ${infraAt}, apps at ${appsAt}; apps events: ${(apps?.events ?? []).map((e) => e.reason).join(', ')}`);
  for (const e of apps?.events ?? []) {
    assert.notEqual(e.reason, 'BuildFailed', `apps built before its dependency was ready: ${e.message}`);
    if (e.severity === 'error') assert.equal(e.reason, 'DependencyNotReady', e.message);
  }
});
