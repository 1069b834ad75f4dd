/**
 * Reading Helm's release storage right after an action, against the real API server:
 * listReleasesAfterWrite returns what a plain LIST returns, includes the newest write it
 * was told about, asks the watch cache for "not older than" that write, and falls back to
 * a plain LIST when the revisions it was told about are gone.
 */
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { testEnv } from '../harness/index.js';
import { createKubeClient, type KubeClient, type RequestOptions } from '../../shared/kube/client.js';
import { encodeReleasePayload, listReleases, listReleasesAfterWrite, releaseSecretName } from '../../shared/helm/storage.js';
import { atEnd } from './helpers.js';

const ns = 'storage-read';
let client: KubeClient;

/** The requests a client sent: method, path and query. */
interface Sent {
  method: string;
  path: string;
  query: Record<string, string>;
}

/** `client`, recording what it sends into `log`. */
function recording(inner: KubeClient, log: Sent[]): KubeClient {
  return {
    server: inner.server,
    get requestCount() {
      return inner.requestCount;
    },
    close: () => inner.close(),
    request<T>(method: string, path: string, opts?: RequestOptions): Promise<T> {
      const query: Record<string, string> = {};
      for (const [k, v] of Object.entries(opts?.query ?? {})) if (v !== undefined) query[k] = String(v);
      log.push({ method, path, query });
      return inner.request<T>(method, path, opts);
    },
  };
}

function releaseSecret(name: string, version: number, status: string) {
  const raw = {
    name,
    namespace: ns,
    version,
    manifest: '',
    info: { status, description: `revision ${version}` },
    chart: { metadata: { name: 'app', version: `1.0.${version}` } },
    config: {},
  };
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: releaseSecretName(name, version), labels: { owner: 'helm', name, version: String(version), status } },
    type: 'helm.sh/release.v1',
    data: { release: Buffer.from(encodeReleasePayload(raw)).toString('base64') },
  };
}

const secrets = `/api/v1/namespaces/${ns}/secrets`;

async function put(name: string, version: number, status: string): Promise<string> {
  const body = releaseSecret(name, version, status);
  try {
    const s = await client.request<{ metadata: { resourceVersion: string } }>('POST', secrets, { body });
    return s.metadata.resourceVersion;
  } catch {
    const s = await client.request<{ metadata: { resourceVersion: string } }>('PATCH', `${secrets}/${body.metadata.name}`, {
      body: { metadata: { labels: body.metadata.labels }, data: body.data },
      contentType: 'application/merge-patch+json',
    });
    return s.metadata.resourceVersion;
  }
}

before(async () => {
  const env = await testEnv();
  const cluster = await env.cluster();
  client = createKubeClient(cluster.kubeConfig());
  atEnd(async () => client.close());
  await client.request('POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } } }).catch(() => undefined);
  // Other releases in the namespace, which a release's read must not return.
  for (let i = 0; i < 5; i++) await put(`other-${i}`, 1, 'deployed');
});

describe('release storage read after an action', () => {
  test('matches a plain LIST and sees each write it was told about, read from the cache at that write', async () => {
    await put('web', 1, 'superseded');
    let rv = await put('web', 2, 'deployed');
    for (let i = 0; i < 10; i++) {
      const status = i % 2 ? 'deployed' : 'failed';
      rv = await put('web', 2, status);
      const log: Sent[] = [];
      const after = await listReleasesAfterWrite(recording(client, log), ns, 'web', [3, 2]);
      assert.deepEqual(
        after.headers.map((h) => [h.version, h.status]),
        [
          [1, 'superseded'],
          [2, status],
        ],
      );
      assert.equal(after.latest()?.chart.version, '1.0.2');
      const plain = await listReleases(client, ns, 'web');
      assert.deepEqual(after.headers, plain.headers);
      const lists = log.filter((s) => s.path === secrets);
      assert.equal(lists.length, 1, 'one LIST, served by the cache (no fallback)');
      assert.deepEqual(lists[0].query, { labelSelector: 'owner=helm,name=web', resourceVersion: rv, resourceVersionMatch: 'NotOlderThan' });
      assert.deepEqual(log.filter((s) => s.path !== secrets).map((s) => s.path).sort(), [`${secrets}/${releaseSecretName('web', 2)}`, `${secrets}/${releaseSecretName('web', 3)}`]);
    }
    // A new revision: the read is at least as new as it.
    rv = await put('web', 3, 'deployed');
    const log: Sent[] = [];
    const after = await listReleasesAfterWrite(recording(client, log), ns, 'web', [3, 2]);
    assert.deepEqual(after.headers.map((h) => h.version), [1, 2, 3]);
    assert.equal(log.find((s) => s.path === secrets)?.query.resourceVersion, rv);
  });

  test('revisions that are gone (an uninstall without history) fall back to a plain LIST', async () => {
    await put('gone', 1, 'deployed');
    await put('gone', 2, 'deployed');
    for (const v of [1, 2]) await client.request('DELETE', `${secrets}/${releaseSecretName('gone', v)}`);
    const log: Sent[] = [];
    const after = await listReleasesAfterWrite(recording(client, log), ns, 'gone', [3, 2]);
    assert.deepEqual(after.headers, []);
    assert.deepEqual(log.find((s) => s.path === secrets)?.query, { labelSelector: 'owner=helm,name=gone' });
  });
});
