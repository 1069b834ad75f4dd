/**
 * The ArtifactGenerator and ExternalArtifact kinds with a real FsStateStore, FsArtifactStore
 * and ArtifactCache (no cluster): splitting a monorepo so an untouched part keeps its
 * digest and its users sleep, `revision: @alias`, source-watcher's copy semantics (globs,
 * `dir/**`, directories, excludes, Merge, Extract), `pathPattern` discovery and its
 * terminal errors, drift repair, removed outputs and finalize.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { ArtifactCache } from '../../shared/artifacts/cache.js';
import { readArtifact } from '../../shared/artifacts/extract.js';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { artifactGeneratorKind, generatorId, inventoryOf } from '../../shared/kinds/artifactgenerator/reconciler.js';
import { externalArtifactKind } from '../../shared/kinds/externalartifact/reconciler.js';
import { isKnownKind, kindByWord, kindReconciler } from '../../shared/kinds/registry.js';
import type { KubeClient } from '../../shared/kube/client.js';
import type { KubeObject, ObjectKey } from '../../shared/kube/object.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { registerSourceUser } from '../../shared/reconcile/source-users.js';
import { FsStateStore } from '../../shared/state/index.js';
import { getCondition, readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { log } from '../../shared/util/log.js';

const NO_CLUSTER: KubeClient = {
  server: 'none',
  requestCount: 0,
  request: () => Promise.reject(new Error('the cluster is not used by these tests')),
  close: () => undefined,
};

interface Fixture {
  ns: string;
  state: FsStateStore;
  artifacts: FsArtifactStore;
  svc: ReconcileServices;
  /** Publishes `files` as GitRepository <ns>/<name>'s artifact at `revision`. */
  publish(files: Record<string, string | Buffer>, revision: string, name?: string): Promise<void>;
  generator(spec: Record<string, unknown>, generation?: number, annotations?: Record<string, string>): Promise<void>;
  reconcile(): Promise<ReconcileResult>;
  ea(name: string): Promise<ObjectRecord | undefined>;
  /** The files of ExternalArtifact <name>'s stored artifact. */
  files(name: string): Promise<Record<string, string>>;
  /** A Kustomization reading ExternalArtifact <ea>, registered as its user. */
  user(name: string, ea: string): Promise<ObjectKey>;
  /** Runs the kind of each woken object that is being finalized (as the worker would). */
  finalizeWoken(res: ReconcileResult): Promise<void>;
}

const rev = (n: number) => `main@sha1:${String(n).repeat(40).slice(0, 40)}`;

