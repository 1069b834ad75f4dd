/**
 * EKS targets (spec.kubeConfig.configMapRef, provider aws): the ConfigMap on the real
 * management cluster, a loopback HTTPS server standing in for the EKS API server that
 * verifies each bearer token the way aws-iam-authenticator does (decoded, an STS
 * GetCallerIdentity URL presigned with SigV4 for this cluster name, recomputed here with
 * node:crypto independently of the signer), tokens refreshed before they expire (fake
 * clock), and a loopback EKS control API for DescribeCluster.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createKubeClient, KubeApiError } from '../../shared/kube/client.js';
import { eksToken, parseKubeConfigConfigMap } from '../../shared/kube/eks.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import { closeTargetClusters, resolveTarget } from '../../shared/kube/targets.js';
import type { ReconcileSettings } from '../../shared/reconcile/contract.js';
import { makeCerts } from '../oci/certs.js';
import { testEnv } from '../harness/index.js';

const REGION = 'us-west-2';
const CLUSTER = 'edge-eks';
const ARN = `arn:aws:eks:${REGION}:123456789012:cluster/${CLUSTER}`;
const CREDS = { accessKeyId: 'AKIAFLUXLESSTEST0001', secretAccessKey: 'fluxless/test/secret/key/0123456789abcdef', sessionToken: 'session+token/with=chars' };
const ALLOWED = new Set(['action', 'version', 'x-amz-algorithm', 'x-amz-credential', 'x-amz-date', 'x-amz-expires', 'x-amz-security-token', 'x-amz-signature', 'x-amz-signedheaders']);

const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();

/** aws-iam-authenticator's checks plus a SigV4 signature recomputation; the reason when the token is refused. */
function refuse(token: string, clusterName: string, now: Date): string | undefined {
  if (token.length > 4096) return 'token too long';
  if (!token.startsWith('k8s-aws-v1.')) return 'no prefix';
  const b64 = token.slice('k8s-aws-v1.'.length);
  if (b64.includes('=')) return 'padded base64';
  const url = new URL(Buffer.from(b64, 'base64url').toString('utf8'));
  if (url.protocol !== 'https:') return 'not https';
  if (url.host !== `sts.${REGION}.amazonaws.com`) return `not an STS host: ${url.host}`;
  if (url.pathname !== '/') return 'path';
  const seen = new Set<string>();
  for (const k of url.searchParams.keys()) {
    if (!ALLOWED.has(k.toLowerCase())) return `unexpected query key ${k}`;
    if (seen.has(k.toLowerCase())) return `duplicate key ${k}`;
    seen.add(k.toLowerCase());
  }
  const q = url.searchParams;
  if (q.get('Action') !== 'GetCallerIdentity') return 'action';
  if (q.get('Version') !== '2011-06-15') return 'version';
  const signed = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
  if (!signed.includes('x-k8s-aws-id')) return 'x-k8s-aws-id not signed';
  const expires = Number(q.get('X-Amz-Expires'));
  if (!(expires >= 0 && expires <= 900)) return 'expires';
  const date = q.get('X-Amz-Date') ?? '';
  const at = Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}T${date.slice(9, 11)}:${date.slice(11, 13)}:${date.slice(13, 15)}Z`);
  if (!(now.getTime() - at < 15 * 60_000 && at - now.getTime() < 60_000)) return 'expired';
  const day = date.slice(0, 8);
  const scope = `${day}/${REGION}/sts/aws4_request`;
  if (q.get('X-Amz-Credential') !== `${CREDS.accessKeyId}/${scope}`) return 'credential';
  if (q.get('X-Amz-Security-Token') !== CREDS.sessionToken) return 'session token';
  const canonicalQuery = [...q.entries()].filter(([k]) => k !== 'X-Amz-Signature').map(([k, v]) => [enc(k), enc(v)]).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${k}=${v}`).join('&');
  const headers: Record<string, string> = { host: url.host, 'x-k8s-aws-id': clusterName };
  const canonicalHeaders = signed.map((h) => `${h}:${headers[h] ?? ''}\n`).join('');
  const canonical = ['GET', '/', canonicalQuery, canonicalHeaders, signed.join(';'), createHash('sha256').update('').digest('hex')].join('\n');
  const toSign = ['AWS4-HMAC-SHA256', date, scope, createHash('sha256').update(canonical).digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${CREDS.secretAccessKey}`, day), REGION), 'sts'), 'aws4_request');
  if (createHmac('sha256', key).update(toSign).digest('hex') !== q.get('X-Amz-Signature')) return 'bad signature (not for this cluster, or tampered)';
  return undefined;
}

let clock = new Date('2026-03-01T10:00:00Z');
const tokens: string[] = [];
const certs = makeCerts();
const apiServer = createHttpsServer({ key: certs.serverKey, cert: certs.serverCert }, (req: IncomingMessage, res) => {
  const auth = req.headers.authorization ?? '';
  const token = auth.startsWith('Bearer ') ? auth.slice(7) : '';
  const why = refuse(token, CLUSTER, clock);
  if (why) {
    res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'Status', status: 'Failure', reason: 'Unauthorized', message: `Unauthorized: ${why}`, code: 401 }));
    return;
  }
  tokens.push(token);
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ kind: 'ConfigMapList', apiVersion: 'v1', items: [] }));
});
const describes: Array<{ path: string; authorization: string }> = [];
const eksControl = createHttpServer((req, res) => {
  describes.push({ path: req.url ?? '', authorization: String(req.headers.authorization ?? '') });
  const port = (apiServer.address() as AddressInfo).port;
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ cluster: { name: CLUSTER, endpoint: `https://127.0.0.1:${port}`, certificateAuthority: { data: Buffer.from(certs.ca).toString('base64') } } }));
});
await new Promise<void>((r) => apiServer.listen(0, '127.0.0.1', r));
await new Promise<void>((r) => eksControl.listen(0, '127.0.0.1', r));
after(() => {
  apiServer.close();
  eksControl.close();
});

