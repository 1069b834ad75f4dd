/**
 * How a Provider's Secrets shape the request, against real loopback servers: the
 * `secretRef` keys (address override, token, a malformed username/password pair that
 * voids the Secret's auth, YAML headers), `certSecretRef` (a private CA and a client
 * certificate for mutual TLS), and `proxySecretRef` (an HTTP proxy with basic auth: the
 * absolute-form request for http://, a CONNECT tunnel for https://).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { SecretReader } from '../../shared/kube/secrets.js';
import { providerCredentials } from '../../shared/notify/credentials.js';
import { TransientDeliveryError } from '../../shared/notify/errors.js';
import type { NotificationEvent } from '../../shared/notify/event.js';
import { createNotifier } from '../../shared/notify/providers/index.js';
import { parseProvider } from '../../shared/notify/spec.js';
import { NotFoundError } from '../../shared/util/errors.js';
import { makeCerts, type TestCerts } from '../oci/certs.js';
import { startRecorder, type Recorder } from './recorder.js';

const event: NotificationEvent = {
  involvedObject: { kind: 'GitRepository', namespace: 'ns', name: 'repo', apiVersion: 'source.toolkit.fluxcd.io/v1' },
  severity: 'info',
  timestamp: '2026-01-02T03:04:05Z',
  message: 'stored artifact',
  reason: 'NewArtifact',
  reportingController: 'source-controller',
};

function secrets(data: Record<string, Record<string, string>>): SecretReader {
  return {
    get: async (ns, name) => {
      const d = data[name];
      if (!d) throw new NotFoundError(`Secret '${ns}/${name}' not found`);
      return d;
    },
    invalidate: () => undefined,
  };
}

function provider(spec: Record<string, unknown>) {
  return parseProvider({ apiVersion: 'notification.toolkit.fluxcd.io/v1beta3', kind: 'Provider', metadata: { name: 'p', namespace: 'ns' }, spec });
}

async function send(spec: Record<string, unknown>, data: Record<string, Record<string, string>>) {
  const p = provider(spec);
  const c = await providerCredentials(secrets(data), p);
  await createNotifier({ type: p.type, url: c.url, channel: '', username: c.username, token: c.token, password: c.password, headers: c.headers, commitStatus: '', providerUid: 'u', secretData: c.secretData, transport: c.transport, signal: AbortSignal.timeout(10_000), endpoints: {} })(event);
  return c;
}

let certs: TestCerts;
let plain: Recorder;
let tlsServer: https.Server;
let tlsUrl: string;
const tlsSeen: Array<{ url: string; clientCN?: string }> = [];
let proxy: http.Server;
let proxyUrl: string;
const proxied: Array<{ method: string; url: string; auth?: string }> = [];

before(async () => {
  certs = makeCerts();
  plain = await startRecorder();
  tlsServer = https.createServer({ key: certs.serverKey, cert: certs.serverCert, ca: certs.ca, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const cn = peer?.subject?.CN;
    tlsSeen.push({ url: req.url ?? '', clientCN: Array.isArray(cn) ? cn[0] : cn });
    req.resume();
    req.on('end', () => res.end('{}'));
  });
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  tlsUrl = `https://127.0.0.1:${(tlsServer.address() as AddressInfo).port}`;
  proxy = http.createServer((req, res) => {
    proxied.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const target = new URL(req.url ?? '');
    const up = http.request({ host: target.hostname, port: target.port, path: target.pathname + target.search, method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  proxy.on('connect', (req, socket) => {
    proxied.push({ method: 'CONNECT', url: req.url ?? '', auth: req.headers['proxy-authorization'] });
    const [host, port] = (req.url ?? '').split(':');
    const up = net.connect(Number(port), host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      up.pipe(socket);
      socket.pipe(up);
    });
    up.on('error', () => socket.destroy());
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});
after(async () => {
  await plain.close();
  await new Promise<void>((r) => tlsServer.close(() => r()));
  await new Promise<void>((r) => proxy.close(() => r()));
});

test('secretRef: address overrides spec.address, headers from YAML, a lone username voids the token', async () => {
  plain.requests.length = 0;
  const c = await send({ type: 'generic-hmac', address: 'http://unused.invalid', secretRef: { name: 's' } }, { s: { address: `  ${plain.url}/from-secret \n`, token: 'k1', headers: 'X-One: "1"\nX-Two: two\n' } });
  assert.equal(c.url, `${plain.url}/from-secret`);
  assert.equal(plain.requests[0].url, '/from-secret');
  assert.equal(plain.requests[0].headers['x-one'], '1');
  assert.equal(plain.requests[0].headers['x-two'], 'two');
  const lone = await providerCredentials(secrets({ s: { token: 'k1', username: 'only-user' } }), provider({ type: 'generic', secretRef: { name: 's' } }));
  assert.equal(lone.token, '', 'a malformed basic auth pair: no secret auth at all');
  assert.equal(lone.username, '');
  const pair = await providerCredentials(secrets({ s: { token: 'k1', username: 'u', password: 'p' } }), provider({ type: 'generic', username: 'spec-user', secretRef: { name: 's' } }));
  assert.deepEqual([pair.token, pair.username, pair.password], ['k1', 'u', 'p']);
  await assert.rejects(providerCredentials(secrets({}), provider({ type: 'generic', secretRef: { name: 'missing' } })), (e: unknown) => e instanceof TransientDeliveryError && /failed to get secret 'ns\/missing'/.test((e as Error).message));
});

test('certSecretRef: a private CA and a client certificate (mutual TLS)', async () => {
  tlsSeen.length = 0;
  const cert = { 'ca.crt': certs.ca, 'tls.crt': certs.clientCert, 'tls.key': certs.clientKey };
  await send({ type: 'generic', address: `${tlsUrl}/mtls`, certSecretRef: { name: 'tls' } }, { tls: cert });
  assert.deepEqual(tlsSeen, [{ url: '/mtls', clientCN: 'fluxless client' }]);
  await assert.rejects(send({ type: 'generic', address: `${tlsUrl}/mtls` }, {}), TransientDeliveryError, 'without the CA the server is not trusted');
  await assert.rejects(send({ type: 'generic', address: `${tlsUrl}/x`, certSecretRef: { name: 'tls' } }, { tls: { 'tls.crt': certs.clientCert } }), /must contain both tls\.crt and tls\.key/);
});

test('proxySecretRef: absolute-form through the proxy for http://, a CONNECT tunnel for https://, with basic auth', async () => {
  proxied.length = 0;
  plain.requests.length = 0;
  tlsSeen.length = 0;
  const p = { p: { address: proxyUrl, username: 'proxyuser', password: 'proxypass' }, tls: { 'ca.crt': certs.ca, 'tls.crt': certs.clientCert, 'tls.key': certs.clientKey } };
  await send({ type: 'generic', address: `${plain.url}/via-proxy`, proxySecretRef: { name: 'p' } }, p);
  await send({ type: 'generic', address: `${tlsUrl}/via-tunnel`, proxySecretRef: { name: 'p' }, certSecretRef: { name: 'tls' } }, p);
  const auth = `Basic ${Buffer.from('proxyuser:proxypass').toString('base64')}`;
  assert.deepEqual(proxied, [
    { method: 'POST', url: `${plain.url}/via-proxy`, auth },
    { method: 'CONNECT', url: tlsUrl.replace('https://', ''), auth },
  ]);
  assert.equal(plain.requests[0].url, '/via-proxy');
  assert.deepEqual(tlsSeen, [{ url: '/via-tunnel', clientCN: 'fluxless client' }]);
  await assert.rejects(send({ type: 'generic', address: `${plain.url}/x`, proxySecretRef: { name: 's' } }, { s: { address: 'socks5://127.0.0.1:1080' } }), /proxy scheme "socks5" is not supported/);
});
