/**
 * The ImagePolicy kind on real scans of the harness's docker-registry: latestRef and
 * observedPreviousRef, Flux's Ready messages, digest reflection (HEAD over the registry
 * API), spec validation, dependencies not ready, and the automations it wakes.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { registerMember } from '../../shared/reconcile/reverse-index.js';
import { getCondition } from '../../shared/state/records.js';
import { automationsTarget } from '../../shared/images/index-targets.js';
import type { ObjectKey } from '../../shared/kube/object.js';
import { testEnv } from '../harness/index.js';
import { uniqueRepo } from '../oci/helpers.js';
import { pushImage } from '../receivers/notifying-registry.js';
import { imageFixture, imagePolicy, imageRepository, type ImageFixture } from '../images/fixture.js';

let host = '';
before(async () => {
  host = (await (await testEnv()).registry()).host;
});

async function scanned(f: ImageFixture, name: string, tags: string[]): Promise<{ key: ObjectKey; image: string; repo: string }> {
  const repo = uniqueRepo(`team/${name}`);
  for (const t of tags) await pushImage(host, repo, t);
  const key = await f.define(imageRepository(name, { image: `${host}/${repo}` }));
  const res = await f.reconcile(key);
  assert.equal(res.ready, true, res.message);
  return { key, image: `${host}/${repo}`, repo };
}

describe('ImagePolicy', () => {
  test('semver picks 1.10.0 over 1.9.3; a new tag moves latestRef and keeps the previous one', async (t) => {
    const f = await imageFixture(t);
    const r = await scanned(f, 'app', ['1.9.3', '1.10.0', '1.2.0', 'latest']);
    const key = await f.define(imagePolicy('app', { imageRepositoryRef: { name: 'app' }, policy: { semver: { range: '>=1.0.0' } } }));
    const res = await f.reconcile(key);
    assert.equal(res.ready, true, res.message);
    let rec = await f.record(key);
    assert.deepEqual(rec.status.latestRef, { name: r.image, tag: '1.10.0' });
    assert.equal(rec.status.observedPreviousRef, undefined);
    assert.equal(getCondition(rec, 'Ready')?.message, `Latest image tag for ${r.image} resolved to 1.10.0`);

    await pushImage(host, r.repo, '1.11.0');
    await f.request(r.key);
    assert.equal((await f.reconcile(r.key)).ready, true);
    await f.reconcile(key);
    rec = await f.record(key);
    assert.deepEqual(rec.status.latestRef, { name: r.image, tag: '1.11.0' });
    assert.deepEqual(rec.status.observedPreviousRef, { name: r.image, tag: '1.10.0' });
    assert.equal(getCondition(rec, 'Ready')?.message, `Latest image tag for ${r.image} resolved to 1.11.0 (previously ${r.image}:1.10.0)`);
  });

  test('digestReflectionPolicy: IfNotPresent keeps the first digest, Always follows the tag', async (t) => {
    const f = await imageFixture(t);
    const r = await scanned(f, 'dig', ['1.0.0']);
    const d1 = await pushImage(host, r.repo, '1.0.0');
    const ifnp = await f.define(imagePolicy('ifnp', { imageRepositoryRef: { name: 'dig' }, policy: { semver: { range: '*' } }, digestReflectionPolicy: 'IfNotPresent' }));
    const always = await f.define(imagePolicy('always', { imageRepositoryRef: { name: 'dig' }, policy: { semver: { range: '*' } }, digestReflectionPolicy: 'Always', interval: '1m' }));
    const never = await f.define(imagePolicy('never', { imageRepositoryRef: { name: 'dig' }, policy: { semver: { range: '*' } } }));
    for (const k of [ifnp, always, never]) assert.equal((await f.reconcile(k)).ready, true);
    assert.equal(((await f.record(ifnp)).status.latestRef as { digest?: string }).digest, d1);
    assert.equal(((await f.record(always)).status.latestRef as { digest?: string }).digest, d1);
    assert.equal(((await f.record(never)).status.latestRef as { digest?: string }).digest, undefined);
    assert.equal(getCondition(await f.record(ifnp), 'Ready')?.message, `Latest image tag for ${r.image} resolved to 1.0.0 with digest ${d1}`);

    // The tag is pushed again with other content: a new digest for the same tag.
    const { createHash } = await import('node:crypto');
    const other = `${r.repo}`;
    const res = await fetch(`http://${host}/v2/${other}/manifests/1.0.0`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
    const manifest = JSON.parse(await res.text()) as Record<string, unknown>;
    const changed = Buffer.from(JSON.stringify({ ...manifest, annotations: { rebuilt: 'yes' } }));
    const put = await fetch(`http://${host}/v2/${other}/manifests/1.0.0`, { method: 'PUT', body: changed, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(put.status, 201);
    const d2 = `sha256:${createHash('sha256').update(changed).digest('hex')}`;
    assert.notEqual(d2, d1);
    await f.reconcile(ifnp);
    await f.reconcile(always);
    assert.equal(((await f.record(ifnp)).status.latestRef as { digest?: string }).digest, d1, 'IfNotPresent: kept');
    assert.equal(((await f.record(always)).status.latestRef as { digest?: string }).digest, d2, 'Always: the new digest');
    assert.equal(((await f.record(always)).status.observedPreviousRef as { digest?: string }).digest, d1);
    assert.ok((await f.record(always)).status.nextRunAt, 'Always runs again on its interval');
  });

  test('filterTags with extract and a numerical order', async (t) => {
    const f = await imageFixture(t);
    await scanned(f, 'ts', ['main-abc-1700000002', 'main-def-1700000010', 'pr-1-1800000000', 'v1']);
    const key = await f.define(
      imagePolicy('ts', { imageRepositoryRef: { name: 'ts' }, filterTags: { pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' }, policy: { numerical: { order: 'asc' } } }),
    );
    assert.equal((await f.reconcile(key)).ready, true);
    assert.equal(((await f.record(key)).status.latestRef as { tag: string }).tag, 'main-def-1700000010');
  });

  test('a tag that matches no policy: Ready=False Failure, latestRef unset, nothing woken', async (t) => {
    const f = await imageFixture(t);
    await scanned(f, 'nomatch', ['1.0.0', 'latest']);
    const key = await f.define(imagePolicy('nomatch', { imageRepositoryRef: { name: 'nomatch' }, policy: { semver: { range: '>=2.0.0' } } }));
    const res = await f.reconcile(key);
    assert.equal(res.ready, false);
    assert.equal(res.reason, 'Failure');
    assert.equal(res.message, 'unable to determine latest version from provided list');
    assert.deepEqual(res.wake, []);
    assert.equal((await f.record(key)).status.latestRef, undefined);
  });

  test('spec errors are Stalled with the CRD and controller messages', async (t) => {
    const f = await imageFixture(t);
    const cases: Array<[Record<string, unknown>, string, RegExp]> = [
      [{ imageRepositoryRef: { name: 'x' }, policy: { semver: { range: '*' } }, digestReflectionPolicy: 'Always' }, 'IntervalNotConfigured', /spec\.interval must be set when spec\.digestReflectionPolicy is set to 'Always'/],
      [{ imageRepositoryRef: { name: 'x' }, policy: { semver: { range: '*' } }, interval: '5m' }, 'InvalidSpec', /only accepted when spec\.digestReflectionPolicy is set to 'Always'/],
      [{ imageRepositoryRef: { name: 'x' }, policy: {} }, 'InvalidPolicy', /given ImagePolicyChoice object is invalid/],
    ];
    let i = 0;
    for (const [spec, reason, msg] of cases) {
      const key = await f.define(imagePolicy(`bad-${i++}`, spec));
      await f.reconcile(key);
      const rec = await f.record(key);
      assert.equal(getCondition(rec, 'Stalled')?.reason, reason);
      assert.match(getCondition(rec, 'Ready')?.message ?? '', msg);
    }
    await scanned(f, 'inv', ['1.0.0']);
    const inv = await f.define(imagePolicy('inv', { imageRepositoryRef: { name: 'inv' }, policy: { alphabetical: { order: 'sideways' } } }));
    await f.reconcile(inv);
    assert.equal(getCondition(await f.record(inv), 'Stalled')?.reason, 'InvalidPolicy');
  });

  test('dependencies not ready: a missing repository, a repository never scanned, cross-namespace without accessFrom', async (t) => {
    const f = await imageFixture(t);
    const missing = await f.define(imagePolicy('missing', { imageRepositoryRef: { name: 'nope' }, policy: { semver: { range: '*' } } }));
    const r1 = await f.reconcile(missing);
    assert.equal(r1.reason, 'DependencyNotReady');
    assert.match(r1.message, /referenced ImageRepository does not exist: imagerepositories\.image\.toolkit\.fluxcd\.io "nope" not found/);
    await f.define(imageRepository('unscanned', { image: `${host}/team/unscanned` }));
    const unscanned = await f.define(imagePolicy('unscanned', { imageRepositoryRef: { name: 'unscanned' }, policy: { semver: { range: '*' } } }));
    const r2 = await f.reconcile(unscanned);
    assert.equal(r2.reason, 'DependencyNotReady');
    assert.equal(r2.message, 'retrying in 30s error: no tags in database');
    await f.define({ ...imageRepository('elsewhere', { image: `${host}/team/x` }), metadata: { name: 'elsewhere', namespace: 'other' } });
    const cross = await f.define(imagePolicy('cross', { imageRepositoryRef: { name: 'elsewhere', namespace: 'other' }, policy: { semver: { range: '*' } } }));
    const r3 = await f.reconcile(cross);
    assert.equal(r3.reason, 'AccessDenied');
    assert.match(r3.message, /'other\/elsewhere' can't be accessed due to missing ACL labels on 'accessFrom'/);
  });

  test('a new latest image wakes the automations of the namespace that select the policy', async (t) => {
    const f = await imageFixture(t);
    await scanned(f, 'sel', ['1.0.0']);
    const automation = (name: string, policySelector?: unknown) =>
      f.define({
        apiVersion: 'image.toolkit.fluxcd.io/v1',
        kind: 'ImageUpdateAutomation',
        metadata: { name },
        spec: { interval: '5m', sourceRef: { kind: 'GitRepository', name: 'fleet' }, git: { commit: { author: { email: 'bot@example.com' } } }, ...(policySelector ? { policySelector } : {}) },
      });
    const all = await automation('all');
    const picky = await automation('picky', { matchLabels: { team: 'a' } });
    const other = await automation('other', { matchExpressions: [{ key: 'team', operator: 'In', values: ['b'] }] });
    for (const k of [all, picky, other]) await registerMember(f.state, 'SourceUsersIndex', automationsTarget(f.ns), k);
    const key = await f.define(imagePolicy('sel', { imageRepositoryRef: { name: 'sel' }, policy: { semver: { range: '*' } } }, { team: 'a' }));
    const first = await f.reconcile(key);
    assert.deepEqual(first.wake.map((w) => w.key.name).sort(), ['all', 'picky']);
    assert.deepEqual((await f.reconcile(key)).wake, [], 'unchanged latestRef: nothing to wake');
  });
});
