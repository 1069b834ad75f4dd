/**
 * The OCIRepository kind against the harness's real docker-registry, with a real
 * FsStateStore and FsArtifactStore: new artifacts, unchanged remotes (counted requests),
 * semver, digest mismatches (a loopback front that flips a byte), stored artifacts that
 * went missing or corrupt, spec errors, credentials from a real Secret, finalize.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ArtifactCache } from '../../shared/artifacts/cache.js';
import { readArtifact } from '../../shared/artifacts/extract.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { ociRepositoryKind } from '../../shared/kinds/ocirepository/reconciler.js';
import { isKnownKind, kindByWord, kindReconciler } from '../../shared/kinds/registry.js';
import { createKubeClient, type KubeClient } from '../../shared/kube/client.js';
import type { RestMapper } from '../../shared/kube/mapper.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { createSecretReader, type SecretReader } from '../../shared/kube/secrets.js';
import { pushArtifact } from '../../shared/oci/push.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { registeredMembers } from '../../shared/reconcile/reverse-index.js';
import { registerSourceUser } from '../../shared/reconcile/source-users.js';
import { FsStateStore } from '../../shared/state/index.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { NotFoundError } from '../../shared/util/errors.js';
import { log } from '../../shared/util/log.js';
import { testEnv } from '../harness/index.js';
import { startFront, type Front } from '../oci/front.js';
import { tree, uniqueRepo } from '../oci/helpers.js';
import { TestSigstore, cosignKeyPair, legacyLayer, pushBundle, pushLegacySignatures, simpleSigningPayload, v3Bundle } from '../oci/sigstore-fixture.js';
import { RegistryClient } from '../../shared/oci/client.js';
import { parseRepository } from '../../shared/oci/reference.js';

const GIT = 'https://github.com/example/fleet';
const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const rev = (n: number) => `main@sha1:${String(n).repeat(40).slice(0, 40)}`;

let host = '';
const fronts: Front[] = [];
before(async () => {
  host = (await (await testEnv()).registry()).host;
});
after(async () => {
  for (const f of fronts) await f.close();
});

async function front(opts: Omit<Parameters<typeof startFront>[0], 'upstream'> = {}): Promise<Front> {
  const f = await startFront({ upstream: host, ...opts });
  fronts.push(f);
  return f;
}

/** Services with real stores; the cluster is not used unless `secrets` is given. */
interface Fixture {
  ns: string;
  state: FsStateStore;
  artifacts: FsArtifactStore;
  svc: ReconcileServices;
  define(name: string, spec: Record<string, unknown>, generation?: number): Promise<void>;
  reconcile(name: string): Promise<ReconcileResult>;
  record(name: string): Promise<ObjectRecord>;
}

const noCluster = new Proxy({}, { get: () => () => assert.fail('this test must not use the cluster') });
const noSecrets: SecretReader = {
  get: async (ns, name) => {
    throw new NotFoundError(`Secret '${ns}/${name}' not found`);
  },
  invalidate: () => undefined,
};

async function fixture(t: TestContext, opts: { ns?: string; secrets?: SecretReader } = {}): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-ocikind-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const artifacts = new FsArtifactStore(path.join(dir, 'artifacts'), { durable: false });
  const ns = opts.ns ?? 'apps';
  const svc: ReconcileServices = {
    state,
    artifacts,
    artifactCache: noCluster as ArtifactCache,
    client: noCluster as KubeClient,
    mapper: noCluster as RestMapper,
    secrets: opts.secrets ?? noSecrets,
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
  const key = (name: string) => ({ kind: 'OCIRepository', namespace: ns, name });
  return {
    ns,
    state,
    artifacts,
    svc,
    async define(name, spec, generation = 1) {
      const object: KubeObject = {
        apiVersion: 'source.toolkit.fluxcd.io/v1',
        kind: 'OCIRepository',
        metadata: { name, namespace: ns, generation },
        spec: { interval: '5m', ...spec },
      };
      await state.update<ObjectRecord>(key(name), (cur) => ({ status: {}, ...cur, object, origin: { by: 'bootstrap' } }));
    },
    async reconcile(name) {
      const record = (await readRecord(state, key(name)))!;
      const req = { key: key(name), record, reason: 'test', log: log.child({ test: name }) };
      return record.deleted ? ociRepositoryKind.finalize(svc, req) : ociRepositoryKind.reconcile(svc, req);
    },
    record: async (name) => (await readRecord(state, key(name)))!,
  };
}

