import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { testEnv } from '../harness/index.js';
import { readArtifact } from '../../shared/artifacts/extract.js';
import { RegistryClient } from '../../shared/oci/client.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository, newArtifactMessage } from '../../shared/oci/fetch.js';
import { pushArtifact } from '../../shared/oci/push.js';
import { parseReference } from '../../shared/oci/reference.js';
import { FLUX_CONFIG, FLUX_CONTENT_TARGZ, OCI_MANIFEST } from '../../shared/oci/media-types.js';
import { ociSpec, tree, uniqueRepo } from './helpers.js';
import { startFront, type Front } from './front.js';

const sha256 = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const GIT = 'https://github.com/example/fleet';
const REV = 'main@sha1:0123456789abcdef0123456789abcdef01234567';

let host = '';
const fronts: Front[] = [];
before(async () => {
  host = (await (await testEnv()).registry()).host;
});
after(async () => {
  for (const f of fronts) await f.close();
});

async function fileNames(tarGz: Buffer): Promise<string[]> {
  return [...(await readArtifact(tarGz)).entries.keys()].sort();
}

describe('push and pull Flux artifacts against docker-registry', () => {
  test('pushArtifact writes what flux push writes; fetch pulls it back verified, and an unchanged revision costs one HEAD', async () => {
    const src = tree({ 'deploy.yaml': 'kind: ConfigMap\n', 'apps/web.yaml': 'kind: Deployment\n', 'logo.png': 'png', '.git/HEAD': 'ref: x' });
    const repo = uniqueRepo('fluxless/push');
    const pushed = await pushArtifact({ url: `oci://${host}/${repo}:v1.0.0`, path: src, source: GIT, revision: REV, annotations: { 'org.opencontainers.image.description': 'demo' } });
    assert.equal(pushed.url, `oci://${host}/${repo}@${pushed.digest}`);
    assert.equal(pushed.tag, 'v1.0.0');

    // What the registry holds is byte-for-byte our manifest, under the digest we reported.
    const raw = await fetch(`http://${host}/v2/${repo}/manifests/v1.0.0`, { headers: { accept: OCI_MANIFEST } });
    const bytes = Buffer.from(await raw.arrayBuffer());
    assert.equal(raw.headers.get('docker-content-digest'), pushed.digest);
    assert.equal(sha256(bytes), pushed.digest);
    const manifest = JSON.parse(bytes.toString()) as { mediaType: string; config: { mediaType: string }; layers: { mediaType: string }[]; annotations: Record<string, string> };
    assert.equal(manifest.mediaType, OCI_MANIFEST);
    assert.equal(manifest.config.mediaType, FLUX_CONFIG);
    assert.deepEqual(manifest.layers.map((l) => l.mediaType), [FLUX_CONTENT_TARGZ]);
    assert.equal(manifest.annotations['org.opencontainers.image.source'], GIT);
    assert.equal(manifest.annotations['org.opencontainers.image.revision'], REV);
    assert.match(manifest.annotations['org.opencontainers.image.created'], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const spec = ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'v1.0.0' } });
    const got = await fetchOciRepository(spec, undefined);
    assert.ok(got.changed);
    assert.equal(got.revision, `v1.0.0@${pushed.digest}`);
    assert.equal(got.manifestDigest, pushed.digest);
    assert.equal(got.fileName, `${pushed.digest.slice(7)}.tar.gz`);
    assert.equal(got.digest, sha256(got.tarGz));
    assert.equal(got.metadata['org.opencontainers.image.description'], 'demo');
    // The push left out VCS files and *.png (flux push's default ignore list).
    assert.deepEqual(await fileNames(got.tarGz), ['apps/web.yaml', 'deploy.yaml']);
    assert.equal(
      newArtifactMessage(got.revision, spec.url, got.metadata),
      `stored artifact with revision '${got.revision}' from '${spec.url}', origin source '${GIT}', origin revision '${REV}'`,
    );

    const client = new RegistryClient();
    const again = await fetchOciRepository(spec, undefined, { client, lastRevision: got.revision, lastIgnore: undefined, lastLayerSelector: undefined });
    assert.deepEqual(again, { changed: false, revision: got.revision, manifestDigest: pushed.digest, requests: 1 });
    // Another ignore rule or layer selector than last time means a new pull.
    const ignoreChanged = await fetchOciRepository(spec, undefined, { client, lastRevision: got.revision, lastIgnore: '*.md' });
    assert.equal(ignoreChanged.changed, true);
    const selectorChanged = await fetchOciRepository(spec, undefined, { client, lastRevision: got.revision, lastLayerSelector: { operation: 'copy' } });
    assert.equal(selectorChanged.changed, true);
  });

  test('reproducible pushes give the same digest; a new revision annotation gives a new one', async () => {
    const src = tree({ 'a.yaml': 'a: 1\n' });
    const repo = uniqueRepo('fluxless/repro');
    const one = await pushArtifact({ url: `oci://${host}/${repo}:a`, path: src, source: GIT, revision: REV, reproducible: true });
    const two = await pushArtifact({ url: `oci://${host}/${repo}:b`, path: src, source: GIT, revision: REV, reproducible: true });
    const three = await pushArtifact({ url: `oci://${host}/${repo}:c`, path: src, source: GIT, revision: 'main@sha1:' + 'f'.repeat(40), reproducible: true });
    assert.equal(one.digest, two.digest);
    assert.notEqual(one.digest, three.digest);
    const m = JSON.parse(one.manifest.toString()) as { annotations: Record<string, string> };
    assert.equal(m.annotations['org.opencontainers.image.created'], '1970-01-01T00:00:00Z');
  });

  test('a single file can be pushed; bad push input changes nothing', async () => {
    const src = tree({ 'only.yaml': 'x: 1\n' });
    const repo = uniqueRepo('fluxless/file');
    await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: `${src}/only.yaml`, source: GIT, revision: REV });
    const got = await fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'v1' } }), undefined);
    assert.ok(got.changed);
    assert.deepEqual(await fileNames(got.tarGz), ['only.yaml']);
    await assert.rejects(pushArtifact({ url: `oci://${host}/${repo}:v2`, path: src, source: '', revision: REV }), /--source is required/);
    await assert.rejects(pushArtifact({ url: `oci://${host}/${repo}:v2`, path: `${src}/missing`, source: GIT, revision: REV }), /invalid path/);
    await assert.rejects(pushArtifact({ url: `${host}/${repo}:v2`, path: src, source: GIT, revision: REV }), /URL must be in format 'oci:/);
    const tags = (await (await fetch(`http://${host}/v2/${repo}/tags/list`)).json()) as { tags: string[] };
    assert.deepEqual(tags.tags, ['v1']);
  });

  test('extract applies spec.ignore (or the default excludes); copy stores the layer byte for byte', async () => {
    const src = tree({ 'a.yaml': 'a: 1\n', 'pic.png': 'img', 'notes.txt': 'n' });
    const repo = uniqueRepo('fluxless/layers');
    const pushed = await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: src, source: GIT, revision: REV, ignorePaths: [] });
    const url = `oci://${host}/${repo}`;
    const def = await fetchOciRepository(ociSpec(url, { ref: { tag: 'v1' } }), undefined);
    assert.ok(def.changed);
    assert.deepEqual(await fileNames(def.tarGz), ['a.yaml', 'notes.txt']);
    const custom = await fetchOciRepository(ociSpec(url, { ref: { tag: 'v1' }, ignore: '*.txt' }), undefined);
    assert.ok(custom.changed);
    assert.deepEqual(await fileNames(custom.tarGz), ['a.yaml', 'pic.png']);
    assert.equal(custom.observedIgnore, '*.txt');
    const copy = await fetchOciRepository(ociSpec(url, { ref: { tag: 'v1' }, layerSelector: { mediaType: FLUX_CONTENT_TARGZ, operation: 'copy' } }), undefined);
    assert.ok(copy.changed);
    assert.equal(copy.digest, pushed.layer.digest);
    assert.equal(copy.operation, 'copy');
    assert.deepEqual(copy.observedLayerSelector, { mediaType: FLUX_CONTENT_TARGZ, operation: 'copy' });
    assert.deepEqual(await fileNames(copy.tarGz), ['a.yaml', 'notes.txt', 'pic.png']);
  });

  test('layerSelector and layer contents errors carry Flux reasons and messages', async () => {
    const repo = uniqueRepo('fluxless/sel');
    await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: tree({ 'a.yaml': 'a' }), source: GIT, revision: REV });
    await assert.rejects(
      fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'v1' }, layerSelector: { mediaType: 'application/x-other' } }), undefined),
      (err: unknown) => err instanceof OciError && err.reason === 'OCIArtifactLayerOperationFailed' && err.message === "failed to find layer with media type 'application/x-other' in artifact",
    );
    await assert.rejects(
      fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'nope' } }), undefined),
      (err: unknown) => err instanceof OciError && err.reason === 'OCIArtifactPullFailed' && /^failed to determine artifact digest: GET .*MANIFEST_UNKNOWN/.test(err.message),
    );
  });
});