async function fixture(t: TestContext): Promise<Fixture> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-ag-'));
  const state = new FsStateStore(path.join(dir, 'state'), { durable: false });
  const artifacts = new FsArtifactStore(path.join(dir, 'artifacts'));
  const cache = new ArtifactCache({ fetch: (a) => artifacts.get(a.key, a.digest) });
  t.after(async () => {
    await cache.close();
    await rm(dir, { recursive: true, force: true });
  });
  const svc: ReconcileServices = {
    state,
    artifacts,
    artifactCache: cache,
    client: NO_CLUSTER,
    mapper: new RestMapper(NO_CLUSTER),
    secrets: { get: () => Promise.reject(new Error('no secrets here')) } as unknown as ReconcileServices['secrets'],
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
  const ns = 'flux-system';
  const key: ObjectKey = { kind: 'ArtifactGenerator', namespace: ns, name: 'gen' };
  let n = 0;
  const f: Fixture = {
    ns,
    state,
    artifacts,
    svc,
    async publish(files, revision, name = 'mono') {
      const src = path.join(dir, `src-${n++}`);
      for (const [p, content] of Object.entries(files)) {
        await mkdir(path.dirname(path.join(src, p)), { recursive: true });
        await writeFile(path.join(src, p), content);
      }
      const art = await buildArtifact(src);
      const ref = { kind: 'GitRepository', namespace: ns, name };
      const stored = await artifacts.put(ref, revision, art.tarGz);
      await state.update<ObjectRecord>(ref, (cur) => ({
        object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name, namespace: ns, generation: 1 }, spec: { url: 'https://example.invalid/x.git', interval: '1m' } },
        ...cur,
        status: { ...(cur?.status ?? {}), artifact: { revision, digest: stored.digest, key: stored.key, size: stored.size, lastUpdateTime: stored.lastUpdateTime, url: stored.url } },
      }));
    },
    async generator(spec, generation = 1, annotations) {
      const obj: KubeObject = {
        apiVersion: 'source.extensions.fluxcd.io/v1beta1',
        kind: 'ArtifactGenerator',
        metadata: { name: 'gen', namespace: ns, generation, ...(annotations ? { annotations } : {}) },
        spec,
      };
      await state.update<ObjectRecord>(key, (cur) => ({ status: {}, ...cur, object: obj, origin: { by: 'Kustomization', namespace: ns, name: 'flux-system' } }));
    },
    async reconcile() {
      const record = (await readRecord(state, key))!;
      const req = { key, record, reason: 'test', log: log.child({ test: 'ag' }) };
      return record.deleted ? artifactGeneratorKind.finalize(svc, req) : artifactGeneratorKind.reconcile(svc, req);
    },
    ea: (name) => readRecord(state, { kind: 'ExternalArtifact', namespace: ns, name }),
    async files(name) {
      const rec = await f.ea(name);
      const a = rec!.status.artifact!;
      const contents = await readArtifact(await artifacts.get(a.key, a.digest));
      const out: Record<string, string> = {};
      for (const [p, e] of contents.entries) out[p] = e.data.toString('utf8');
      return out;
    },
    async user(name, ea) {
      const k = { kind: 'Kustomization', namespace: ns, name };
      await state.put<ObjectRecord>(k, {
        object: {
          apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
          kind: 'Kustomization',
          metadata: { name, namespace: ns, generation: 1 },
          spec: { interval: '1h', prune: true, sourceRef: { kind: 'ExternalArtifact', name: ea } },
        },
        status: {},
      });
      await registerSourceUser(svc, { kind: 'ExternalArtifact', namespace: ns, name: ea }, k);
      return k;
    },
    async finalizeWoken(res) {
      for (const w of res.wake) {
        const record = await readRecord(state, w.key);
        if (!record?.deleted) continue;
        await kindReconciler(w.key.kind)!.finalize(svc, { key: w.key, record, reason: 'finalize', log });
      }
    },
  };
  return f;
}

const FLUX_EXAMPLE = {
  sources: [{ alias: 'monorepo', kind: 'GitRepository', name: 'mono' }],
  artifacts: [
    { name: 'infrastructure', originRevision: '@monorepo', copy: [{ from: '@monorepo/infrastructure/**', to: '@artifact/' }] },
    {
      name: 'apps',
      originRevision: '@monorepo',
      copy: [
        { from: '@monorepo/apps/base/**', to: '@artifact/base/' },
        { from: '@monorepo/apps/staging/**', to: '@artifact/staging/' },
      ],
    },
  ],
};

const MONO = {
  'apps/base/podinfo/kustomization.yaml': 'resources: [deploy.yaml]\n',
  'apps/base/podinfo/deploy.yaml': 'kind: Deployment\n',
  'apps/staging/kustomization.yaml': 'resources: [../base/podinfo]\n',
  'apps/production/kustomization.yaml': 'resources: [../base/podinfo]\n',
  'infrastructure/controllers/kustomization.yaml': 'resources: [cert-manager.yaml]\n',
  'infrastructure/controllers/cert-manager.yaml': 'kind: Namespace\n',
  'infrastructure/configs/kustomization.yaml': 'resources: [issuers.yaml]\n',
  'infrastructure/configs/issuers.yaml': 'kind: ClusterIssuer\n',
  'clusters/staging/apps.yaml': 'kind: Kustomization\n',
};