const settings = (): ReconcileSettings =>
  ({ healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false, eks: { credentials: CREDS, now: () => clock, eksEndpoint: `http://127.0.0.1:${(eksControl.address() as AddressInfo).port}` } }) as ReconcileSettings;

describe('EKS targets (kubeConfig.configMapRef, provider aws)', () => {
  test('the verifier refuses a token for another cluster and a tampered one (it can fail)', async () => {
    const ok = (await eksToken({ region: REGION, name: CLUSTER }, CREDS, clock)).token;
    assert.equal(refuse(ok, CLUSTER, clock), undefined);
    assert.equal(ok.includes('='), false, 'base64url without padding');
    const other = (await eksToken({ region: REGION, name: 'other' }, CREDS, clock)).token;
    assert.match(refuse(other, CLUSTER, clock) ?? '', /bad signature/);
    const url = Buffer.from(ok.slice(11), 'base64url').toString('utf8').replace('Action=GetCallerIdentity', 'Action=AssumeRole');
    assert.equal(refuse(`k8s-aws-v1.${Buffer.from(url).toString('base64url')}`, CLUSTER, clock), 'action');
    assert.equal(refuse(ok, CLUSTER, new Date(clock.getTime() + 16 * 60_000)), 'expired');
  });

  test('tokens made in-process are accepted, reused, and replaced before they expire', async (t) => {
    const env = await testEnv();
    const admin = createKubeClient((await env.cluster()).kubeConfig());
    t.after(() => {
      closeTargetClusters(admin);
      admin.close();
    });
    const ns = await env.namespace(t, 'eks');
    const port = (apiServer.address() as AddressInfo).port;
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, {
      body: { metadata: { name: 'edge' }, data: { provider: 'aws', cluster: ARN, address: `https://127.0.0.1:${port}`, 'ca.crt': certs.ca } },
    });
    const svc = { client: admin, mapper: new RestMapper(admin), settings: settings() };
    tokens.length = 0;
    const target = await resolveTarget(svc, { namespace: ns, kubeConfig: { configMapRef: { name: 'edge' } } });
    t.after(() => target.release());
    assert.deepEqual(target.cluster, { name: CLUSTER, server: `https://127.0.0.1:${port}` });
    assert.equal(target.remote, true);
    await target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`);
    clock = new Date(clock.getTime() + 12 * 60_000);
    await target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`);
    assert.equal(tokens.length, 2);
    assert.equal(tokens[0], tokens[1], 'reused while it has more than the refresh margin left');
    clock = new Date(clock.getTime() + 90_000);
    await target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`);
    assert.equal(tokens.length, 3);
    assert.notEqual(tokens[2], tokens[1], 'replaced before EKS would refuse it');
    const tool = await target.toolKubeConfig();
    assert.equal(tool?.getCurrentUser()?.token, tokens[2], 'helm gets a kubeconfig with the current token');
    assert.equal(describes.length, 0, 'address and ca.crt given: EKS is not called');
  });

  test('without address and ca.crt, DescribeCluster (SigV4, eks) supplies them', async (t) => {
    const env = await testEnv();
    const admin = createKubeClient((await env.cluster()).kubeConfig());
    t.after(() => {
      closeTargetClusters(admin);
      admin.close();
    });
    const ns = await env.namespace(t, 'eks');
    await admin.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { body: { metadata: { name: 'edge' }, data: { provider: 'aws', cluster: ARN } } });
    const svc = { client: admin, mapper: new RestMapper(admin), settings: settings() };
    describes.length = 0;
    const target = await resolveTarget(svc, { namespace: ns, kubeConfig: { configMapRef: { name: 'edge' } } });
    t.after(() => target.release());
    assert.deepEqual(describes.map((d) => d.path), [`/clusters/${CLUSTER}`]);
    assert.match(describes[0].authorization, new RegExp(`^AWS4-HMAC-SHA256 Credential=${CREDS.accessKeyId}/\\d{8}/${REGION}/eks/aws4_request, SignedHeaders=`));
    await target.client.request('GET', `/api/v1/namespaces/${ns}/configmaps`);

    await assert.rejects(resolveTarget(svc, { namespace: ns, kubeConfig: { configMapRef: { name: 'missing' } } }), {
      message: `failed to get configmap ${ns}/missing: configmaps "missing" not found`,
    });
  });

  test("the ConfigMap's keys as Flux defines them; other providers and object-level identity are refused clearly", () => {
    assert.deepEqual(parseKubeConfigConfigMap({ provider: 'aws', cluster: ARN, address: 'Example.COM' }, 'cm'), {
      cluster: { arn: ARN, region: REGION, name: CLUSTER },
      address: 'https://example.com:443',
      caPem: undefined,
    });
    assert.throws(() => parseKubeConfigConfigMap({ provider: 'gcp', cluster: 'projects/p/locations/l/clusters/c' }, 'cm'), /provider 'gcp' is not supported by Fluxless/);
    assert.throws(() => parseKubeConfigConfigMap({ provider: 'aws' }, 'cm'), /'cluster' key \(the EKS cluster ARN\) is required/);
    assert.throws(() => parseKubeConfigConfigMap({ provider: 'aws', cluster: 'arn:aws:eks:us-west-2:1:nodegroup/x' }, 'cm'), /invalid EKS cluster ARN/);
    assert.throws(() => parseKubeConfigConfigMap({ provider: 'aws', cluster: ARN, serviceAccountName: 'sa' }, 'cm'), /object-level workload identity\) is not supported/);
    assert.throws(() => parseKubeConfigConfigMap({ provider: 'aws', cluster: ARN, address: 'http://x' }, 'cm'), /must use https scheme/);
  });

  test('a token the API server refuses is an API error, not a crash', async () => {
    const kcToken = 'k8s-aws-v1.' + Buffer.from('https://sts.us-west-2.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15').toString('base64url');
    assert.equal(refuse(kcToken, CLUSTER, clock), 'x-k8s-aws-id not signed');
    const { KubeConfig } = await import('@kubernetes/client-node');
    const kc = new KubeConfig();
    const port = (apiServer.address() as AddressInfo).port;
    kc.loadFromOptions({ clusters: [{ name: 'x', server: `https://127.0.0.1:${port}`, caData: Buffer.from(certs.ca).toString('base64'), skipTLSVerify: false }], users: [{ name: 'u' }], contexts: [{ name: 'x', cluster: 'x', user: 'u' }], currentContext: 'x' });
    const c = createKubeClient(kc, { bearerToken: () => Promise.resolve(kcToken) });
    try {
      await assert.rejects(c.request('GET', '/api/v1/namespaces/x/configmaps'), (err: unknown) => err instanceof KubeApiError && err.status === 401);
    } finally {
      c.close();
    }
  });
});