describe('ref resolution with many tags (Link pagination)', () => {
  let repo = '';
  let front: Front;
  const digests = new Map<string, string>();
  const tags = ['0.1.0', '0.9.0', '1.0.0', '1.2', '1.9.3', '1.10.0', 'v1.11.0-rc.1', '2.0.0-rc.1', 'latest', 'dev-1.12.0'];
  for (let i = 0; i < 25; i++) tags.push(`0.0.${i}`);

  before(async () => {
    repo = uniqueRepo('fluxless/many');
    const client = new RegistryClient();
    // One artifact per tag so each tag has its own digest.
    for (const t of tags) {
      const p = await pushArtifact({ url: `oci://${host}/${repo}:${t}`, path: tree({ 'tag.txt': t }), source: GIT, revision: REV, reproducible: true, client });
      digests.set(t, p.digest);
    }
    front = await startFront({ upstream: host, paginate: 4 });
    fronts.push(front);
  });

  test('semver picks 1.10.0 over 1.9.3 across pages; revision is <tag>@<digest>', async () => {
    front.requests.length = 0;
    const got = await fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { semver: '>=1.0.0' } }), undefined);
    assert.ok(got.changed);
    assert.equal(got.tag, '1.10.0');
    assert.equal(got.revision, `1.10.0@${digests.get('1.10.0')}`);
    const pages = front.requests.filter((r) => r.path.startsWith(`/v2/${repo}/tags/list`));
    assert.equal(pages.length, Math.ceil(tags.length / 4));
    assert.ok(pages.slice(1).every((p) => p.path.includes('last=')));
  });

  test('a range with a pre-release admits pre-releases; semverFilter narrows the tags', async () => {
    const url = `oci://${front.host}/${repo}`;
    const pre = await fetchOciRepository(ociSpec(url, { ref: { semver: '>=1.0.0-0' } }), undefined);
    assert.equal(pre.changed && pre.tag, '2.0.0-rc.1');
    const filtered = await fetchOciRepository(ociSpec(url, { ref: { semver: '>=1.0.0-0', semverFilter: '^v' } }), undefined);
    assert.equal(filtered.changed && filtered.tag, 'v1.11.0-rc.1');
    await assert.rejects(
      fetchOciRepository(ociSpec(url, { ref: { semver: '>=3.0.0' } }), undefined),
      (err: unknown) => err instanceof OciError && err.reason === 'ReadOperationFailed' && err.message === `failed to determine the artifact tag for '${url}': no match found for semver: >=3.0.0`,
    );
  });

  test('no ref follows latest; a digest ref is its own revision and needs no request when unchanged', async () => {
    const url = `oci://${front.host}/${repo}`;
    const latest = await fetchOciRepository(ociSpec(url), undefined);
    assert.equal(latest.revision, `latest@${digests.get('latest')}`);
    const d = digests.get('0.9.0')!;
    const byDigest = await fetchOciRepository(ociSpec(url, { ref: { digest: d, tag: 'latest' } }), undefined);
    assert.ok(byDigest.changed);
    assert.equal(byDigest.revision, d);
    assert.equal(byDigest.tag, undefined);
    assert.deepEqual(await fileNames(byDigest.tarGz), ['tag.txt']);
    const content = (await readArtifact(byDigest.tarGz)).entries.get('tag.txt')!.data.toString();
    assert.equal(content, '0.9.0');
    const client = new RegistryClient();
    const unchanged = await fetchOciRepository(ociSpec(url, { ref: { digest: d } }), undefined, { client, lastRevision: d });
    assert.deepEqual(unchanged, { changed: false, revision: d, manifestDigest: d, requests: 0 });
  });
});

