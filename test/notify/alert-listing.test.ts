/**
 * The notification pipeline's listing of Alerts (notify/sink.ts with state/kind-generation.ts):
 * while no Alert changes, an event costs one read of the Alert generation marker instead of
 * a LIST and a read per Alert; a new, changed, suspended or deleted Alert is matched by the
 * very next event; a status-only write to an Alert keeps the listing; a write that bypasses
 * tracking is seen once the listing's maximum age has passed; concurrent events share the
 * marker reads, each read starting after its event. On the filesystem store and on
 * S3 (fauxqs), whose marker creation uses a conditional write.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../shared/config/config.js';
import { noClusterKubeConfig } from '../../shared/kube/kubeconfig.js';
import type { KubeObject } from '../../shared/kube/object.js';
import type { NotificationEvent } from '../../shared/notify/event.js';
import { ALERT_LISTING_MAX_AGE_MS, alertListingProjection, dispatchEvent } from '../../shared/notify/sink.js';
import { recordEvent } from '../../shared/reconcile/status.js';
import { createRuntime } from '../../shared/runtime/factory.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { FsStateStore } from '../../shared/state/fs-store.js';
import { trackKindGenerations } from '../../shared/state/kind-generation.js';
import type { ObjectRecord } from '../../shared/state/records.js';
import { S3StateStore } from '../../shared/state/s3-store.js';
import type { ObjectKey, StateStore } from '../../shared/state/store.js';
import { createS3Client, ensureBucket } from '../../shared/util/s3.js';
import { testEnv } from '../harness/index.js';
// Alert specs compile CEL-free here, but the parser module registers CEL for the ones that would.
import '../../shared/cel/expression.js';

const NS = 'flux-system';

/** A store that counts the LISTs made through it and the kinds of the records read. */
function counting(inner: StateStore): { store: StateStore; lists: () => number; gets: () => string[]; reset(): void } {
  let lists = 0;
  let gets: string[] = [];
  const store: StateStore = {
    get: (k) => (gets.push(k.kind), inner.get(k)),
    list: (p) => ((lists += 1), inner.list(p)),
    put: (k, v, o) => inner.put(k, v, o),
    delete: (k, o) => inner.delete(k, o),
    update: (k, fn, o) => inner.update(k, fn, o),
  };
  return { store, lists: () => lists, gets: () => gets, reset: () => ((lists = 0), (gets = [])) };
}

const alertKey = (name: string): ObjectKey => ({ kind: 'Alert', namespace: NS, name });
const alertRecord = (name: string, severity = 'info'): ObjectRecord => ({
  object: { apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Alert', metadata: { name, namespace: NS }, spec: { providerRef: { name: 'chat' }, eventSeverity: severity, eventSources: [{ kind: 'Kustomization', name: '*' }] } } as KubeObject,
  status: {},
});

let seq = 0;
function event(): NotificationEvent {
  seq += 1;
  return {
    involvedObject: { kind: 'Kustomization', namespace: NS, name: 'apps', apiVersion: 'kustomize.toolkit.fluxcd.io/v1' },
    severity: 'info',
    timestamp: '2026-01-02T03:04:05Z',
    message: `Reconciliation finished ${seq}`,
    reason: 'ReconciliationSucceeded',
    reportingController: 'kustomize-controller',
  };
}

async function runtimeOver(t: TestContext, base: StateStore): Promise<{ rt: Runtime; raw: StateStore; count: ReturnType<typeof counting>; clock: { ms: number } }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-alert-listing-'));
  const rt0 = createRuntime(loadConfig({ env: { FLUXLESS_SOURCE_URL: 'https://example.invalid/fleet.git' }, dataDir: dir }), { kubeConfig: noClusterKubeConfig() });
  t.after(async () => {
    rt0.client.close();
    await rt0.queue.close();
    await rm(dir, { recursive: true, force: true });
  });
  const count = counting(base);
  const clock = { ms: Date.parse('2026-01-02T03:04:05Z') };
  const rt: Runtime = { ...rt0, state: trackKindGenerations(count.store, { Alert: alertListingProjection }), now: () => new Date(clock.ms) };
  return { rt, raw: base, count, clock };
}

