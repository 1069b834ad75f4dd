import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import { fetchRepositoryIndex, loadStoredIndex, repositoryAccess, resolveChartUrl } from '../../shared/helm/repository.js';
import { parseHelmRepository } from '../../shared/helm/repository-spec.js';
import { selectChartVersion } from '../../shared/helm/index-file.js';
import { buildLocalChart, buildRemoteChart, chartDefaultValues } from '../../shared/helm/chart-build.js';
import { chartMetadataFromArchive, readChartArchive } from '../../shared/helm/chart-archive.js';
import { ChartBuildError, RepositoryError } from '../../shared/helm/errors.js';
import { packageChart, serveChartRepo, sharedRunner, tempDir, writeAppChart, writeLibChart } from './helpers.js';

function repoObject(url: string, spec: Record<string, unknown> = {}) {
  return parseHelmRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'charts', namespace: 'flux-system' }, spec: { url, ...spec } });
}

async function chartsRepo(opts: { auth?: { username: string; password: string } } = {}) {
  const work = await tempDir();
  const srcDir = path.join(work, 'src');
  const repoDir = path.join(work, 'repo');
  await mkdir(repoDir, { recursive: true });
  const app = await writeAppChart(srcDir, { files: { 'values-prod.yaml': 'replicaCount: 0\nimage:\n  tag: "prod"\n' } });
  for (const v of ['0.1.0', '0.2.0', '1.0.0-rc.1']) await packageChart(app, repoDir, v);
  await packageChart(await writeLibChart(srcDir), repoDir);
  const server = await serveChartRepo(repoDir, opts);
  await server.reindex();
  return { server, repoDir, srcDir, work };
}