describe('integrity', () => {
  test('a flipped byte in the layer is refused (extract and copy); nothing is returned', async () => {
    const repo = uniqueRepo('fluxless/corrupt');
    const pushed = await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: tree({ 'a.yaml': 'a: 1\n'.repeat(200) }), source: GIT, revision: REV });
    const front = await startFront({ upstream: host, corruptBlobs: true });
    fronts.push(front);
    for (const operation of ['extract', 'copy'] as const) {
      await assert.rejects(
        fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' }, layerSelector: { operation } }), undefined),
        (err: unknown) => {
          assert.ok(err instanceof OciError);
          assert.equal(err.reason, 'OCIArtifactLayerOperationFailed');
          assert.match(err.message, operation === 'copy' ? /^failed to copy layer from artifact: / : /^failed to extract layer contents from artifact: /);
          assert.match(err.message, new RegExp(`digest mismatch: expected ${pushed.layer.digest}, got sha256:`));
          return true;
        },
      );
    }
  });

  test('a manifest that does not hash to the requested digest is refused', async () => {
    const repo = uniqueRepo('fluxless/mdigest');
    await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: tree({ 'a.yaml': 'a' }), source: GIT, revision: REV });
    const client = new RegistryClient();
    const wrong = `sha256:${'0'.repeat(64)}`;
    await assert.rejects(client.getManifest({ ...parseReference(`${host}/${repo}`), digest: wrong }), /MANIFEST_UNKNOWN|digest mismatch/);
  });
});
