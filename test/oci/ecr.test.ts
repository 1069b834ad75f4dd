import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { testEnv } from '../harness/index.js';
import { clearEcrCache, ecrCredential, parseEcrHost } from '../../shared/oci/ecr.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository } from '../../shared/oci/fetch.js';
import { pushArtifact } from '../../shared/oci/push.js';
import { ociSpec, tree, uniqueRepo } from './helpers.js';
import { startFront, type Front } from './front.js';

interface Recorded {
  path: string;
  target?: string;
  authorization?: string;
  contentType?: string;
  body: string;
}

/** A loopback stand-in for the ECR (and ECR Public) API that records what it is asked. */
async function startEcrApi(password: string, expiresInS = 12 * 3600): Promise<{ endpoint: string; calls: Recorded[]; close(): Promise<void> }> {
  const calls: Recorded[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const target = req.headers['x-amz-target'] as string | undefined;
      calls.push({ path: req.url ?? '', target, authorization: req.headers.authorization, contentType: req.headers['content-type'], body: Buffer.concat(chunks).toString() });
      const token = Buffer.from(`AWS:${password}`).toString('base64');
      const expiresAt = Date.now() / 1000 + expiresInS;
      const data = target?.startsWith('SpencerFrontendService')
        ? { authorizationData: { authorizationToken: token, expiresAt } }
        : { authorizationData: [{ authorizationToken: token, expiresAt, proxyEndpoint: 'https://123456789012.dkr.ecr.eu-west-1.amazonaws.com' }] };
      res.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      res.end(JSON.stringify(data));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    calls,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const credentials = { accessKeyId: 'AKIDTEST', secretAccessKey: 'test-secret' };
const ECR_HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
let host = '';
const cleanups: (() => Promise<void>)[] = [];
before(async () => {
  host = (await (await testEnv()).registry()).host;
});
after(async () => {
  for (const c of cleanups) await c();
});

describe('provider aws (ECR)', () => {
  test('host patterns: private (fips, China, dual-stack), public; anything else is refused', () => {
    assert.deepEqual(parseEcrHost(ECR_HOST), { account: '123456789012', region: 'eu-west-1', public: false });
    assert.equal(parseEcrHost('123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com').region, 'us-gov-west-1');
    assert.equal(parseEcrHost('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn').region, 'cn-north-1');
    assert.equal(parseEcrHost('123456789012.dkr-ecr.us-east-2.on.aws').region, 'us-east-2');
    assert.deepEqual(parseEcrHost('public.ecr.aws'), { region: 'us-east-1', public: true });
    assert.throws(() => parseEcrHost('ghcr.io'), /invalid AWS registry: 'ghcr.io'. must match/);
    assert.throws(() => parseEcrHost(`${ECR_HOST}.evil.example`), /invalid AWS registry/);
  });

  test('GetAuthorizationToken in the region of the host, token decoded to AWS:<password>, cached', async () => {
    clearEcrCache();
    const api = await startEcrApi('ecr-pw-1');
    cleanups.push(api.close);
    const c1 = await ecrCredential(ECR_HOST, { endpoint: api.endpoint, credentials });
    const c2 = await ecrCredential(ECR_HOST, { endpoint: api.endpoint, credentials });
    assert.equal(c1.username, 'AWS');
    assert.equal(c1.password, 'ecr-pw-1');
    assert.equal(c2.password, 'ecr-pw-1');
    assert.equal(api.calls.length, 1, 'the second call is served from the cache');
    const call = api.calls[0];
    assert.equal(call.target, 'AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken');
    assert.equal(call.contentType, 'application/x-amz-json-1.1');
    assert.match(call.authorization ?? '', /^AWS4-HMAC-SHA256 Credential=AKIDTEST\/\d{8}\/eu-west-1\/ecr\/aws4_request/);
  });

  test('a token about to expire is not cached (80% of its lifetime, as Flux)', async () => {
    clearEcrCache();
    const api = await startEcrApi('short', 1);
    cleanups.push(api.close);
    let now = Date.now();
    await ecrCredential(ECR_HOST, { endpoint: api.endpoint, credentials, now: () => now });
    now += 900; // past 80% of 1 s
    await ecrCredential(ECR_HOST, { endpoint: api.endpoint, credentials, now: () => now });
    assert.equal(api.calls.length, 2);
  });

  test('public.ecr.aws goes to ECR Public, signed for ecr-public in us-east-1', async () => {
    clearEcrCache();
    const api = await startEcrApi('pub-pw');
    cleanups.push(api.close);
    const c = await ecrCredential('public.ecr.aws', { publicEndpoint: api.endpoint + '/', credentials });
    assert.equal(c.password, 'pub-pw');
    assert.equal(api.calls[0].target, 'SpencerFrontendService.GetAuthorizationToken');
    assert.match(api.calls[0].authorization ?? '', /Credential=AKIDTEST\/\d{8}\/us-east-1\/ecr-public\/aws4_request/);
  });

  test('a host that is not ECR fails AuthenticationFailed before anything is sent', async () => {
    clearEcrCache();
    const api = await startEcrApi('x');
    cleanups.push(api.close);
    await assert.rejects(fetchOciRepository(ociSpec('oci://ghcr.io/org/app', { provider: 'aws' }), { ecr: { endpoint: api.endpoint, credentials } }), (err: unknown) => {
      assert.ok(err instanceof OciError);
      assert.equal(err.reason, 'AuthenticationFailed');
      assert.match(err.message, /^failed to get credential from aws: invalid AWS registry: 'ghcr.io'/);
      return true;
    });
    assert.equal(api.calls.length, 0);
  });

  test('end to end: the ECR password opens a registry that wants it (the ECR host dialled on loopback)', async () => {
    clearEcrCache();
    const api = await startEcrApi('ecr-pw-2');
    cleanups.push(api.close);
    const front: Front = await startFront({ upstream: host, basic: { users: { AWS: 'ecr-pw-2' } } });
    cleanups.push(front.close);
    const repo = uniqueRepo('fluxless/ecr');
    await pushArtifact({ url: `oci://${host}/${repo}:v1`, path: tree({ 'a.yaml': 'a' }), source: 'https://x', revision: 'main@sha1:' + 'b'.repeat(40) });
    const spec = ociSpec(`oci://${ECR_HOST}/${repo}`, { ref: { tag: 'v1' }, provider: 'aws', insecure: true });
    const got = await fetchOciRepository(spec, { ecr: { endpoint: api.endpoint, credentials } }, { clientOptions: { resolve: { [ECR_HOST]: front.host } } });
    assert.ok(got.changed);
    assert.equal(api.calls.length, 1);
    assert.ok(front.requests.some((r) => r.authorization === `Basic ${Buffer.from('AWS:ecr-pw-2').toString('base64')}`));
  });
});