describe('HelmRepository index', () => {
  test('revision is the sha256 of the bytes; the artifact is the validated index as JSON', async () => {
    const { server, repoDir } = await chartsRepo();
    const access = repositoryAccess(repoObject(server.url));
    const res = await fetchRepositoryIndex(access);
    assert.equal(res.unchanged, false);
    if (res.unchanged) return;
    const raw = await readFile(path.join(repoDir, 'index.yaml'));
    assert.equal(res.revision, 'sha256:' + createHash('sha256').update(raw).digest('hex'));
    assert.equal(res.artifactName, `index-${res.revision.slice(7)}.yaml`);
    const stored = JSON.parse(res.artifact.toString()) as { entries: Record<string, { version: string }[]> };
    assert.deepEqual(stored.entries.app.map((e) => e.version), ['1.0.0-rc.1', '0.2.0', '0.1.0']);
    assert.notEqual('sha256:' + createHash('sha256').update(res.artifact).digest('hex'), res.revision);
    // The stored artifact loads again into the same index.
    assert.deepEqual(loadStoredIndex(res.artifact).entries.app.map((e) => e.version), ['1.0.0-rc.1', '0.2.0', '0.1.0']);

    const again = await fetchRepositoryIndex(access, { lastRevision: res.revision });
    assert.equal(again.unchanged, true);
  });

  test('reordered entries give a new revision; invalid entries are dropped', async () => {
    const { server, repoDir } = await chartsRepo();
    const access = repositoryAccess(repoObject(server.url));
    const first = await fetchRepositoryIndex(access);
    const doc = parseYaml(await readFile(path.join(repoDir, 'index.yaml'), 'utf8')) as { entries: Record<string, unknown[]> };
    doc.entries.app.reverse();
    doc.entries.app.push({ name: 'app', version: 'not-a-version', apiVersion: 'v2', urls: ['x.tgz'] });
    await writeFile(path.join(repoDir, 'index.yaml'), toYaml(doc));
    const second = await fetchRepositoryIndex(access);
    assert.ok(!first.unchanged && !second.unchanged);
    if (first.unchanged || second.unchanged) return;
    assert.notEqual(second.revision, first.revision);
    assert.deepEqual(second.index.entries.app.map((e) => e.version), ['1.0.0-rc.1', '0.2.0', '0.1.0']);
    assert.equal(second.dropped.length, 1);
    assert.match(second.dropped[0].reason, /chart\.metadata\.version "not-a-version" is invalid/);
  });

  test('bad index, missing index and unknown fields fail with Flux’s messages', async () => {
    const { server, repoDir } = await chartsRepo();
    const access = repositoryAccess(repoObject(server.url));
    await writeFile(path.join(repoDir, 'index.yaml'), 'entries: {}\n');
    await assert.rejects(fetchRepositoryIndex(access), (e: unknown) => e instanceof RepositoryError && e.reason === 'IndexationFailed' && /no API version specified/.test(e.message));
    await writeFile(path.join(repoDir, 'index.yaml'), 'apiVersion: v1\nentries: {}\nbogus: 1\n');
    await assert.rejects(fetchRepositoryIndex(access), /unknown field "bogus"/);
    const missing = repositoryAccess(repoObject(server.url + '/nope'));
    await assert.rejects(fetchRepositoryIndex(missing), (e: unknown) => e instanceof RepositoryError && e.reason === 'Failed' && /failed to fetch Helm repository index: .*\/nope\/index.yaml : 404 Not Found/.test(e.message));
  });

  test('basic auth from secretRef; missing or partial secrets are AuthenticationFailed', async () => {
    const { server } = await chartsRepo({ auth: { username: 'u', password: 'p4ss' } });
    const repo = repoObject(server.url, { secretRef: { name: 'creds' } });
    await assert.rejects(fetchRepositoryIndex(repositoryAccess(repoObject(server.url))), /401 Unauthorized/);
    assert.throws(() => repositoryAccess(repo), (e: unknown) => e instanceof RepositoryError && e.reason === 'AuthenticationFailed' && /failed to get authentication secret 'flux-system\/creds'/.test(e.message));
    assert.throws(() => repositoryAccess(repo, { auth: { username: 'u' } }), /malformed basic auth - has 'username' but missing 'password'/);
    const access = repositoryAccess(repo, { auth: { username: Buffer.from('u'), password: Buffer.from('p4ss') } });
    const res = await fetchRepositoryIndex(access);
    assert.equal(res.unchanged, false);
    assert.equal(server.requests.at(-1)?.authorization, 'Basic ' + Buffer.from('u:p4ss').toString('base64'));
  });

  test('credentials go to other hosts only with passCredentials', async () => {
    const charts = await chartsRepo();
    // The index lives on one server, the packages on another (another port = another host).
    const indexOnly = await tempDir();
    const indexServer = await serveChartRepo(indexOnly, { auth: { username: 'u', password: 'p' } });
    await charts.server.reindex(charts.server.url);
    await writeFile(path.join(indexOnly, 'index.yaml'), await readFile(path.join(charts.repoDir, 'index.yaml')));
    const runner = await sharedRunner();
    for (const pass of [false, true]) {
      const access = repositoryAccess(repoObject(indexServer.url, { secretRef: { name: 'c' }, passCredentials: pass }), { auth: { username: 'u', password: 'p' } });
      const res = await fetchRepositoryIndex(access);
      if (res.unchanged) throw new Error('unexpected');
      const before = charts.server.requests.length;
      await buildRemoteChart({ runner, access, index: res.index, chart: 'app', version: '0.1.0' });
      const seen = charts.server.requests.slice(before);
      assert.equal(seen.length, 1);
      assert.equal(Boolean(seen[0].authorization), pass, `passCredentials: ${pass}`);
    }
  });

  test('relative and absolute chart URLs', () => {
    assert.equal(resolveChartUrl('https://h/charts/', 'app-1.0.0.tgz'), 'https://h/charts/app-1.0.0.tgz');
    assert.equal(resolveChartUrl('https://h/charts?sig=1', 'sub/app.tgz'), 'https://h/charts/sub/app.tgz?sig=1');
    assert.equal(resolveChartUrl('https://h/charts/', 'https://cdn/app.tgz'), 'https://cdn/app.tgz');
  });
});

