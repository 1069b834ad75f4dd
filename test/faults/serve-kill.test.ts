/**
 * Standing fault suite (issue 9): SIGKILL of `fluxless serve` (the real bundled CLI, a
 * child process) during an apply and during a health check, then a restart converges;
 * with maxReceives 2 the killed deliveries also dead-letter the message (finding 8, by a
 * process killed rather than a handler that throws: see dead-letter.test.ts).
 *
 * The child talks to the API server through a test proxy (kube-proxy.ts) that holds one
 * request, so the kill lands at an exact point: first while the real (not dry-run) write
 * of ConfigMap c3 is in flight (the proxy forwards it after the kill: the write lands with
 * nobody left to record it), then, after a restart, while the health check waits for its
 * first look at the `gate` ConfigMap. Between the restarts a directory named like a message
 * file is left in the queue (issue 9: it must not stop the queue from opening). After the
 * gate exists, a third start finds the message delivered twice without finishing: it is
 * dead-lettered with a trace on `apps` (Ready=False DeadLettered, an event), and the next
 * scheduled reconcile converges: every object applied once, Ready=True, and a further
 * reconcile writes nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { KubeObject } from '../../shared/kube/object.js';
import { testEnv } from '../harness/index.js';
import { assertExit, configMap, faultFleet, kustomization, putConfigMap, ready, waitFor, within } from './helpers.js';
import { startKubeProxy } from './kube-proxy.js';
import { describeLeaks, scanForSecrets } from './secret-scan.js';

const NAMES = ['c1', 'c2', 'c3', 'c4'];

type Managed = KubeObject & { data?: Record<string, string>; metadata: KubeObject['metadata'] & { managedFields?: Array<{ manager?: string; operation?: string }>; resourceVersion?: string } };

test('SIGKILL of fluxless serve during an apply and during a health check; a restart converges with no duplicate side effects', { timeout: 300_000 }, async (t) => {
  const cluster = await (await testEnv()).cluster();
  const proxy = await startKubeProxy(cluster.kubeconfigPath);
  t.after(() => proxy.close());
  const f = await faultFleet(t, { kubeconfigPath: proxy.kubeconfigPath, env: { FLUXLESS_MAX_RECEIVES: '2' } });
  const { ns } = f;
  await f.repo.commit(
    {
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps', {
        interval: '1h',
        retryInterval: '2s',
        timeout: '5m',
        healthChecks: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'gate', namespace: ns }],
      }),
      ...Object.fromEntries(NAMES.map((n) => [`apps/${n}.yaml`, configMap(n, { v: n })])),
    },
    'four ConfigMaps behind a gate',
  );
  await f.repo.push();
  const rev = `main@sha1:${await f.repo.head()}`;
  const cm = async (name: string) => (await f.client.request<Managed>('GET', `/api/v1/namespaces/${ns}/configmaps/${name}`).catch(() => undefined)) as Managed | undefined;

  await t.test('killed while the write of c3 is in flight', async () => {
    const write = proxy.hold((r) => r.method === 'PATCH' && r.path === `/api/v1/namespaces/${ns}/configmaps/c3` && !r.query.has('dryRun'));
    const serve = await f.serve();
    await within(write.arrived, 90_000, 'the real write of ConfigMap c3', serve.output);
    await serve.kill();
    write.release();
    await waitFor('the held write to land', async () => (await cm('c3'))?.data?.v === 'c3', 30_000);
    assert.notEqual(ready(f.record('Kustomization', 'apps')).status, 'True', 'apps was not finished');
  });

  await t.test('restarted, killed while the health check waits for the gate (after the inventory is recorded)', async () => {
    const look = proxy.hold((r) => r.method === 'GET' && r.path === `/api/v1/namespaces/${ns}/configmaps/gate`);
    const serve = await f.serve();
    await within(look.arrived, 90_000, "the health check's first look at the gate", serve.output);
    // A health check that outlasts INVENTORY_EARLY_WRITE_MS records what was applied before it ends.
    await waitFor('the attempted revision and inventory recorded during the health check', () => f.record('Kustomization', 'apps')?.status.lastAttemptedRevision === rev, 30_000, serve.output);
    await serve.kill();
    look.release();
    for (const n of NAMES) assert.equal((await cm(n))?.data?.v, n, `${n} applied before the health check`);
    const apps = f.record('Kustomization', 'apps');
    assert.deepEqual(apps?.status.inventory?.entries.map((e) => e.id.split('_')[1]).sort(), NAMES);
    assert.notEqual(ready(apps).status, 'True');
  });

  await t.test('a third start (with a directory in the way in the queue): dead-lettered with a trace, then the scheduled reconcile converges', async () => {
    const messages = path.join(f.dataDir, 'queue', 'messages');
    mkdirSync(path.join(messages, `${randomUUID()}.json`));
    await putConfigMap(f.client, ns, 'gate', { open: 'yes' });
    const serve = await f.serve();
    await waitFor('the DeadLettered event on apps', () => (f.record('Kustomization', 'apps')?.events ?? []).some((e) => e.reason === 'DeadLettered'), 60_000, serve.output);
    const ev = f.record('Kustomization', 'apps')!.events!.find((e) => e.reason === 'DeadLettered')!;
    assert.equal(ev.severity, 'error');
    assert.match(ev.message, /delivered 3 times without finishing \(maxReceives 2\)/);
    const dead = readdirSync(path.join(f.dataDir, 'queue', 'dead'));
    assert.equal(dead.length, 1, `one dead letter: ${dead.join(', ')}`);
    await waitFor('apps Ready (the next scheduled reconcile got through)', () => ready(f.record('Kustomization', 'apps')).status === 'True', 90_000, serve.output);
    const apps = f.record('Kustomization', 'apps')!;
    assert.equal(apps.status.lastAppliedRevision, rev);

    // Every object exists once, written by one field manager (no second copy, no takeover fight).
    const list = await f.client.request<{ items: Managed[] }>('GET', `/api/v1/namespaces/${ns}/configmaps`, { query: { labelSelector: 'kustomize.toolkit.fluxcd.io/name=apps' } });
    assert.deepEqual(list.items.map((o) => o.metadata.name).sort(), NAMES);
    for (const o of list.items) {
      const managers = (o.metadata.managedFields ?? []).map((m) => `${m.manager}/${m.operation}`);
      assert.deepEqual(managers, ['fluxless/Apply'], `${o.metadata.name}: ${managers.join(', ')}`);
    }
    const ids = apps.status.inventory?.entries.map((e) => e.id) ?? [];
    assert.equal(new Set(ids).size, ids.length, 'no duplicate inventory entries');
    assert.equal(ids.length, NAMES.length);
    // No object reported created twice (the killed runs created them; the last one found them in place).
    const created = (apps.events ?? []).flatMap((e) => e.message.split('\n')).filter((l) => / created$/.test(l));
    assert.equal(new Set(created).size, created.length, `an object created twice: ${created.join(', ')}`);

    // A further reconcile (through the running server) writes nothing.
    const before = new Map(list.items.map((o) => [o.metadata.name, o.metadata.resourceVersion]));
    assertExit(await f.cli(['reconcile', 'kustomization', 'apps', '-n', ns]), 0, 'fluxless reconcile kustomization apps');
    for (const n of NAMES) assert.equal((await cm(n))?.metadata.resourceVersion, before.get(n), `${n} not written again`);
    assert.equal(await serve.stop(), 0, serve.output());
  });

  await t.test('no secret value in logs, output or the data directory', async () => {
    const { leaks } = await scanForSecrets(f.secrets, { dirs: [f.dataDir], texts: f.outputs.map((text, i) => ({ where: `output #${i}`, text })) });
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });
});