describe('ArtifactGenerator: splitting a repository', () => {
  test("Flux's example split: each part its own ExternalArtifact; a change to apps/ wakes only the apps users", async (t) => {
    const f = await fixture(t);
    await f.publish(MONO, rev(1));
    await f.generator(FLUX_EXAMPLE);
    const appsUser = await f.user('apps', 'apps');
    const infraUser = await f.user('infra-controllers', 'infrastructure');
    const first = await f.reconcile();
    assert.equal(first.ready, true, first.message);
    assert.equal(first.message, 'reconciliation succeeded, generated 2 artifact(s)');
    assert.deepEqual(first.wake.map((w) => w.key.name).sort(), ['apps', 'infra-controllers']);

    assert.deepEqual(Object.keys(await f.files('infrastructure')).sort(), [
      'configs/issuers.yaml',
      'configs/kustomization.yaml',
      'controllers/cert-manager.yaml',
      'controllers/kustomization.yaml',
    ]);
    assert.deepEqual(Object.keys(await f.files('apps')).sort(), ['base/podinfo/deploy.yaml', 'base/podinfo/kustomization.yaml', 'staging/kustomization.yaml']);

    const infra1 = await f.ea('infrastructure');
    const apps1 = await f.ea('apps');
    const a1 = apps1!.status.artifact!;
    assert.equal(a1.revision, `latest@${a1.digest}`);
    assert.equal(a1.metadata?.['org.opencontainers.image.revision'], rev(1));
    assert.equal(infra1?.origin?.by, 'ArtifactGenerator');
    assert.deepEqual(infra1?.object?.spec, { sourceRef: { apiVersion: 'source.extensions.fluxcd.io/v1beta1', kind: 'ArtifactGenerator', name: 'gen', namespace: f.ns } });
    assert.equal(infra1?.object?.metadata.labels?.['source.extensions.fluxcd.io/generator'], generatorId(f.ns, 'gen'));
    assert.equal(getCondition(infra1, 'Ready')?.message, 'Artifact is ready');
    const gen = await f.state.get<ObjectRecord>({ kind: 'ArtifactGenerator', namespace: f.ns, name: 'gen' });
    assert.deepEqual(
      inventoryOf(gen?.value).map((r) => [r.name, r.digest]),
      [
        ['infrastructure', infra1!.status.artifact!.digest],
        ['apps', a1.digest],
      ],
    );
    assert.match(String(gen?.value.status.observedSourcesDigest), /^sha256:[0-9a-f]{64}$/);

    // A commit that touches apps/ only.
    await f.publish({ ...MONO, 'apps/base/podinfo/deploy.yaml': 'kind: Deployment\nspec: {}\n' }, rev(2));
    const second = await f.reconcile();
    assert.equal(second.ready, true, second.message);
    assert.deepEqual(second.wake.map((w) => w.key), [appsUser], 'only the users of the changed part are woken');
    const infra2 = await f.ea('infrastructure');
    const apps2 = await f.ea('apps');
    assert.equal(infra2!.status.artifact!.revision, infra1!.status.artifact!.revision, 'untouched part: same revision');
    assert.equal(infra2!.status.artifact!.digest, infra1!.status.artifact!.digest);
    assert.equal(infra2!.status.artifact!.metadata?.['org.opencontainers.image.revision'], rev(2), 'origin revision follows the source');
    assert.notEqual(apps2!.status.artifact!.digest, a1.digest);
    assert.equal((await f.files('apps'))['base/podinfo/deploy.yaml'], 'kind: Deployment\nspec: {}\n');

    // A commit outside both parts: nothing is woken.
    await f.publish({ ...MONO, 'apps/base/podinfo/deploy.yaml': 'kind: Deployment\nspec: {}\n', 'clusters/staging/apps.yaml': 'kind: Kustomization # changed\n' }, rev(3));
    const third = await f.reconcile();
    assert.deepEqual(third.wake, []);
    assert.ok(infraUser);
  });

  test('revision: @alias makes every source commit a new revision for that output', async (t) => {
    const f = await fixture(t);
    await f.publish(MONO, rev(1));
    await f.generator({
      sources: [{ alias: 'mono', kind: 'GitRepository', name: 'mono' }],
      artifacts: [
        { name: 'pinned', revision: '@mono', copy: [{ from: '@mono/infrastructure/**', to: '@artifact/' }] },
        { name: 'content', copy: [{ from: '@mono/infrastructure/**', to: '@artifact/' }] },
      ],
    });
    const users = [await f.user('a', 'pinned'), await f.user('b', 'content')];
    await f.reconcile();
    assert.equal((await f.ea('pinned'))!.status.artifact!.revision, rev(1));
    await f.publish({ ...MONO, 'apps/staging/kustomization.yaml': 'resources: []\n' }, rev(2));
    const res = await f.reconcile();
    assert.equal((await f.ea('pinned'))!.status.artifact!.revision, rev(2));
    assert.deepEqual(res.wake.map((w) => w.key), [users[0]]);
    assert.equal((await f.ea('pinned'))!.status.artifact!.digest, (await f.ea('content'))!.status.artifact!.digest);
  });

  test('no drift: an unchanged generator is not rebuilt; a deleted ExternalArtifact or a lost artifact file is repaired', async (t) => {
    const f = await fixture(t);
    await f.publish(MONO, rev(1));
    await f.generator(FLUX_EXAMPLE);
    await f.reconcile();
    const before = await f.ea('apps');
    const again = await f.reconcile();
    assert.equal(again.ready, true);
    const after = await f.ea('apps');
    assert.equal(after?.status.lastReconciledAt, before?.status.lastReconciledAt, 'the ExternalArtifact was not rewritten');

    // Someone deletes the ExternalArtifact record: rebuilt.
    await f.state.delete({ kind: 'ExternalArtifact', namespace: f.ns, name: 'apps' });
    assert.equal((await f.reconcile()).ready, true);
    assert.equal((await f.ea('apps'))?.status.artifact?.digest, before?.status.artifact?.digest);

    // The stored file goes missing: stored again.
    const a = (await f.ea('infrastructure'))!.status.artifact!;
    await unlink(path.join(f.artifacts.rootDir, a.key));
    assert.equal((await f.reconcile()).ready, true);
    assert.ok(await f.artifacts.get(a.key, a.digest));
  });

  test('an output removed from the spec is deleted with its artifacts; finalizing the generator removes the rest', async (t) => {
    const f = await fixture(t);
    await f.publish(MONO, rev(1));
    await f.generator(FLUX_EXAMPLE);
    await f.reconcile();
    const infraKey = (await f.ea('infrastructure'))!.status.artifact!.key;
    await f.generator({ ...FLUX_EXAMPLE, artifacts: [FLUX_EXAMPLE.artifacts[1]] }, 2);
    const res = await f.reconcile();
    assert.equal(res.message, 'reconciliation succeeded, generated 1 artifact(s)');
    assert.equal((await f.ea('infrastructure'))?.deleted, true);
    await f.finalizeWoken(res);
    assert.equal(await f.ea('infrastructure'), undefined);
    await assert.rejects(f.artifacts.get(infraKey), /not found/);

    await f.state.update<ObjectRecord>({ kind: 'ArtifactGenerator', namespace: f.ns, name: 'gen' }, (cur) => (cur ? { ...cur, deleted: true } : undefined));
    const fin = await f.reconcile();
    assert.equal(fin.reason, 'Finalized');
    await f.finalizeWoken(fin);
    assert.equal(await f.ea('apps'), undefined);
    assert.equal(await readRecord(f.state, { kind: 'ArtifactGenerator', namespace: f.ns, name: 'gen' }), undefined);
  });
});