describe('chart version selection', () => {
  test('exact match first, newest stable for *, pre-releases only when asked', async () => {
    const { server } = await chartsRepo();
    const res = await fetchRepositoryIndex(repositoryAccess(repoObject(server.url)));
    if (res.unchanged) throw new Error('unexpected');
    assert.equal(selectChartVersion(res.index, 'app', '*').version, '0.2.0');
    assert.equal(selectChartVersion(res.index, 'app', '').version, '0.2.0');
    assert.equal(selectChartVersion(res.index, 'app', '>=0.1.0-0').version, '1.0.0-rc.1');
    assert.equal(selectChartVersion(res.index, 'app', '1.0.0-rc.1').version, '1.0.0-rc.1');
    assert.equal(selectChartVersion(res.index, 'app', '~0.1').version, '0.1.0');
    assert.throws(() => selectChartVersion(res.index, 'app', '>=2'), /no 'app' chart with version matching '>=2' found/);
    assert.throws(() => selectChartVersion(res.index, 'nope', '*'), /no chart name found/);
  });
});

describe('chart builds', () => {
  test('remote chart: pulled as is, or repackaged with valuesFiles and version metadata', async () => {
    const { server, repoDir } = await chartsRepo();
    const access = repositoryAccess(repoObject(server.url));
    const res = await fetchRepositoryIndex(access);
    if (res.unchanged) throw new Error('unexpected');
    const runner = await sharedRunner();
    const plain = await buildRemoteChart({ runner, access, index: res.index, chart: 'app' });
    assert.equal(plain.version, '0.2.0');
    assert.equal(plain.packaged, false);
    assert.ok(plain.data!.equals(await readFile(path.join(repoDir, 'app-0.2.0.tgz'))), 'a pulled chart is stored byte for byte');

    const built = await buildRemoteChart({ runner, access, index: res.index, chart: 'app', version: '0.1.x', valuesFiles: ['values.yaml', 'values-prod.yaml'], versionMetadata: '3' });
    assert.equal(built.version, '0.1.0+3');
    assert.equal(built.fileName, 'app-0.1.0+3.tgz');
    assert.equal(built.packaged, true);
    assert.deepEqual(built.valuesFiles, ['values.yaml', 'values-prod.yaml']);
    assert.equal((await chartMetadataFromArchive(built.data!)).version, '0.1.0+3');
    const values = await chartDefaultValues(built.data!);
    assert.deepEqual(values.image, { repository: 'nginx', tag: 'prod' });

    const cached = await buildRemoteChart({ runner, access, index: res.index, chart: 'app', version: '0.1.x', valuesFiles: ['values-prod.yaml'], versionMetadata: '3', cached: { name: 'app', version: '0.1.0+3' } });
    assert.equal(cached.upToDate, true);
    assert.equal(cached.data, undefined);

    await assert.rejects(buildRemoteChart({ runner, access, index: res.index, chart: 'app', version: '9.9.9' }), (e: unknown) =>
      e instanceof ChartBuildError && e.reason === 'InvalidChartReference' && e.message === "invalid chart reference: failed to get chart version for remote reference: no 'app' chart with version matching '9.9.9' found");
    await assert.rejects(buildRemoteChart({ runner, access, index: res.index, chart: 'app', valuesFiles: ['missing.yaml'] }), /values files merge error: failed to merge chart values: no values file found at path 'missing.yaml'/);
    const ignored = await buildRemoteChart({ runner, access, index: res.index, chart: 'app', valuesFiles: ['missing.yaml'], ignoreMissingValuesFiles: true, versionMetadata: '1' });
    assert.deepEqual(ignored.valuesFiles, []);
  });

  test('a package that does not match the index digest is refused', async () => {
    const { server, repoDir } = await chartsRepo();
    const access = repositoryAccess(repoObject(server.url));
    const res = await fetchRepositoryIndex(access);
    if (res.unchanged) throw new Error('unexpected');
    await writeFile(path.join(repoDir, 'app-0.2.0.tgz'), await readFile(path.join(repoDir, 'app-0.1.0.tgz')));
    await assert.rejects(buildRemoteChart({ runner: await sharedRunner(), access, index: res.index, chart: 'app' }), (e: unknown) =>
      e instanceof ChartBuildError && e.reason === 'ChartPullError' && /has digest sha256:[0-9a-f]{64}, but the index says/.test(e.message));
  });

  test('local chart with a remote and a file:// dependency, values files from the source root, Revision metadata', async () => {
    const { server } = await chartsRepo();
    const source = await tempDir();
    await writeLibChart(path.join(source, 'charts'), 'common', '2.1.0');
    await writeAppChart(path.join(source, 'charts'), {
      name: 'web',
      version: '1.2.3',
      dependencies: [
        { name: 'lib', version: '^1.0.0', repository: server.url },
        { name: 'common', version: '2.x', repository: 'file://../common' },
      ],
    });
    await mkdir(path.join(source, 'env'), { recursive: true });
    await writeFile(path.join(source, 'env', 'prod.yaml'), 'replicaCount: 0\nimage:\n  tag: prod\nlib:\n  greeting: bonjour\n');
    const seen: string[] = [];
    const runner = await sharedRunner();
    const built = await buildLocalChart({
      runner,
      sourceDir: source,
      chartPath: 'charts/web',
      valuesFiles: ['charts/web/values.yaml', 'env/prod.yaml'],
      versionMetadata: '4e5cbb7b97d0.2',
      resolveRepository: async (url) => {
        seen.push(url);
        return undefined;
      },
    });
    assert.equal(built.version, '1.2.3+4e5cbb7b97d0.2');
    assert.equal(built.resolvedDependencies, 2);
    assert.deepEqual(seen, [server.url + '/']);
    const files = await readChartArchive(built.data!);
    // helm package stores subcharts expanded under charts/<name>/.
    assert.ok(files.files.has('charts/lib/Chart.yaml'), [...files.files.keys()].join(','));
    assert.ok(files.files.has('charts/common/Chart.yaml'));
    const values = await chartDefaultValues(built.data!);
    assert.equal((values.image as Record<string, unknown>).tag, 'prod');
    assert.deepEqual(built.valuesFiles, ['charts/web/values.yaml', 'env/prod.yaml']);

    // The packaged chart renders with its dependencies (helm template, offline).
    const tgz = path.join(await tempDir(), built.fileName);
    await writeFile(tgz, built.data!);
    const rendered = await runner.template({ releaseName: 'r', namespace: 'default', chartPath: tgz, values: {} });
    assert.match(rendered, /greeting: bonjour/);
    assert.match(rendered, /name: r-common/);
  });

  test('dependency problems are DependencyBuildError with the dependency named', async () => {
    const { server } = await chartsRepo();
    const source = await tempDir();
    await writeAppChart(source, { name: 'web', dependencies: [{ name: 'lib', version: '>=5', repository: server.url }] });
    await assert.rejects(buildLocalChart({ runner: await sharedRunner(), sourceDir: source, chartPath: 'web' }), (e: unknown) =>
      e instanceof ChartBuildError && e.reason === 'DependencyBuildError' && /failed to add remote dependency 'lib': failed to get chart 'lib' version '>=5' from/.test(e.message));
    const src2 = await tempDir();
    await writeAppChart(src2, { name: 'web', dependencies: [{ name: 'gone', version: '1.0.0', repository: 'file://../gone' }] });
    await assert.rejects(buildLocalChart({ runner: await sharedRunner(), sourceDir: src2, chartPath: 'web' }), /failed to add local dependency 'gone': no chart found at/);
    await assert.rejects(buildLocalChart({ runner: await sharedRunner(), sourceDir: src2, chartPath: '../outside' }), /outside the source|no such file/);
  });
});
