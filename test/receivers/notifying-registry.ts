/**
 * A docker-registry (distribution 2.8, the binary test/harness/registry.ts uses) whose
 * notifications go to a webhook URL with an Authorization header, plus a minimal v2 API
 * client that pushes an image (config blob, one layer, manifest by tag).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EnvironmentError } from '../../shared/util/errors.js';
import { freePort, startSupervised, waitUntil } from '../../shared/devenv/process.js';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface NotifyingRegistry {
  /** host:port (plain HTTP). */
  host: string;
  stop(): Promise<void>;
}

/** Start docker-registry with `notifications.endpoints` pointing at `url`, sending `Authorization: <authorization>`. */
export async function startNotifyingRegistry(url: string, authorization: string): Promise<NotifyingRegistry> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-notify-registry-'));
  const port = await freePort();
  const config = path.join(dir, 'config.yml');
  // JSON is YAML: no quoting surprises in the URL or header value.
  writeFileSync(config, JSON.stringify({
    version: 0.1,
    log: { level: 'warn' },
    storage: { filesystem: { rootdirectory: path.join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}` },
    notifications: {
      endpoints: [{
        name: 'fluxless',
        url,
        headers: { Authorization: [authorization] },
        timeout: '2s',
        threshold: 3,
        backoff: '1s',
        ignore: { actions: ['pull'] },
      }],
    },
  }, null, 2));
  const proc = startSupervised({ name: 'docker-registry', command: REGISTRY_BIN, args: ['serve', config], cleanupDir: dir });
  const host = `127.0.0.1:${port}`;
  await waitUntil('docker-registry to answer /v2/', async () => (await fetch(`http://${host}/v2/`)).status === 200, {
    timeoutMs: 20_000,
    proc,
    hint: "install it with 'apt-get install docker-registry' (npm run setup does)",
  }).catch(async (err: unknown) => {
    await proc.stop();
    throw err instanceof EnvironmentError ? err : new EnvironmentError(String(err));
  });
  return { host, stop: () => proc.stop() };
}

function sha256(b: Buffer): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}

async function pushBlob(host: string, repo: string, blob: Buffer): Promise<string> {
  const digest = sha256(blob);
  const start = await fetch(`http://${host}/v2/${repo}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`starting a blob upload: HTTP ${start.status}`);
  const location = new URL(start.headers.get('location') ?? '', `http://${host}`);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
  if (put.status !== 201) throw new Error(`uploading blob ${digest}: HTTP ${put.status} ${await put.text()}`);
  return digest;
}

/** Push a one-layer OCI image `repo:tag` over the v2 API; returns the manifest digest. */
export async function pushImage(host: string, repo: string, tag: string): Promise<string> {
  const layer = Buffer.from(`layer of ${repo}:${tag}`);
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(layer)] } }));
  const configDigest = await pushBlob(host, repo, config);
  const layerDigest = await pushBlob(host, repo, layer);
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: layerDigest, size: layer.length }],
  }));
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${tag}`, {
    method: 'PUT',
    body: manifest,
    headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
  });
  if (res.status !== 201) throw new Error(`pushing the manifest ${repo}:${tag}: HTTP ${res.status} ${await res.text()}`);
  return sha256(manifest);
}