describe('ArtifactGenerator: copy operations (source-watcher semantics)', () => {
  async function generate(t: TestContext, files: Record<string, string | Buffer>, copy: unknown[]): Promise<{ f: Fixture; res: ReconcileResult }> {
    const f = await fixture(t);
    await f.publish(files, rev(1));
    await f.generator({ sources: [{ alias: 'src', kind: 'GitRepository', name: 'mono' }], artifacts: [{ name: 'out', copy }] });
    return { f, res: await f.reconcile() };
  }

  test('globs keep the matched path, dir/** copies contents, a directory is copied as a subdirectory, a file into a dir/', async (t) => {
    const { f, res } = await generate(
      t,
      { 'a/x.yaml': 'x', 'a/y.txt': 'y', 'a/sub/z.yaml': 'z', 'b/c/d.yaml': 'd', 'one.yaml': '1' },
      [
        { from: '@src/a/*.yaml', to: '@artifact/glob/' },
        { from: '@src/a/**', to: '@artifact/contents/' },
        { from: '@src/b', to: '@artifact/dirs' },
        { from: '@src/one.yaml', to: '@artifact/single/' },
        { from: '@src/one.yaml', to: '@artifact/renamed.yaml' },
      ],
    );
    assert.equal(res.ready, true, res.message);
    assert.deepEqual(Object.keys(await f.files('out')).sort(), [
      'contents/sub/z.yaml',
      'contents/x.yaml',
      'contents/y.txt',
      'dirs/b/c/d.yaml',
      'glob/a/x.yaml',
      'renamed.yaml',
      'single/one.yaml',
    ]);
  });

  test("the source root itself ('@src/.') is copied whole, with excludes relative to it", async (t) => {
    const { f, res } = await generate(t, { 'a/x.yaml': 'x', 'b.md': 'b', 'c.yaml': 'c' }, [{ from: '@src/.', to: '@artifact/all/', exclude: ['*.md'] }]);
    assert.equal(res.ready, true, res.message);
    assert.deepEqual(Object.keys(await f.files('out')).sort(), ['all/a/x.yaml', 'all/c.yaml']);
  });

  test('exclude: a pattern without / matches base names at any depth; later copies overwrite earlier ones', async (t) => {
    const { f, res } = await generate(
      t,
      { 'app/deploy.yaml': 'v1', 'app/README.md': 'r', 'app/docs/guide.md': 'g', 'app/test/t.yaml': 't', 'over/deploy.yaml': 'v2' },
      [
        { from: '@src/app/**', to: '@artifact/', exclude: ['*.md', 'test/**'] },
        { from: '@src/over/deploy.yaml', to: '@artifact/deploy.yaml' },
      ],
    );
    assert.equal(res.ready, true, res.message);
    const files = await f.files('out');
    assert.deepEqual(Object.keys(files).sort(), ['deploy.yaml']);
    assert.equal(files['deploy.yaml'], 'v2');
  });

  test('Merge deep-merges YAML maps (lists replaced); Extract unpacks tarballs', async (t) => {
    const chartDir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-chart-'));
    t.after(() => rm(chartDir, { recursive: true, force: true }));
    await mkdir(path.join(chartDir, 'podinfo'), { recursive: true });
    await writeFile(path.join(chartDir, 'podinfo', 'Chart.yaml'), 'name: podinfo\n');
    const tgz = (await buildArtifact(chartDir)).tarGz;
    const { f, res } = await generate(
      t,
      {
        'base/values.yaml': 'image:\n  repository: ghcr.io/x\n  tag: "1"\nports: [80, 443]\n',
        'prod/values.yaml': '---\nimage:\n  tag: "2"\n---\nports: [8080]\nreplicas: 3\n',
        'charts/podinfo-1.0.0.tgz': tgz,
        'charts/notes.txt': 'not a tarball',
      },
      [
        { from: '@src/base/values.yaml', to: '@artifact/values.yaml' },
        { from: '@src/prod/values.yaml', to: '@artifact/values.yaml', strategy: 'Merge' },
        { from: '@src/charts/*', to: '@artifact/charts/', strategy: 'Extract' },
      ],
    );
    assert.equal(res.ready, true, res.message);
    const files = await f.files('out');
    assert.equal(files['values.yaml'], 'image:\n  repository: ghcr.io/x\n  tag: "2"\nports:\n  - 8080\nreplicas: 3\n');
    assert.equal(files['charts/podinfo/Chart.yaml'], 'name: podinfo\n');
    assert.equal(files['charts/notes.txt'], undefined, 'non-tarballs matched by a glob are skipped');
  });

  test('a glob without matches, a missing file and a path out of the source fail the build with the operation named', async (t) => {
    const { res } = await generate(t, { 'a.yaml': 'a' }, [{ from: '@src/nothing/*.yaml', to: '@artifact/' }]);
    assert.equal(res.ready, false);
    assert.equal(res.reason, 'BuildFailed');
    assert.equal(res.message, "out build failed: failed to apply copy operation from '@src/nothing/*.yaml' to '@artifact/': no files match pattern 'nothing/*.yaml' in source 'src'");
    const missing = await generate(t, { 'a.yaml': 'a' }, [{ from: '@src/b.yaml', to: '@artifact/' }]);
    assert.match(missing.res.message, /source 'b\.yaml' does not exist/);
    const out = await generate(t, { 'a.yaml': 'a' }, [{ from: '@src/../../etc/passwd', to: '@artifact/' }]);
    assert.equal(out.res.reason, 'BuildFailed');
    assert.match(out.res.message, /leaves the source root/);
  });
});

