import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import https from 'node:https';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { testEnv } from '../harness/index.js';
import { fetchRepositoryIndex, repositoryAccess } from '../../shared/helm/repository.js';
import { parseHelmRepository } from '../../shared/helm/repository-spec.js';
import { buildLocalChart } from '../../shared/helm/chart-build.js';
import { readChartArchive } from '../../shared/helm/chart-archive.js';
import { RepositoryError } from '../../shared/helm/errors.js';
import { atEnd, packageChart, sharedRunner, tempDir, writeAppChart, writeLibChart } from './helpers.js';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, made with the real openssl. */
async function certificates(dir: string) {
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=fluxless-test-ca']);
  for (const [name, ext] of [['server', 'subjectAltName=IP:127.0.0.1'], ['client', 'extendedKeyUsage=clientAuth']] as const) {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`]);
    await writeFile(path.join(dir, `${name}.ext`), ext + '\n');
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`]);
  }
  const read = (f: string) => readFile(path.join(dir, f));
  return { ca: await read('ca.crt'), serverCert: await read('server.crt'), serverKey: await read('server.key'), clientCert: await read('client.crt'), clientKey: await read('client.key') };
}

describe('HelmRepository over TLS (certSecretRef)', () => {
  test('the CA from ca.crt is trusted and tls.crt/tls.key are presented to the server', async () => {
    const work = await tempDir();
    const certs = await certificates(work);
    const repoDir = path.join(work, 'repo');
    await mkdir(repoDir);
    await packageChart(await writeAppChart(path.join(work, 'src')), repoDir);
    const runner = await sharedRunner();
    await runner.exec('repo index', ['repo', 'index', repoDir], { timeoutMs: 60_000 });
    const index = await readFile(path.join(repoDir, 'index.yaml'));
    const clients: string[] = [];
    const server = https.createServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      clients.push(String(peer.subject?.CN ?? ''));
      res.writeHead(200);
      res.end(index);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    atEnd(() => new Promise((r) => server.close(() => r(undefined))));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const repo = parseHelmRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'tls', namespace: 'ns' }, spec: { url, certSecretRef: { name: 'tls' } } });

    const res = await fetchRepositoryIndex(repositoryAccess(repo, { cert: { 'ca.crt': certs.ca, 'tls.crt': certs.clientCert, 'tls.key': certs.clientKey } }));
    assert.equal(res.unchanged, false);
    assert.deepEqual(clients, ['client']);

    // Without the CA the server is not trusted; a certificate without its key is refused up front.
    const noCa = parseHelmRepository({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'HelmRepository', metadata: { name: 'tls', namespace: 'ns' }, spec: { url } });
    await assert.rejects(fetchRepositoryIndex(repositoryAccess(noCa)), (e: unknown) => e instanceof RepositoryError && /failed to fetch Helm repository index/.test(e.message));
    assert.throws(() => repositoryAccess(repo, { cert: { 'tls.crt': certs.clientCert } }), /secret 'ns\/tls' contains 'tls.crt' but missing 'tls.key'/);
    assert.throws(() => repositoryAccess(repo, { cert: { other: 'x' } }), /must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'/);
  });
});

describe('OCI chart dependencies', () => {
  test('an oci:// dependency is pulled from the registry with helm pull', async () => {
    const env = await testEnv();
    const { host } = await env.registry();
    const runner = await sharedRunner();
    const work = await tempDir();
    const lib = await packageChart(await writeLibChart(path.join(work, 'src'), 'ocilib', '0.3.0'), path.join(work, 'pkg'));
    await runner.exec('push', ['push', lib, `oci://${host}/charts`, '--plain-http'], { timeoutMs: 60_000 });

    const source = path.join(work, 'source');
    await writeAppChart(source, { name: 'web', dependencies: [{ name: 'ocilib', version: '0.3.x', repository: `oci://${host}/charts` }] });
    const built = await buildLocalChart({
      runner,
      sourceDir: source,
      chartPath: 'web',
      resolveRepository: async (url) => (url === `oci://${host}/charts` ? { oci: { plainHttp: true } } : undefined),
    });
    assert.equal(built.resolvedDependencies, 1);
    assert.ok((await readChartArchive(built.data!)).files.has('charts/ocilib/Chart.yaml'));

    // The same with a caller-supplied pull function (shared/oci can plug in here).
    const pulled: string[] = [];
    const again = await buildLocalChart({
      runner,
      sourceDir: source,
      chartPath: 'web',
      resolveRepository: async () => ({ oci: { pull: async (chartUrl, version) => (pulled.push(`${chartUrl}@${version}`), readFile(lib)) } }),
    });
    assert.deepEqual(pulled, [`oci://${host}/charts/ocilib@0.3.x`]);
    assert.equal(again.resolvedDependencies, 1);
  });
});
