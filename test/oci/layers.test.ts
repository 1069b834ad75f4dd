import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import zlib from 'node:zlib';
import { pack } from 'tar-stream';
import { testEnv } from '../harness/index.js';
import { readArtifact } from '../../shared/artifacts/extract.js';
import { RegistryClient } from '../../shared/oci/client.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository } from '../../shared/oci/fetch.js';
import { encodeImageManifest } from '../../shared/oci/manifest.js';
import { FLUX_CONFIG, FLUX_CONTENT_TARGZ, OCI_INDEX, OCI_MANIFEST } from '../../shared/oci/media-types.js';
import { parseRepository } from '../../shared/oci/reference.js';
import { ociSpec, uniqueRepo } from './helpers.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link'; content?: string; linkname?: string; mode?: number };

async function tarGz(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    if (e.type === 'file' || e.type === undefined) p.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content ?? '');
    else p.entry({ name: e.name, type: e.type, linkname: e.linkname });
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return zlib.gzipSync(Buffer.concat(chunks));
}

let host = '';
const client = new RegistryClient();
before(async () => {
  host = (await (await testEnv()).registry()).host;
});

/** Pushes a one-layer artifact built by hand (what another tool might publish). */
async function pushLayer(repoPath: string, tag: string, layer: Buffer, layerType = FLUX_CONTENT_TARGZ): Promise<string> {
  const repo = parseRepository(`${host}/${repoPath}`);
  const cfg = Buffer.from('{}');
  const [l, c] = await Promise.all([client.pushBlob(repo, layer), client.pushBlob(repo, cfg)]);
  const m = encodeImageManifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: FLUX_CONFIG, ...c }, layers: [{ mediaType: layerType, ...l }] });
  return client.putManifest({ ...repo, tag }, m, OCI_MANIFEST);
}

describe('extracting layers made by other tools', () => {
  test('symlinks are dropped, executables keep their bit, a later entry replaces an earlier one', async () => {
    const repo = uniqueRepo('fluxless/untar');
    await pushLayer(
      repo,
      'v1',
      await tarGz([
        { name: 'app/', type: 'directory' },
        { name: 'app/deploy.yaml', content: 'old' },
        { name: 'app/run.sh', content: '#!/bin/sh', mode: 0o755 },
        { name: 'app/link.yaml', type: 'symlink', linkname: '/etc/passwd' },
        { name: 'app/deploy.yaml', content: 'new' },
      ]),
    );
    const got = await fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'v1' } }), undefined);
    assert.ok(got.changed);
    const files = (await readArtifact(got.tarGz)).entries;
    assert.deepEqual([...files.keys()].sort(), ['app/deploy.yaml', 'app/run.sh']);
    assert.equal(files.get('app/deploy.yaml')!.data.toString(), 'new');
    assert.equal(files.get('app/run.sh')!.mode & 0o100, 0o100);
  });

  test('hard links, `..` names and non-gzip layers fail OCIArtifactLayerOperationFailed', async () => {
    const repo = uniqueRepo('fluxless/untar-bad');
    await pushLayer(repo, 'hard', await tarGz([{ name: 'a', content: 'x' }, { name: 'b', type: 'link', linkname: 'a' }]));
    await pushLayer(repo, 'dotdot', await tarGz([{ name: '../escape.yaml', content: 'x' }]));
    await pushLayer(repo, 'plain', Buffer.from('not gzip at all'));
    const cases: [string, RegExp][] = [
      ['hard', /contained unsupported file type link/],
      ['dotdot', /invalid name error "\.\.\/escape\.yaml"/],
      ['plain', /requires gzip-compressed body/],
    ];
    for (const [tag, msg] of cases) {
      await assert.rejects(fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag } }), undefined), (err: unknown) => {
        assert.ok(err instanceof OciError, String(err));
        assert.equal(err.reason, 'OCIArtifactLayerOperationFailed');
        assert.match(err.message, /^failed to extract layer contents from artifact: /);
        assert.match(err.message, msg);
        return true;
      });
    }
  });

  test('an image index tag resolves to its linux/amd64 image; the revision keeps the index digest', async () => {
    const repo = uniqueRepo('fluxless/index');
    const r = parseRepository(`${host}/${repo}`);
    const amd = await pushLayer(repo, 'amd64', await tarGz([{ name: 'arch', content: 'amd64' }]));
    const arm = await pushLayer(repo, 'arm64', await tarGz([{ name: 'arch', content: 'arm64' }]));
    const size = async (dig: string) => (await client.getManifest({ ...r, digest: dig })).bytes.length;
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [
          { mediaType: OCI_MANIFEST, size: await size(arm), digest: arm, platform: { os: 'linux', architecture: 'arm64' } },
          { mediaType: OCI_MANIFEST, size: await size(amd), digest: amd, platform: { os: 'linux', architecture: 'amd64' } },
        ],
      }),
    );
    const indexDigest = await client.putManifest({ ...r, tag: 'multi' }, index, OCI_INDEX);
    const got = await fetchOciRepository(ociSpec(`oci://${host}/${repo}`, { ref: { tag: 'multi' } }), undefined);
    assert.ok(got.changed);
    assert.equal(got.revision, `multi@${indexDigest}`);
    assert.equal((await readArtifact(got.tarGz)).entries.get('arch')!.data.toString(), 'amd64');
  });
});

describe('timeouts', () => {
  let server: net.Server | undefined;
  let port = 0;
  after(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));

  test('spec.timeout bounds a registry that never answers', async () => {
    const sockets: net.Socket[] = [];
    const srv = net.createServer((s) => sockets.push(s)); // accepts, never answers
    server = srv;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    port = (srv.address() as net.AddressInfo).port;
    await assert.rejects(fetchOciRepository(ociSpec(`oci://127.0.0.1:${port}/x/y`, { timeout: '300ms' }), undefined), /timed out/);
    for (const s of sockets) s.destroy();
  });
});
