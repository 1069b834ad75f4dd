/**
 * Standing fault suite (issue 9, finding 9): a Flux kind Fluxless does not reconcile yet,
 * found in Git, is not only a log line: `fluxless get all` lists it with Ready=False
 * NotSupported, it has a Warning event and Stalled, and the rest of the fleet is reconciled.
 *
 * The issue named HelmRepository, HelmRelease and ImagePolicy; those are reconciled now
 * (shared/kinds/registry.ts), so the kind that is not is Bucket. A kind no Flux version has
 * (a typo of Kustomization) must not vanish silently either.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assertExit, configMap, faultFleet, fluxObject, kustomization, ready, waitFor } from './helpers.js';

test('a Bucket in Git shows in get all as Ready=False NotSupported with an event; a kind Flux does not have is reported', { timeout: 180_000 }, async (t) => {
  const f = await faultFleet(t);
  const { ns } = f;
  await f.repo.commit(
    {
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps'),
      'clusters/dev/bucket.yaml': fluxObject('source.toolkit.fluxcd.io/v1', 'Bucket', ns, 'podinfo', { interval: '1h', provider: 'generic', bucketName: 'podinfo', endpoint: 'minio.example.invalid' }),
      // The typo is one level down, so that the Kustomization it fails is not the root.
      'clusters/dev/more.yaml': kustomization(ns, 'more', './more'),
      'more/typo.yaml': fluxObject('kustomize.toolkit.fluxcd.io/v1', 'Kustomisation', ns, 'typo', { interval: '1h', path: './apps', sourceRef: { kind: 'GitRepository', name: 'flux-system' } }),
      'apps/a.yaml': configMap('a', { v: '1' }),
    },
    'a Bucket and a typo',
  );
  await f.repo.push();
  const serve = await f.serve();
  await waitFor('apps Ready', () => ready(f.record('Kustomization', 'apps')).status === 'True', 90_000, serve.output);
  await waitFor('the Bucket reconciled', () => ready(f.record('Bucket', 'podinfo')).status !== undefined, 30_000, serve.output);
  await waitFor('more reconciled', () => ready(f.record('Kustomization', 'more')).status !== undefined, 30_000, serve.output);
  assert.equal(await serve.stop(), 0, serve.output());

  const rows = await f.getAll();
  await t.test('the Bucket: listed, Ready=False NotSupported, Stalled, a Warning event', async () => {
    const row = rows.find((r) => r.kind === 'Bucket' && r.name === 'podinfo');
    assert.ok(row, `Bucket/podinfo is listed by get all: ${JSON.stringify(rows.map((r) => `${r.kind}/${r.name}`))}`);
    assert.equal(row.ready, 'False');
    assert.equal(row.reason, 'NotSupported');
    assert.match(row.message, /not supported yet/);
    const rec = f.record('Bucket', 'podinfo');
    assert.equal(rec?.status.conditions?.find((c) => c.type === 'Stalled')?.status, 'True', 'Stalled');
    assert.equal(rec?.events?.find((e) => e.reason === 'NotSupported')?.severity, 'error', 'a Warning event');
    const events = await f.cli(['events', '-n', ns]);
    assertExit(events, 0, 'fluxless events');
    const line = events.stdout.split('\n').find((l) => l.includes('Bucket/podinfo') && l.includes('NotSupported'));
    assert.ok(line && /\bWarning\b/.test(line), `a Warning NotSupported event for Bucket/podinfo in:\n${events.stdout}`);
    assert.equal(rows.find((r) => r.kind === 'Kustomization' && r.name === 'apps')?.ready, 'True', 'the rest of the fleet is reconciled');
  });

  await t.test('a kind Flux does not have (Kustomisation) fails the Kustomization that builds it, as Flux apply would', () => {
    const more = rows.find((r) => r.kind === 'Kustomization' && r.name === 'more');
    assert.equal(more?.ready, 'False', JSON.stringify(more));
    assert.match(more.message, /Kustomisation\/.*\/typo: no matches for kind "Kustomisation" in version "kustomize\.toolkit\.fluxcd\.io\/v1"/);
    assert.equal(rows.find((r) => r.kind === 'Kustomisation'), undefined, 'nothing of the typo is stored');
  });
});
