/**
 * The Alert and Provider kinds: a valid definition becomes Ready with what it does, an
 * invalid one Ready=False / Stalled with the field at fault and a Warning event; a
 * Provider without a UID gets one, kept across reconciles; finalizing drops the record.
 * The registry serves both to the CLI (`get alerts`, `get alert-providers`, `providers`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { kindByWord } from '../../shared/kinds/registry.js';
import type { KubeObject } from '../../shared/kube/object.js';
import type { ReconcileServices } from '../../shared/reconcile/contract.js';
import { FsStateStore } from '../../shared/state/index.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { log } from '../../shared/util/log.js';

const NS = 'team-a';

function obj(kind: string, name: string, spec: Record<string, unknown>): KubeObject {
  return { apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind, metadata: { name, namespace: NS, generation: 1 }, spec };
}

test('Alert and Provider: validated, Ready or Stalled with the field, Provider UID minted once, finalized', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-alert-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const svc = { state, now: () => new Date() } as unknown as ReconcileServices;
  const alerts = kindByWord('alerts')!;
  const providers = kindByWord('providers')!;
  assert.equal(alerts.kind, 'Alert');
  assert.equal(providers.kind, 'Provider');
  assert.equal(kindByWord('alert-providers')?.kind, 'Provider');

  const run = async (kind: typeof alerts, o: KubeObject) => {
    const key = { kind: o.kind, namespace: NS, name: o.metadata.name };
    await state.put<ObjectRecord>(key, { object: o, status: (await readRecord(state, key))?.status ?? {} });
    const record = (await readRecord(state, key))!;
    const res = await kind.reconcile(svc, { key, record, reason: 'test', log });
    return { res, rec: (await readRecord(state, key))! };
  };

  const ok = await run(alerts, obj('Alert', 'slack', { providerRef: { name: 'slack' }, eventSeverity: 'error', eventSources: [{ kind: 'Kustomization', name: '*' }, { kind: 'HelmRelease', name: 'web', namespace: 'apps' }] }));
  assert.equal(ok.res.ready, true);
  assert.equal(getCondition(ok.rec, 'Ready')?.message, `Alert sends error events of Kustomization/${NS}/*, HelmRelease/apps/web to Provider slack`);

  // Flux Operator's kinds (its distribution patches the CRD enum to allow them) are accepted: they match no event here.
  const operator = await run(alerts, obj('Alert', 'operator', { providerRef: { name: 'slack' }, eventSources: [{ kind: 'FluxInstance', name: '*' }, { kind: 'Kustomization', name: '*' }] }));
  assert.equal(operator.res.ready, true, JSON.stringify(operator.rec.status));

  const bad = await run(alerts, obj('Alert', 'bad', { providerRef: { name: 'slack' }, eventSources: [{ kind: 'Deployment', name: 'x' }] }));
  assert.equal(bad.res.ready, false);
  assert.equal(getCondition(bad.rec, 'Stalled')?.status, 'True');
  assert.match(getCondition(bad.rec, 'Ready')!.message, /^Alert team-a\/bad: spec\.eventSources\[0\]\.kind must be one of Bucket, GitRepository/);
  assert.equal(bad.rec.events?.at(-1)?.reason, 'InvalidSpec');

  const p1 = await run(providers, obj('Provider', 'github', { type: 'github', address: 'https://github.com/org/repo', secretRef: { name: 'gh' } }));
  assert.equal(p1.res.ready, true);
  const uid = p1.rec.status.uid;
  assert.match(String(uid), /^[0-9a-f-]{36}$/);
  const p2 = await run(providers, obj('Provider', 'github', { type: 'github', address: 'https://github.com/org/repo', secretRef: { name: 'gh' }, timeout: '30s' }));
  assert.equal(p2.rec.status.uid, uid, 'the UID is kept');

  const pbad = await run(providers, obj('Provider', 'chat', { type: 'slack', commitStatusExpr: "'x'" }));
  assert.equal(pbad.res.ready, false);
  assert.match(getCondition(pbad.rec, 'Ready')!.message, /spec\.commitStatusExpr is only supported for the 'github', 'gitlab'/);

  const key = { kind: 'Alert', namespace: NS, name: 'slack' };
  await alerts.finalize(svc, { key, record: (await readRecord(state, key))!, reason: 'deleted', log });
  assert.equal(await readRecord(state, key), undefined);
});