async function publish(repo: string, tag: string, files: Record<string, string>, revision: string): Promise<string> {
  const res = await pushArtifact({ url: `oci://${host}/${repo}:${tag}`, path: tree(files), source: GIT, revision });
  return res.digest;
}

async function fileNames(a: FsArtifactStore, key: string, digest: string): Promise<string[]> {
  return [...(await readArtifact(await a.get(key, digest))).entries.keys()].sort();
}

describe('OCIRepository kind', () => {
  test('is registered with its CLI names, versions and schedule', () => {
    assert.equal(kindReconciler('OCIRepository'), ociRepositoryKind);
    for (const w of ['source oci', 'sources oci', 'oci', 'ocirepository', 'ocirepositories']) assert.equal(kindByWord(w), ociRepositoryKind, w);
    assert.deepEqual(ociRepositoryKind.versions, { served: ['v1'], removed: { v1beta2: 'v1' } });
    assert.equal(ociRepositoryKind.schedule, 'poll');
    assert.equal(ociRepositoryKind.names.source, true);
  });

  test('a new artifact: stored with its digest and metadata, Flux status and event, users woken', async (t) => {
    const f = await fixture(t);
    const repo = uniqueRepo('fluxless/kind-new');
    const manifestDigest = await publish(repo, 'v1.0.0', { 'deploy/cm.yaml': 'kind: ConfigMap\n', 'logo.png': 'x', 'README.md': '# hi\n' }, rev(1));
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { tag: 'v1.0.0' } });
    // A Kustomization that reads this source, registered as Kustomizations do.
    const user = { kind: 'Kustomization', namespace: f.ns, name: 'apps' };
    await f.state.update<ObjectRecord>(user, () => ({
      object: { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', metadata: { name: 'apps', namespace: f.ns }, spec: { sourceRef: { kind: 'OCIRepository', name: 'app' } } },
      status: {},
    }));
    await registerSourceUser(f.svc, { kind: 'OCIRepository', namespace: f.ns, name: 'app' }, user);

    const res = await f.reconcile('app');
    const revision = `v1.0.0@${manifestDigest}`;
    assert.equal(res.ready, true, res.message);
    assert.equal(res.revision, revision);
    assert.deepEqual(res.wake, [{ key: user, reason: 'source', dedupKey: revision, revision }]);

    const rec = await f.record('app');
    const a = rec.status.artifact!;
    assert.equal(a.revision, revision);
    assert.equal(a.metadata?.['org.opencontainers.image.source'], GIT);
    assert.equal(a.metadata?.['org.opencontainers.image.revision'], rev(1));
    const bytes = await f.artifacts.get(a.key, a.digest);
    assert.equal(a.digest, sha256(bytes));
    assert.equal(a.size, bytes.length);
    assert.notEqual(a.digest, manifestDigest, 'artifact.digest is the stored file, not the manifest');
    // Extracted and re-archived: the .png was left out by the push, README.md is kept.
    assert.deepEqual(await fileNames(f.artifacts, a.key, a.digest), ['README.md', 'deploy/cm.yaml']);

    const message = `stored artifact for digest '${revision}'`;
    assert.deepEqual(pick(getCondition(rec, 'Ready')), { status: 'True', reason: 'Succeeded', message });
    assert.deepEqual(pick(getCondition(rec, 'ArtifactInStorage')), { status: 'True', reason: 'Succeeded', message });
    assert.equal(getCondition(rec, 'Stalled'), undefined);
    assert.equal(rec.status.observedGeneration, 1);
    assert.equal('observedIgnore' in rec.status && rec.status.observedIgnore !== undefined, false);
    const ev = rec.events?.at(-1);
    assert.equal(ev?.reason, 'NewArtifact');
    assert.equal(ev?.message, `stored artifact with revision '${revision}' from 'oci://${host}/${repo}', origin source '${GIT}', origin revision '${rev(1)}'`);
    assert.equal(ev?.metadata?.['source.toolkit.fluxcd.io/digest'], a.digest);
    // Next poll within the interval spread by Flux's jitter (+/- 5%).
    const next = Date.parse(rec.status.nextRunAt!) - Date.parse(rec.status.lastReconciledAt!);
    assert.ok(next >= 0.95 * 300_000 && next <= 1.05 * 300_000, String(next));
    assert.equal(ociRepositoryKind.summary(rec).revision, revision);
  });

  test('an unchanged remote costs one HEAD and pulls nothing; new ignore rules or layer selector pull again', async (t) => {
    const f = await fixture(t);
    const fr = await front();
    const repo = uniqueRepo('fluxless/kind-same');
    await publish(repo, 'latest', { 'a.yaml': 'a: 1\n', 'b.md': 'b\n' }, rev(1));
    await f.define('app', { url: `oci://${fr.host}/${repo}` });
    assert.equal((await f.reconcile('app')).ready, true);
    const first = await f.record('app');
    assert.match(first.status.artifact!.revision, /^latest@sha256:[a-f0-9]{64}$/);

    fr.requests.length = 0;
    const again = await f.reconcile('app');
    assert.equal(again.ready, true);
    assert.deepEqual(again.wake, []);
    assert.deepEqual(fr.requests.map((r) => `${r.method} ${r.path}`), [`HEAD /v2/${repo}/manifests/latest`]);
    const second = await f.record('app');
    assert.deepEqual(second.status.artifact, first.status.artifact);
    assert.equal(second.events?.length, first.events?.length, 'no new event for an unchanged artifact');

    // spec.ignore changed: pulled again and rebuilt without *.md; observedIgnore recorded.
    await f.define('app', { url: `oci://${fr.host}/${repo}`, ignore: '*.md' }, 2);
    fr.requests.length = 0;
    assert.equal((await f.reconcile('app')).ready, true);
    assert.ok(fr.requests.some((r) => r.method === 'GET' && r.path.includes('/blobs/')), 'the layer was pulled');
    const third = await f.record('app');
    assert.equal(third.status.observedIgnore, '*.md');
    assert.equal(third.status.artifact!.revision, first.status.artifact!.revision);
    assert.deepEqual(await fileNames(f.artifacts, third.status.artifact!.key, third.status.artifact!.digest), ['a.yaml']);

    // layerSelector copy: the stored bytes are the registry's layer, byte for byte.
    await f.define('app', { url: `oci://${fr.host}/${repo}`, ignore: '*.md', layerSelector: { mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', operation: 'copy' } }, 3);
    assert.equal((await f.reconcile('app')).ready, true);
    const fourth = await f.record('app');
    assert.deepEqual(fourth.status.observedLayerSelector, { mediaType: 'application/vnd.cncf.flux.content.v1.tar+gzip', operation: 'copy' });
    const manifest = (await (await fetch(`http://${host}/v2/${repo}/manifests/latest`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string }[] };
    assert.equal(fourth.status.artifact!.digest, manifest.layers[0]!.digest);
    // Artifacts kept: the last 2.
    assert.equal((await f.artifacts.list({ kind: 'OCIRepository', namespace: f.ns, name: 'app' })).length, 2);
  });

  test('semver: the highest matching tag; a new tag is a new artifact, prereleases are skipped', async (t) => {
    const f = await fixture(t);
    const repo = uniqueRepo('fluxless/kind-semver');
    await publish(repo, '1.0.0', { 'v.yaml': 'v: 1.0.0\n' }, rev(1));
    await publish(repo, 'v0.9.0', { 'v.yaml': 'v: 0.9.0\n' }, rev(2));
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { semver: '>=1.0.0' } });
    assert.equal((await f.reconcile('app')).ready, true);
    assert.match((await f.record('app')).status.artifact!.revision, /^1\.0\.0@sha256:/);

    const d11 = await publish(repo, 'v1.1.0', { 'v.yaml': 'v: 1.1.0\n' }, rev(3));
    await publish(repo, '2.0.0-rc.1', { 'v.yaml': 'v: 2.0.0-rc.1\n' }, rev(4));
    const res = await f.reconcile('app');
    assert.equal(res.revision, `v1.1.0@${d11}`);
    const rec = await f.record('app');
    assert.equal(rec.status.artifact!.metadata?.['org.opencontainers.image.revision'], rev(3));
    const data = (await readArtifact(await f.artifacts.get(rec.status.artifact!.key, rec.status.artifact!.digest))).entries.get('v.yaml')!.data.toString();
    assert.equal(data, 'v: 1.1.0\n');
    const newArtifacts = rec.events?.filter((e) => e.reason === 'NewArtifact').map((e) => e.revision ?? '') ?? [];
    assert.equal(newArtifacts.length, 2);
    assert.match(newArtifacts[0]!, /^1\.0\.0@sha256:/);
    assert.equal(newArtifacts[1], `v1.1.0@${d11}`);

    // A third revision: only the last 2 artifacts are kept.
    await publish(repo, '1.2.0', { 'v.yaml': 'v: 1.2.0\n' }, rev(5));
    assert.match((await f.reconcile('app')).revision!, /^1\.2\.0@/);
    const kept = await f.artifacts.list({ kind: 'OCIRepository', namespace: f.ns, name: 'app' });
    assert.deepEqual(kept.map((k) => k.revision.split('@')[0]), ['1.2.0', 'v1.1.0']);

    // No tag in range: ReadOperationFailed, the last artifact kept.
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { semver: '>=3.0.0' } }, 2);
    const none = await f.reconcile('app');
    assert.equal(none.ready, false);
    const failed = await f.record('app');
    assert.deepEqual(pick(getCondition(failed, 'Ready')), {
      status: 'False',
      reason: 'ReadOperationFailed',
      message: `failed to determine the artifact tag for 'oci://${host}/${repo}': no match found for semver: >=3.0.0`,
    });
    assert.equal(getCondition(failed, 'FetchFailed')?.reason, 'ReadOperationFailed');
    assert.equal(getCondition(failed, 'ArtifactInStorage')?.status, 'True', 'the last artifact is still stored');
    assert.match(failed.status.artifact!.revision, /^1\.2\.0@/);
  });

  test('a digest mismatch is refused: nothing stored, the last good artifact kept', async (t) => {
    const f = await fixture(t);
    const repo = uniqueRepo('fluxless/kind-mismatch');
    await publish(repo, 'v1', { 'a.yaml': 'a: 1\n' }, rev(1));
    const bad = await front({ corruptBlobs: true });

    // From scratch through the corrupting front: nothing is stored.
    await f.define('fresh', { url: `oci://${bad.host}/${repo}`, ref: { tag: 'v1' } });
    const res = await f.reconcile('fresh');
    assert.equal(res.ready, false);
    const fresh = await f.record('fresh');
    assert.equal(getCondition(fresh, 'Ready')?.reason, 'OCIArtifactLayerOperationFailed');
    assert.match(getCondition(fresh, 'Ready')!.message, /^failed to extract layer contents from artifact: .*digest mismatch/);
    assert.equal(getCondition(fresh, 'FetchFailed')?.status, 'True');
    assert.equal(getCondition(fresh, 'Stalled'), undefined, 'a registry fault is retried, not stalled');
    assert.equal(fresh.status.artifact, undefined);
    assert.deepEqual(await f.artifacts.list({ kind: 'OCIRepository', namespace: f.ns, name: 'fresh' }), []);
    assert.equal(fresh.events?.at(-1)?.severity, 'error');

    // A good artifact first, then a new push read through the corrupting front: refused, the good one kept.
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { tag: 'v1' } });
    assert.equal((await f.reconcile('app')).ready, true);
    const good = (await f.record('app')).status.artifact!;
    await publish(repo, 'v1', { 'a.yaml': 'a: 2\n' }, rev(2));
    await f.define('app', { url: `oci://${bad.host}/${repo}`, ref: { tag: 'v1' } }, 2);
    const refused = await f.reconcile('app');
    assert.equal(refused.ready, false);
    assert.deepEqual(refused.wake, []);
    const rec = await f.record('app');
    assert.deepEqual(rec.status.artifact, good);
    assert.equal(getCondition(rec, 'ArtifactInStorage')?.status, 'True');
    assert.equal(getCondition(rec, 'Ready')?.reason, 'OCIArtifactLayerOperationFailed');
    assert.ok(await f.artifacts.get(good.key, good.digest));

    // Back on the real registry: recovered, the new content stored.
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { tag: 'v1' } }, 3);
    assert.equal((await f.reconcile('app')).ready, true);
    const recovered = await f.record('app');
    assert.equal(getCondition(recovered, 'FetchFailed'), undefined);
    assert.equal(recovered.status.artifact!.metadata?.['org.opencontainers.image.revision'], rev(2));
  });

  test('a stored artifact that went missing or corrupt is rebuilt from the registry', async (t) => {
    const f = await fixture(t);
    const fr = await front();
    const repo = uniqueRepo('fluxless/kind-rebuild');
    await publish(repo, 'v1', { 'a.yaml': 'a: 1\n' }, rev(1));
    await f.define('app', { url: `oci://${fr.host}/${repo}`, ref: { tag: 'v1' } });
    assert.equal((await f.reconcile('app')).ready, true);
    const a = (await f.record('app')).status.artifact!;
    const file = f.artifacts.pathFor(a.key);

    // Corrupt: a byte flipped on disk.
    const bytes = await readFile(file);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    await writeFile(file, bytes);
    fr.requests.length = 0;
    assert.equal((await f.reconcile('app')).ready, true);
    assert.ok(fr.requests.some((r) => r.method === 'GET' && r.path.includes('/blobs/')), 'pulled again');
    const rec = await f.record('app');
    assert.equal(rec.status.artifact!.digest, a.digest, 'the same content gives the same artifact');
    assert.ok(await f.artifacts.get(a.key, a.digest), 'the stored artifact reads back verified');
    assert.ok(rec.events?.some((e) => e.reason === 'ArtifactVerificationFailed' && /failed to verify integrity of artifact: .*digest mismatch/.test(e.message)));

    // Missing: the file deleted.
    await unlink(file);
    assert.equal((await f.reconcile('app')).ready, true);
    assert.ok(await f.artifacts.get(a.key, a.digest));
    assert.equal(getCondition(await f.record('app'), 'Ready')?.status, 'True');

    // Corrupt again, and the rebuild's pull is corrupted too (same revision through a corrupting
    // front): the bad artifact is dropped from the status, as Flux does; a registry fault is the
    // object's business, not a transient error to redeliver.
    const bad = await front({ corruptBlobs: true });
    await f.define('app', { url: `oci://${bad.host}/${repo}`, ref: { tag: 'v1' } }, 2);
    await writeFile(file, bytes);
    const res = await f.reconcile('app');
    assert.equal(res.ready, false);
    assert.equal(res.transientError, undefined);
    const dropped = await f.record('app');
    assert.equal(dropped.status.artifact, undefined);
    assert.equal(getCondition(dropped, 'ArtifactInStorage'), undefined);
    assert.equal(getCondition(dropped, 'Ready')?.reason, 'OCIArtifactLayerOperationFailed');
    await assert.rejects(f.artifacts.get(a.key, a.digest), /not found/, 'the corrupt file was removed');
  });

  test('spec errors are Stalled with Flux reasons and fetch nothing; provider aws needs an ECR host', async (t) => {
    const f = await fixture(t);
    const fr = await front();
    const repo = uniqueRepo('fluxless/kind-spec');
    const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
      ['tagged', { url: `oci://${fr.host}/${repo}:v1` }, 'URLInvalid', /URL validation failed for 'oci:\/\/.*:v1': URL must not contain a tag; remove ':v1'/],
      ['http', { url: `https://${fr.host}/${repo}` }, 'URLInvalid', /URL must be in format 'oci:\/\/<domain>\/<org>\/<repo>'/],
      ['notation', { url: `oci://${fr.host}/${repo}`, verify: { provider: 'notation', secretRef: { name: 'trust' } } }, 'VerificationError', /spec\.verify\.provider 'notation' is not supported by Fluxless yet/],
      ['typo', { url: `oci://${fr.host}/${repo}`, refs: { tag: 'v1' } }, 'InvalidSpec', /spec\.refs is not an OCIRepository field/],
    ];
    for (const [name, spec, reason, message] of cases) {
      await f.define(name, spec);
      const res = await f.reconcile(name);
      assert.equal(res.ready, false, name);
      const rec = await f.record(name);
      assert.equal(getCondition(rec, 'Ready')?.reason, reason, name);
      assert.match(getCondition(rec, 'Ready')!.message, message, name);
      assert.deepEqual(pick(getCondition(rec, 'Stalled')), { status: 'True', reason, message: getCondition(rec, 'Ready')!.message }, name);
      assert.equal(rec.status.artifact, undefined, name);
    }
    assert.equal(getCondition(await f.record('tagged'), 'FetchFailed')?.reason, 'URLInvalid');
    assert.deepEqual(fr.requests, [], 'nothing was asked of the registry');

    await f.define('aws', { url: `oci://${fr.host}/${repo}`, provider: 'aws' });
    await f.reconcile('aws');
    const aws = await f.record('aws');
    assert.equal(getCondition(aws, 'Ready')?.reason, 'AuthenticationFailed');
    assert.match(getCondition(aws, 'Ready')!.message, /^failed to get credential from aws: invalid AWS registry: '127\.0\.0\.1:\d+'/);
    assert.equal(getCondition(aws, 'Stalled'), undefined);
    assert.deepEqual(fr.requests, []);

    // Suspended: nothing runs, the status is left alone.
    await f.define('off', { url: `oci://${fr.host}/${repo}`, suspend: true });
    const off = await f.reconcile('off');
    assert.equal(off.reason, 'Suspended');
    assert.deepEqual((await f.record('off')).status, {});
    assert.deepEqual(fr.requests, []);
  });

  test('secretRef: a dockerconfigjson Secret from the cluster authenticates; a missing one is AuthenticationFailed', async (t) => {
    const env = await testEnv();
    const ns = await env.namespace(t, 'oci');
    const client = createKubeClient((await env.cluster()).kubeConfig());
    t.after(() => client.close());
    const f = await fixture(t, { ns, secrets: createSecretReader(client, { ttlMs: 0 }) });
    const fr = await front({ bearer: { users: { puller: 'pull-pass' } } });
    const repo = uniqueRepo('fluxless/kind-auth');
    await publish(repo, 'v1', { 'a.yaml': 'a: 1\n' }, rev(1));

    await f.define('app', { url: `oci://${fr.host}/${repo}`, ref: { tag: 'v1' }, secretRef: { name: 'regcred' } });
    await f.reconcile('app');
    const missing = await f.record('app');
    assert.deepEqual(pick(getCondition(missing, 'Ready')), { status: 'False', reason: 'AuthenticationFailed', message: `failed to get credential: Secret '${ns}/regcred' not found` });
    assert.equal(getCondition(missing, 'FetchFailed')?.reason, 'AuthenticationFailed');

    const dockerconfig = JSON.stringify({ auths: { [fr.host]: { auth: Buffer.from('puller:pull-pass').toString('base64') } } });
    await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, {
      body: { metadata: { name: 'regcred' }, type: 'kubernetes.io/dockerconfigjson', stringData: { '.dockerconfigjson': dockerconfig } },
    });
    const res = await f.reconcile('app');
    assert.equal(res.ready, true, res.message);
    const rec = await f.record('app');
    assert.equal(getCondition(rec, 'FetchFailed'), undefined);
    // The first artifact (NewArtifact), pulled with the Secret's user at the token server.
    assert.equal(rec.events?.at(-1)?.reason, 'NewArtifact');
    assert.ok(fr.tokenRequests.some((r) => r.authorization === `Basic ${Buffer.from('puller:pull-pass').toString('base64')}`));
    // The password never shows in the status or events.
    assert.doesNotMatch(JSON.stringify(rec), /pull-pass/);
  });

  test('spec.verify with cosign keys: verified before the pull, once per revision; an unsigned new revision is refused and the last artifact kept', async (t) => {
    const signer = cosignKeyPair();
    const secretData: Record<string, Record<string, string>> = { 'cosign-keys': { 'old.pub': cosignKeyPair().publicPem, 'release.pub': signer.publicPem, 'README': 'not a key' } };
    const secrets: SecretReader = {
      get: async (ns, name) => secretData[name] ?? assert.fail(`unexpected Secret ${ns}/${name}`),
      invalidate: () => undefined,
    };
    const f = await fixture(t, { secrets });
    const fr = await front();
    const repo = uniqueRepo('fluxless/kind-verify');
    const d1 = await publish(repo, 'latest', { 'a.yaml': 'a: 1\n' }, rev(1));
    const name = `${fr.host}/${repo}`;
    await pushLegacySignatures(parseRepository(`${host}/${repo}`), d1, [legacyLayer(simpleSigningPayload(name, d1), signer.privateKey)]);
    await f.define('app', { url: `oci://${name}`, verify: { provider: 'cosign', secretRef: { name: 'cosign-keys' } } });

    const res = await f.reconcile('app');
    assert.equal(res.ready, true, res.message);
    const rec = await f.record('app');
    const revision = `latest@${d1}`;
    assert.deepEqual(pick(getCondition(rec, 'SourceVerified')), { status: 'True', reason: 'Succeeded', message: `verified signature of revision ${revision}` });
    assert.equal(rec.status.artifact?.revision, revision);

    // Unchanged: not verified again (one HEAD, no signature reads).
    fr.requests.length = 0;
    assert.equal((await f.reconcile('app')).ready, true);
    assert.deepEqual(fr.requests.map((r) => `${r.method} ${r.path}`), [`HEAD /v2/${repo}/manifests/latest`]);

    // A new revision without a signature: VerificationError, nothing pulled, the verified artifact kept.
    const d2 = await publish(repo, 'latest', { 'a.yaml': 'a: 2\n' }, rev(2));
    fr.requests.length = 0;
    const bad = await f.reconcile('app');
    assert.equal(bad.ready, false);
    const after = await f.record('app');
    const message = getCondition(after, 'Ready')!.message;
    assert.equal(getCondition(after, 'Ready')?.reason, 'VerificationError');
    assert.match(message, new RegExp(`^failed to verify the signature using provider 'cosign': no matching signatures were found for '${name}@${d2}'`));
    assert.deepEqual(pick(getCondition(after, 'SourceVerified')), { status: 'False', reason: 'VerificationError', message });
    assert.equal(getCondition(after, 'Stalled'), undefined, 'retried on the interval');
    assert.equal(getCondition(after, 'FetchFailed'), undefined);
    assert.equal(after.status.artifact?.revision, revision, 'the last verified artifact is kept');
    assert.ok(!fr.requests.some((r) => r.path.includes('/blobs/')), 'no layer was pulled');
    assert.equal(after.events?.at(-1)?.reason, 'VerificationError');

    // Signed afterwards: the next reconcile verifies and pulls it.
    await pushLegacySignatures(parseRepository(`${host}/${repo}`), d2, [legacyLayer(simpleSigningPayload(name, d2), signer.privateKey)]);
    assert.equal((await f.reconcile('app')).ready, true);
    const good = await f.record('app');
    assert.equal(good.status.artifact?.revision, `latest@${d2}`);
    assert.equal(getCondition(good, 'SourceVerified')?.status, 'True');

    // verify removed: the condition goes away.
    await f.define('app', { url: `oci://${name}` }, 2);
    assert.equal((await f.reconcile('app')).ready, true);
    assert.equal(getCondition(await f.record('app'), 'SourceVerified'), undefined);
  });

  test('spec.verify keyless with a trustedRootSecretRef: the identity must match matchOIDCIdentity', async (t) => {
    const sigstore = new TestSigstore();
    const secrets: SecretReader = {
      get: async (_ns, n) => (n === 'sigstore-root' ? { 'trusted_root.json': sigstore.trustedRoot() } : assert.fail(`unexpected Secret ${n}`)),
      invalidate: () => undefined,
    };
    const f = await fixture(t, { secrets });
    const repo = uniqueRepo('fluxless/kind-keyless');
    const digest = await publish(repo, 'v1', { 'a.yaml': 'a: 1\n' }, rev(1));
    const name = `${host}/${repo}`;
    const id = { issuer: 'https://token.actions.githubusercontent.com', subject: 'https://github.com/example/fleet/.github/workflows/release.yaml@refs/heads/main' };
    const { cert, key } = sigstore.issue(id);
    await pushBundle(parseRepository(name), digest, v3Bundle(name, digest, key, { cert, sigstore }), (await new RegistryClient().getManifest({ ...parseRepository(name), digest })).bytes.length);
    const verify = (subject: string) => ({ provider: 'cosign', trustedRootSecretRef: { name: 'sigstore-root' }, matchOIDCIdentity: [{ issuer: '^https://token.actions.githubusercontent.com$', subject }] });

    await f.define('other', { url: `oci://${name}`, ref: { tag: 'v1' }, verify: verify('^https://github.com/someone/.*$') });
    assert.equal((await f.reconcile('other')).ready, false);
    const refused = await f.record('other');
    assert.match(getCondition(refused, 'Ready')!.message, /^failed to verify the signature using provider 'cosign keyless': no matching signatures were found .*matches no spec\.verify\.matchOIDCIdentity entry/);
    assert.equal(refused.status.artifact, undefined, 'nothing stored');

    await f.define('app', { url: `oci://${name}`, ref: { tag: 'v1' }, verify: verify('^https://github.com/example/fleet/.*@refs/heads/main$') });
    const res = await f.reconcile('app');
    assert.equal(res.ready, true, res.message);
    assert.equal(getCondition(await f.record('app'), 'SourceVerified')?.message, `verified signature of revision v1@${digest}`);
  });

  test('finalize deletes the artifacts, the record and the users index', async (t) => {
    const f = await fixture(t);
    const repo = uniqueRepo('fluxless/kind-final');
    await publish(repo, 'v1', { 'a.yaml': 'a: 1\n' }, rev(1));
    await f.define('app', { url: `oci://${host}/${repo}`, ref: { tag: 'v1' } });
    assert.equal((await f.reconcile('app')).ready, true);
    const key = { kind: 'OCIRepository', namespace: f.ns, name: 'app' };
    await registerSourceUser(f.svc, key, { kind: 'Kustomization', namespace: f.ns, name: 'apps' });
    await f.state.update<ObjectRecord>(key, (cur) => (cur ? { ...cur, deleted: true } : undefined));
    const res = await f.reconcile('app');
    assert.equal(res.reason, 'Finalized');
    assert.equal(await readRecord(f.state, key), undefined);
    assert.deepEqual(await f.artifacts.list(key), []);
    assert.deepEqual(await registeredMembers(f.state, 'SourceUsersIndex', key), []);
  });
});

function pick(c: { status: string; reason: string; message: string } | undefined): { status: string; reason: string; message: string } | undefined {
  return c ? { status: c.status, reason: c.reason, message: c.message } : undefined;
}
