import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { testEnv } from '../harness/index.js';
import { RegistryClient } from '../../shared/oci/client.js';
import { OciError } from '../../shared/oci/errors.js';
import { fetchOciRepository } from '../../shared/oci/fetch.js';
import { pushArtifact } from '../../shared/oci/push.js';
import { pullSecretKeychain } from '../../shared/oci/keychain.js';
import { dockerConfig, ociSpec, tree, uniqueRepo } from './helpers.js';
import { startFront, type Front } from './front.js';

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

describe('token auth flow (a token server in front of docker-registry)', () => {
  let front: Front;
  let repo = '';
  before(async () => {
    front = await startFront({ upstream: host, bearer: { users: { alice: 's3cret' }, refreshTokens: { 'refresh-abc': 'alice' } } });
    fronts.push(front);
    repo = uniqueRepo('fluxless/token');
  });

  test('401 challenge -> token with basic credentials for the scope -> retry; the token is reused', async () => {
    const pullSecret = dockerConfig(front.host, 'alice', 's3cret');
    // Push through the same flow: the push scope asks for pull,push.
    const pushClient = new RegistryClient({ keychain: pullSecretKeychain([pullSecret]) });
    const pushed = await pushArtifact({ url: `oci://${front.host}/${repo}:v1`, path: tree({ 'a.yaml': 'a: 1\n' }), source: GIT, revision: REV, client: pushClient });
    assert.ok(front.tokenRequests.some((t) => t.scopes.includes(`repository:${repo}:pull,push`)));

    front.tokenRequests.length = 0;
    front.requests.length = 0;
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' }, secretRef: { name: 'regcred' } });
    const got = await fetchOciRepository(spec, { pullSecret });
    assert.ok(got.changed);
    assert.equal(got.revision, `v1@${pushed.digest}`);
    assert.deepEqual(front.tokenRequests, [
      { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}`, scopes: [`repository:${repo}:pull`], service: 'fluxless-test-registry' },
    ]);
    // Every registry request after the token carries it; the secret itself never reaches the registry.
    assert.ok(front.requests.every((r) => !r.authorization?.startsWith('Basic')));
    assert.ok(front.requests.filter((r) => r.authorization?.startsWith('Bearer ')).length >= 2);

    front.tokenRequests.length = 0;
    front.requests.length = 0;
    const again = await fetchOciRepository(spec, { pullSecret }, { lastRevision: got.revision });
    assert.equal(again.changed, false);
    assert.equal(front.tokenRequests.length, 0, 'cached token reused');
    assert.equal(front.requests.length, 1, 'one HEAD, authorised up front');
  });

  test('wrong password: the token server refuses, the message says so and names no secret', async () => {
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } });
    await assert.rejects(fetchOciRepository(spec, { pullSecret: dockerConfig(front.host, 'alice', 'wrong') }), (err: unknown) => {
      assert.ok(err instanceof OciError);
      assert.equal(err.reason, 'OCIArtifactPullFailed');
      assert.match(err.message, /refused the credentials for registry 127\.0\.0\.1:\d+ \(HTTP 401\): incorrect username or password/);
      assert.doesNotMatch(err.message, /wrong/);
      return true;
    });
  });

  test('anonymous: denied with a hint to give a pull secret; credentials for another host are not used', async () => {
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } });
    await assert.rejects(fetchOciRepository(spec, undefined), /access to 127\.0\.0\.1:\d+\/fluxless\/token-\w+ denied anonymously/);
    front.tokenRequests.length = 0;
    await assert.rejects(fetchOciRepository(spec, { pullSecret: dockerConfig('ghcr.io', 'alice', 's3cret') }), /denied anonymously/);
    assert.ok(front.tokenRequests.every((t) => t.authorization === undefined));
  });

  test('identitytoken: the OAuth2 refresh-token grant (POST); registrytoken: sent as the bearer directly', async () => {
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } });
    const idSecret = { data: { '.dockerconfigjson': JSON.stringify({ auths: { [front.host]: { username: '<token>', identitytoken: 'refresh-abc' } } }) } };
    front.tokenRequests.length = 0;
    const viaRefresh = await fetchOciRepository(spec, { pullSecret: idSecret });
    assert.ok(viaRefresh.changed);
    assert.deepEqual(front.tokenRequests, [{ method: 'POST', scopes: [`repository:${repo}:pull`], service: 'fluxless-test-registry', grantType: 'refresh_token' }]);

    const issued = (await (
      await fetch(`http://${front.host}/token?service=x&scope=repository:${repo}:pull`, { headers: { authorization: `Basic ${Buffer.from('alice:s3cret').toString('base64')}` } })
    ).json()) as { token: string };
    front.tokenRequests.length = 0;
    front.requests.length = 0;
    const rtSecret = { data: { '.dockerconfigjson': JSON.stringify({ auths: { [front.host]: { registrytoken: issued.token } } }) } };
    const viaRegistryToken = await fetchOciRepository(spec, { pullSecret: rtSecret });
    assert.ok(viaRegistryToken.changed);
    assert.equal(front.tokenRequests.length, 0);
    assert.ok(front.requests.every((r) => r.authorization === `Bearer ${issued.token}`));
  });

  test('semver through the token flow lists tags with the pull token', async () => {
    const spec = ociSpec(`oci://${front.host}/${repo}`, { ref: { semver: '*' } });
    await assert.rejects(fetchOciRepository(spec, { pullSecret: dockerConfig(front.host, 'alice', 's3cret') }), /no match found for semver: \*/);
  });
});

describe('basic auth and dockerconfigjson', () => {
  test('a registry asking for HTTP basic gets the credentials of the matching auths entry', async () => {
    const front = await startFront({ upstream: host, basic: { users: { bob: 'pw' } } });
    fronts.push(front);
    const repo = uniqueRepo('fluxless/basic');
    const secret = {
      data: {
        '.dockerconfigjson': JSON.stringify({
          auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('hub:x').toString('base64') }, [`http://${front.host}`]: { username: 'bob', password: 'pw' } },
        }),
      },
      name: 'default/regcred',
    };
    const client = new RegistryClient({ keychain: pullSecretKeychain([secret]) });
    await pushArtifact({ url: `oci://${front.host}/${repo}:v1`, path: tree({ 'a.yaml': 'a' }), source: GIT, revision: REV, client });
    const got = await fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } }), { pullSecret: secret });
    assert.ok(got.changed);
    const bobAuth = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    assert.ok(front.requests.filter((r) => r.authorization).every((r) => r.authorization === bobAuth));
    await assert.rejects(fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } }), undefined), /requires credentials \(HTTP basic\)/);
    // Plain username/password (a HelmRepository type oci Secret, `--creds`) work too.
    const plain = await fetchOciRepository(ociSpec(`oci://${front.host}/${repo}`, { ref: { tag: 'v1' } }), { credentials: { username: 'bob', password: 'pw' } });
    assert.ok(plain.changed);
  });

  test('a pull secret that is not a docker config fails AuthenticationFailed before any request', async () => {
    const front = await startFront({ upstream: host });
    fronts.push(front);
    const spec = ociSpec(`oci://${front.host}/x/y`, { secretRef: { name: 'creds' } });
    await assert.rejects(fetchOciRepository(spec, { pullSecret: { data: { username: 'u', password: 'p' }, name: 'default/creds' } }), (err: unknown) => {
      assert.ok(err instanceof OciError);
      assert.equal(err.reason, 'AuthenticationFailed');
      assert.match(err.message, /^failed to get credential: Secret 'default\/creds' has no '\.dockerconfigjson' key/);
      return true;
    });
    assert.equal(front.requests.length, 0);
  });
});
