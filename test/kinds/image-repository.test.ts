/**
 * The ImageRepository kind against the harness's real docker-registry (and loopback fronts
 * for token auth, pagination and failing registries): scans, Flux's status and checksum,
 * the exclusion list, when a scan happens, credentials, errors, and the policies it wakes.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { registerMember } from '../../shared/reconcile/reverse-index.js';
import { getCondition } from '../../shared/state/records.js';
import { readTags, tagsRevision } from '../../shared/images/tags.js';
import { imageSourcesFor } from '../../shared/images/repository-index.js';
import { testEnv } from '../harness/index.js';
import { startFront, type Front } from '../oci/front.js';
import { dockerConfig, uniqueRepo } from '../oci/helpers.js';
import { pushImage } from '../receivers/notifying-registry.js';
import { imageFixture, imagePolicy, imageRepository } from '../images/fixture.js';

let host = '';
const closers: Array<() => Promise<void>> = [];
before(async () => {
  host = (await (await testEnv()).registry()).host;
});
after(async () => {
  for (const c of closers) await c();
});

async function front(opts: Omit<Parameters<typeof startFront>[0], 'upstream'> = {}): Promise<Front> {
  const f = await startFront({ upstream: host, ...opts });
  closers.push(() => f.close());
  return f;
}

/** A registry that answers every request with `status`. */
async function brokenRegistry(status: number): Promise<string> {
  const server = http.createServer((_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ errors: [{ code: status === 401 ? 'UNAUTHORIZED' : 'UNKNOWN', message: `test registry says ${status}` }] }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closers.push(() => new Promise<void>((r) => server.close(() => r())));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function withTags(prefix: string, tags: string[]): Promise<string> {
  const repo = uniqueRepo(prefix);
  for (const t of tags) await pushImage(host, repo, t);
  return repo;
}

describe('ImageRepository scans', () => {
  test("tags are listed, .sig excluded, stored sorted, and the status is Flux's", async (t) => {
    const f = await imageFixture(t);
    const repo = await withTags('team/app', ['1.9.3', '1.10.0', 'sha256-abc.sig', 'latest']);
    const key = await f.define(imageRepository('app', { image: `${host}/${repo}` }));
    const res = await f.reconcile(key);
    assert.equal(res.ready, true, res.message);
    const rec = await f.record(key);
    const scan = rec.status.lastScanResult as { revision: string; tagCount: number; scanTime: string; latestTags: string[] };
    const stored = await readTags(f.state, key);
    assert.deepEqual(stored?.tags, ['latest', '1.9.3', '1.10.0']);
    assert.equal(scan.tagCount, 3);
    assert.deepEqual(scan.latestTags, ['latest', '1.9.3', '1.10.0']);
    assert.equal(scan.revision, tagsRevision(['latest', '1.9.3', '1.10.0']));
    assert.match(scan.revision, /^\d+$/);
    assert.equal(rec.status.canonicalImageName, `${host}/${repo}`);
    assert.deepEqual(rec.status.observedExclusionList, ['^.*\\.sig$']);
    assert.equal(getCondition(rec, 'Ready')?.message, `successful scan: found 3 tags with checksum ${scan.revision}`);
    assert.deepEqual(await imageSourcesFor(f.state, `${host}/${repo}`), [key], 'filed in the image-source index');
  });

  test('a non-empty exclusion list replaces the default; latestTags are the 10 greatest', async (t) => {
    const f = await imageFixture(t);
    const tags = ['x.sig', 'dev-1', ...Array.from({ length: 11 }, (_, i) => `1.0.${i}`)];
    const repo = await withTags('team/many', tags);
    const key = await f.define(imageRepository('many', { image: `${host}/${repo}`, exclusionList: ['^dev-'] }));
    await f.reconcile(key);
    const scan = (await f.record(key)).status.lastScanResult as { tagCount: number; latestTags: string[] };
    assert.equal(scan.tagCount, 12);
    assert.deepEqual(scan.latestTags, ['x.sig', '1.0.9', '1.0.8', '1.0.7', '1.0.6', '1.0.5', '1.0.4', '1.0.3', '1.0.2', '1.0.10']);
  });

  test('no scan until the interval elapsed or a reconcile is requested (registry requests counted)', async (t) => {
    const f = await imageFixture(t);
    const fr = await front({});
    const repo = await withTags('team/quiet', ['1.0.0']);
    const key = await f.define(imageRepository('quiet', { image: `${fr.host}/${repo}` }));
    await f.reconcile(key);
    const after1 = fr.requests.length;
    assert.ok(after1 > 0);
    const second = await f.reconcile(key);
    assert.equal(second.ready, true);
    assert.equal(fr.requests.length, after1, 'an unchanged repository inside its interval costs no registry request');
    await pushImage(host, repo, '1.1.0');
    await f.request(key);
    const woke = await f.reconcile(key);
    assert.ok(fr.requests.length > after1, 'a reconcile request scans');
    assert.equal(((await f.record(key)).status.lastScanResult as { tagCount: number }).tagCount, 2);
    assert.ok(woke.ready);
  });

  test('Link pagination and token auth with a dockerconfigjson secretRef', async (t) => {
    const f = await imageFixture(t);
    const fr = await front({ paginate: 2, bearer: { users: { reader: 'pw' } } });
    const repo = await withTags('private/app', ['1', '2', '3', '4', '5']);
    f.secrets.set(f.ns, 'pull', dockerConfig(fr.host, 'reader', 'pw').data);
    const key = await f.define(imageRepository('private', { image: `${fr.host}/${repo}`, secretRef: { name: 'pull' } }));
    const res = await f.reconcile(key);
    assert.equal(res.ready, true, res.message);
    assert.equal(((await f.record(key)).status.lastScanResult as { tagCount: number }).tagCount, 5);
    assert.ok(fr.requests.filter((r) => r.path.includes('/tags/list')).length >= 3, 'followed the Link pages');
    assert.ok(fr.tokenRequests.length >= 1);
  });
});

describe('ImageRepository failures', () => {
  test('a registry that answers 401 or 500: Ready=False ReadOperationFailed, not retried as transient', async (t) => {
    const f = await imageFixture(t);
    for (const status of [401, 500]) {
      const h = await brokenRegistry(status);
      const key = await f.define(imageRepository(`broken-${status}`, { image: `${h}/team/app` }));
      const res = await f.reconcile(key);
      assert.equal(res.ready, false);
      assert.equal(res.reason, 'ReadOperationFailed');
      assert.equal(res.transientError, undefined);
      const rec = await f.record(key);
      const ready = getCondition(rec, 'Ready');
      assert.match(ready?.message ?? '', status === 401 ? /^scan failed: .*denied anonymously.*UNAUTHORIZED/ : /^scan failed: .*UNKNOWN: test registry says 500/);
      assert.equal(rec.status.lastScanResult, undefined);
      assert.equal(rec.events?.at(-1)?.severity, 'error');
    }
  });

  test('a missing pull secret and provider aws on a non-ECR host: AuthenticationFailed', async (t) => {
    const f = await imageFixture(t);
    const a = await f.define(imageRepository('nosecret', { image: `${host}/team/app`, secretRef: { name: 'missing' } }));
    const ra = await f.reconcile(a);
    assert.equal(ra.reason, 'AuthenticationFailed');
    assert.match(ra.message, /^failed to configure authentication options: failed to get secret 'apps\/missing'/);
    const b = await f.define(imageRepository('aws', { image: `${host}/team/app`, provider: 'aws' }));
    const rb = await f.reconcile(b);
    assert.equal(rb.reason, 'AuthenticationFailed');
    assert.match(rb.message, /failed to get credential from aws: invalid AWS registry/);
  });

  test('an image with a scheme or a tag is Stalled ImageURLInvalid with Flux messages', async (t) => {
    const f = await imageFixture(t);
    const a = await f.define(imageRepository('scheme', { image: 'https://ghcr.io/org/app' }));
    await f.reconcile(a);
    const ra = await f.record(a);
    assert.equal(getCondition(ra, 'Stalled')?.reason, 'ImageURLInvalid');
    assert.equal(getCondition(ra, 'Ready')?.message, "image 'https://ghcr.io/org/app' should not include URL scheme; remove 'https://'");
    const b = await f.define(imageRepository('tag', { image: 'ghcr.io/org/app:v1' }));
    await f.reconcile(b);
    assert.equal(getCondition(await f.record(b), 'Ready')?.message, "image 'ghcr.io/org/app:v1' should not include a tag; remove ':v1'");
    const c = await f.define(imageRepository('azure', { image: 'ghcr.io/org/app', provider: 'azure' }));
    await f.reconcile(c);
    assert.equal(getCondition(await f.record(c), 'Stalled')?.reason, 'UnsupportedField');
  });
});

describe('ImageRepository wakes its policies', () => {
  test('a changed checksum wakes the registered policies that still name it; an unchanged one wakes none', async (t) => {
    const f = await imageFixture(t);
    const repo = await withTags('team/woken', ['1.0.0']);
    const key = await f.define(imageRepository('woken', { image: `${host}/${repo}` }));
    const pol = await f.define(imagePolicy('pol', { imageRepositoryRef: { name: 'woken' }, policy: { semver: { range: '*' } } }));
    const stale = await f.define(imagePolicy('stale', { imageRepositoryRef: { name: 'other' }, policy: { semver: { range: '*' } } }));
    await registerMember(f.state, 'SourceUsersIndex', key, pol);
    await registerMember(f.state, 'SourceUsersIndex', key, stale);
    const first = await f.reconcile(key);
    assert.deepEqual(first.wake.map((w) => w.key), [pol]);
    await f.request(key);
    assert.deepEqual((await f.reconcile(key)).wake, [], 'same tags: nothing to wake');
    await pushImage(host, repo, '1.1.0');
    await f.request(key);
    assert.deepEqual((await f.reconcile(key)).wake.map((w) => w.key.name), ['pol']);
  });

  test('finalize drops the tags and the index entries', async (t) => {
    const f = await imageFixture(t);
    const repo = await withTags('team/gone', ['1.0.0']);
    const key = await f.define(imageRepository('gone', { image: `${host}/${repo}` }));
    await f.reconcile(key);
    await f.state.update(key, (cur: Record<string, unknown> | undefined) => (cur ? { ...cur, deleted: true } : undefined));
    const res = await f.reconcile(key);
    assert.equal(res.reason, 'Finalized');
    assert.equal(await readTags(f.state, key), undefined);
    assert.deepEqual(await imageSourcesFor(f.state, `${host}/${repo}`), []);
    assert.equal(await f.state.get(key), undefined);
  });
});