describe('ArtifactGenerator: pathPattern and validation', () => {
  test('pathPattern: one output per matching directory, captures lowercased in names and labels, kept in copy paths', async (t) => {
    const f = await fixture(t);
    await f.publish({ 'apps/Auth/k.yaml': 'a', 'apps/billing/k.yaml': 'b', 'apps/billing/nested/x.yaml': 'x', 'other/k.yaml': 'o' }, rev(1));
    await f.generator({
      sources: [{ alias: 'mono', kind: 'GitRepository', name: 'mono' }],
      pathPattern: '@mono/apps/{app}',
      commonMetadata: { labels: { team: 'platform' } },
      artifacts: [{ name: 'app-{app}', copy: [{ from: '@mono/apps/{app}/**', to: '@artifact/' }] }],
    });
    const res = await f.reconcile();
    assert.equal(res.ready, true, res.message);
    assert.equal(res.message, 'reconciliation succeeded, generated 2 artifact(s)');
    assert.deepEqual(Object.keys(await f.files('app-auth')), ['k.yaml']);
    assert.deepEqual(Object.keys(await f.files('app-billing')).sort(), ['k.yaml', 'nested/x.yaml']);
    const labels = (await f.ea('app-auth'))?.object?.metadata.labels;
    assert.equal(labels?.app, 'auth');
    assert.equal(labels?.team, 'platform');
  });

  test('pathPattern: two directories that collide after lowercasing stall the generator', async (t) => {
    const f = await fixture(t);
    await f.publish({ 'apps/Auth/k.yaml': 'a', 'apps/auth/k.yaml': 'b' }, rev(1));
    await f.generator({
      sources: [{ alias: 'mono', kind: 'GitRepository', name: 'mono' }],
      pathPattern: '@mono/apps/{app}',
      artifacts: [{ name: '{app}', copy: [{ from: '@mono/apps/{app}/**', to: '@artifact/' }] }],
    });
    const res = await f.reconcile();
    assert.equal(res.reason, 'BuildFailed');
    assert.equal(res.message, 'failed to expand path pattern: pathPattern "@mono/apps/{app}": directories "apps/Auth" and "apps/auth" both resolve to artifact name "auth"');
    const rec = await f.state.get<ObjectRecord>({ kind: 'ArtifactGenerator', namespace: f.ns, name: 'gen' });
    assert.equal(getCondition(rec?.value, 'Stalled')?.status, 'True');
  });

  test('an invalid spec is Stalled with the field named; a missing source is retried; disabled skips', async (t) => {
    const f = await fixture(t);
    await f.generator({
      sources: [
        { alias: 'a', kind: 'GitRepository', name: 'mono' },
        { alias: 'a', kind: 'GitRepository', name: 'other' },
      ],
      artifacts: [{ name: 'x', copy: [{ from: '@a/**', to: '@artifact/' }] }],
    });
    const dup = await f.reconcile();
    assert.equal(dup.reason, 'ValidationFailed');
    assert.equal(dup.message, "ArtifactGenerator flux-system/gen: spec.sources[1].alias: duplicate source alias 'a' found");
    await f.generator({ sources: [{ alias: 'a', kind: 'GitRepository', name: 'mono' }], artifacts: [{ name: 'x', revision: '@b', copy: [{ from: '@a/**', to: '@artifact/' }] }] }, 2);
    assert.match((await f.reconcile()).message, /spec\.artifacts\[0\]\.revision: artifact x revision source alias 'b' not found/);
    await f.generator({ sources: [{ alias: 'a', kind: 'GitRepository', name: 'mono' }], artifacts: [{ name: 'Bad_Name', copy: [{ from: '@a/**', to: '@artifact/' }] }] }, 3);
    assert.match((await f.reconcile()).message, /artifact name "Bad_Name" is not a valid Kubernetes object name/);

    await f.generator({ sources: [{ alias: 'a', kind: 'GitRepository', name: 'mono' }], artifacts: [{ name: 'x', copy: [{ from: '@a/**', to: '@artifact/' }] }] }, 4);
    const missing = await f.reconcile();
    assert.equal(missing.reason, 'SourceFetchFailed');
    assert.equal(missing.message, "get sources failed: source 'GitRepository/flux-system/mono' not found");
    const rec = await f.state.get<ObjectRecord>({ kind: 'ArtifactGenerator', namespace: f.ns, name: 'gen' });
    assert.equal(getCondition(rec?.value, 'Stalled'), undefined, 'a missing source is not terminal');

    await f.generator({ sources: [{ alias: 'a', kind: 'GitRepository', name: 'mono' }], artifacts: [{ name: 'x', copy: [{ from: '@a/**', to: '@artifact/' }] }] }, 5, {
      'source.extensions.fluxcd.io/reconcile': 'Disabled',
    });
    assert.equal((await f.reconcile()).reason, 'ReconciliationDisabled');
  });

  test('the registry knows both kinds; an ExternalArtifact from Git without a generator says it has no producer', async (t) => {
    const f = await fixture(t);
    assert.equal(kindByWord('ag'), artifactGeneratorKind);
    assert.equal(kindByWord('source external'), externalArtifactKind);
    assert.equal(kindReconciler('ArtifactGenerator')?.schedule, 'poll');
    const key = { kind: 'ExternalArtifact', namespace: f.ns, name: 'manual' };
    await f.state.put<ObjectRecord>(key, {
      object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'ExternalArtifact', metadata: { name: 'manual', namespace: f.ns, generation: 1 }, spec: {} },
      origin: { by: 'Kustomization', namespace: f.ns, name: 'flux-system' },
      status: {},
    });
    const record = (await readRecord(f.state, key))!;
    const res = await externalArtifactKind.reconcile(f.svc, { key, record, reason: 'test', log });
    assert.equal(res.reason, 'NoProducer');
    assert.match(res.message, /has no producer in Fluxless/);
  });
});