function listingSuite(name: string, makeStore: (t: TestContext) => Promise<StateStore>): void {
  describe(`the Alert listing is reused while no Alert changes: ${name}`, () => {
    test('one marker read per event; new, suspended and deleted Alerts are seen by the next event; status writes keep the listing', async (t) => {
      const { rt, count } = await runtimeOver(t, await makeStore(t));
      await rt.state.put(alertKey('a'), alertRecord('a'));
      const send = async () => (await dispatchEvent(rt, event(), undefined)).enqueued;

      assert.deepEqual(await send(), [`${NS}/a`]);
      count.reset();
      assert.deepEqual(await send(), [`${NS}/a`]);
      assert.equal(count.lists(), 0, 'an unchanged fleet of Alerts is not listed again');
      assert.deepEqual(count.gets(), ['KindGeneration', 'Provider'], 'the Alert generation marker and the Provider of the matched Alert; no Alert record');

      await rt.state.put(alertKey('b'), alertRecord('b'));
      count.reset();
      assert.deepEqual(await send(), [`${NS}/a`, `${NS}/b`], 'a new Alert matches the next event');
      assert.equal(count.lists(), 1);

      // The Alert's own status and events are not what matching reads: the listing stays.
      await recordEvent(rt.state, alertKey('b'), { severity: 'info', reason: 'Succeeded', message: 'ok' }, rt.now());
      count.reset();
      await send();
      assert.equal(count.lists(), 0, 'a status-only write to an Alert does not invalidate the listing');

      await rt.state.update<ObjectRecord>(alertKey('b'), (cur) => (cur ? { ...cur, suspended: true } : cur));
      assert.deepEqual(await send(), [`${NS}/a`], 'a suspended Alert stops matching at once');
      await rt.state.update<ObjectRecord>(alertKey('a'), (cur) => (cur ? { ...cur, object: alertRecord('a', 'error').object } : cur));
      assert.deepEqual(await send(), [], 'a changed eventSeverity applies to the next event');
      await rt.state.update<ObjectRecord>(alertKey('b'), (cur) => (cur ? { ...cur, suspended: false } : cur));
      await rt.state.delete(alertKey('a'));
      assert.deepEqual(await send(), [`${NS}/b`], 'a deleted Alert is gone, a resumed one is back');
    });

    test('concurrent events share the marker reads; an event sent after an Alert is created sees it', async (t) => {
      const { rt, count } = await runtimeOver(t, await makeStore(t));
      await rt.state.put(alertKey('a'), alertRecord('a'));
      await dispatchEvent(rt, event(), undefined);
      count.reset();
      const all = await Promise.all(Array.from({ length: 10 }, () => dispatchEvent(rt, event(), undefined)));
      for (const r of all) assert.deepEqual(r.enqueued, [`${NS}/a`]);
      const markerReads = count.gets().filter((k) => k === 'KindGeneration').length;
      assert.ok(markerReads >= 1 && markerReads <= 2, `${markerReads} marker reads for 10 concurrent events`);
      const inFlight = dispatchEvent(rt, event(), undefined);
      await rt.state.put(alertKey('b'), alertRecord('b'));
      assert.deepEqual((await dispatchEvent(rt, event(), undefined)).enqueued, [`${NS}/a`, `${NS}/b`]);
      await inFlight;
    });

    test('a write that bypasses tracking is seen once the listing is older than its maximum age', async (t) => {
      const { rt, raw, clock } = await runtimeOver(t, await makeStore(t));
      const send = async () => (await dispatchEvent(rt, event(), undefined)).enqueued;
      assert.deepEqual(await send(), [], 'no Alerts yet (the marker is created on this first read)');
      await raw.put(alertKey('old-writer'), alertRecord('old-writer'));
      clock.ms += ALERT_LISTING_MAX_AGE_MS - 1000;
      assert.deepEqual(await send(), [], 'within the maximum age the listing is reused');
      clock.ms += 2000;
      assert.deepEqual(await send(), [`${NS}/old-writer`]);
    });

    test('a store that does not track generations lists on every event', async (t) => {
      const { rt, count } = await runtimeOver(t, await makeStore(t));
      const plain: Runtime = { ...rt, state: count.store };
      await plain.state.put(alertKey('a'), alertRecord('a'));
      for (let i = 0; i < 3; i++) assert.deepEqual((await dispatchEvent(plain, event(), undefined)).enqueued, [`${NS}/a`]);
      assert.equal(count.lists(), 3);
    });
  });
}

listingSuite('filesystem', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-alert-state-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return new FsStateStore(dir);
});

listingSuite('S3 on fauxqs', async (t) => {
  const aws = await (await testEnv()).aws();
  const client = createS3Client(aws);
  t.after(() => client.destroy());
  const bucket = `alerts-${randomBytes(6).toString('hex')}`;
  await ensureBucket(client, bucket);
  return new S3StateStore({ client, bucket, prefix: 'state', emulateConditions: true });
});
