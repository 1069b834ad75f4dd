/**
 * generic-oidc Receivers (Flux 2.9) against a loopback OIDC issuer: discovery and JWKS
 * over real HTTP, tokens signed with the issuer's key.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { SignJWT, generateKeyPair } from 'jose';
import { createReceiverApp } from '../../shared/receivers/app.js';
import { FilteringRequester, StaticDirectory, captureLogger, entry } from './helpers.js';
import type { FakeObject } from './helpers.js';
import { startIssuer } from './issuer.js';
import type { TestIssuer } from './issuer.js';

/** Flux's path for a Receiver without a Secret: sha256("" + name + namespace). */
const oidcPath = (name: string, ns: string) => '/hook/' + createHash('sha256').update(name + ns).digest('hex');

const OBJECTS: FakeObject[] = [
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: 'apps', name: 'web', labels: { team: 'a' } },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: 'apps', name: 'api', labels: { team: 'a' } },
  { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'OCIRepository', namespace: 'apps', name: 'db', labels: { team: 'b' } },
];

describe('generic-oidc receiver', () => {
  let issuer: TestIssuer;
  let other: TestIssuer;
  let requester: FilteringRequester;
  let app: ReturnType<typeof createReceiverApp>;
  let lines: Array<Record<string, unknown>>;
  const path = oidcPath('ci', 'apps');

  before(async () => {
    issuer = await startIssuer();
    other = await startIssuer();
    const receiver = entry({
      name: 'ci',
      namespace: 'apps',
      type: 'generic-oidc',
      resources: [{ kind: 'OCIRepository', name: '*', matchLabels: { team: 'a' }, filter: 'res.metadata.name in claims.targets' }],
      spec: {
        resourceFilter: "claims.repository == 'acme/app'",
        oidcProviders: [{
          issuerURL: issuer.url,
          audience: 'fluxless',
          variables: [{ name: 'owner', expression: "claims.repository.split('/')[0]" }],
          validations: [
            { expression: "vars.owner == 'acme'", message: 'repository owner must be acme' },
            { expression: "claims.ref == 'refs/heads/main'", message: 'only main may deploy' },
          ],
        }],
      },
    }, '');
    requester = new FilteringRequester(OBJECTS);
    const log = captureLogger();
    lines = log.lines;
    app = createReceiverApp({ directory: new StaticDirectory([receiver]), requester, logger: log.logger });
  });
  after(async () => {
    await issuer.close();
    await other.close();
  });

  const claims = { aud: 'fluxless', sub: 'repo:acme/app:ref:refs/heads/main', repository: 'acme/app', ref: 'refs/heads/main', targets: ['web'] };
  const call = (token: string | undefined) =>
    app.request(path, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) } });

  test('a token signed by the issuer, with the right audience and claims, is accepted; filters see claims', async () => {
    const res = await call(await issuer.sign(claims));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'accepted', message: 'reconciliation requested', marked: 1 });
    // team=a selects web and api; the per-resource filter keeps only the claimed target.
    assert.deepEqual(requester.marked, ['OCIRepository/apps/web']);
  });

  test('discovery and keys are fetched once and reused', async () => {
    const before = issuer.requests.length;
    for (let i = 0; i < 3; i++) assert.equal((await call(await issuer.sign({ ...claims, targets: ['api'] }))).status, 200);
    assert.equal(issuer.requests.length, before);
    assert.deepEqual(issuer.requests.filter((p) => p.startsWith('/.well-known')).length, 1);
    assert.deepEqual(issuer.requests.filter((p) => p === '/jwks').length, 1);
  });

  const refused = async (token: string | undefined, status: number, reason: RegExp) => {
    const marked = requester.marked.length;
    const infos = requester.infos.length;
    const res = await call(token);
    assert.equal(res.status, status);
    assert.match(((await res.json()) as { error: string }).error, reason);
    assert.equal(requester.infos.length, infos, 'nothing may be requested');
    assert.equal(requester.marked.length, marked);
  };

  test('an expired token is rejected with 401', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    await refused(await issuer.sign({ ...claims, iat: past - 60, exp: past }), 401, /token is expired/);
  });

  test('a wrong audience is rejected with 401', async () => {
    await refused(await issuer.sign({ ...claims, aud: 'notification-controller' }), 401, /expected audience "fluxless"/);
  });

  test('a wrong issuer is rejected with 401', async () => {
    // Another (real, reachable) issuer the Receiver does not trust.
    await refused(await other.sign(claims), 401, /no oidcProvider configured for issuer/);
    assert.equal(other.requests.length, 0, 'an untrusted issuer is never contacted');
  });

  test('a token claiming the trusted issuer but signed with another key is rejected with 401', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ ...claims, iss: issuer.url, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'RS256', kid: 'key-1' })
      .sign(privateKey);
    await refused(forged, 401, /failed to verify OIDC token: signature verification failed/);
  });

  test('no bearer token, a malformed token, an HS256 token: 401', async () => {
    await refused(undefined, 401, /Authorization header is missing or malformed/);
    await refused('not.a.jwt', 401, /failed to parse bearer token/);
    const hs = await new SignJWT({ ...claims, iss: issuer.url }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode('k'.repeat(32)));
    await refused(hs, 401, /failed to verify OIDC token/);
  });

  test('failed validations are refused with 403 and every failing message', async () => {
    await refused(await issuer.sign({ ...claims, repository: 'evil/app', ref: 'refs/heads/dev' }), 403,
      /^token validation failed: repository owner must be acme; only main may deploy$/);
  });

  test('the top-level filter (claims) can exclude every target: 200, nothing marked', async () => {
    const before = requester.marked.length;
    const res = await call(await issuer.sign({ ...claims, repository: 'acme/other' }));
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { marked: number }).marked, 0);
    assert.equal(requester.marked.length, before);
  });

  test('no token or claim ends up in the logs', () => {
    const text = JSON.stringify(lines);
    assert.doesNotMatch(text, /eyJ[A-Za-z0-9_-]{10,}\./);
  });
});

describe('generic-oidc discovery checks', () => {
  test('a discovery document whose issuer differs from issuerURL is refused (503, not trusted)', async () => {
    const issuer = await startIssuer({ discoveryIssuer: () => 'https://elsewhere.example' });
    try {
      const receiver = entry({
        name: 'ci',
        namespace: 'apps',
        type: 'generic-oidc',
        spec: { oidcProviders: [{ issuerURL: issuer.url, validations: [{ expression: 'true', message: 'm' }] }] },
      }, '');
      const requester = new FilteringRequester([]);
      const app = createReceiverApp({ directory: new StaticDirectory([receiver]), requester, logger: captureLogger().logger });
      const token = await issuer.sign({ aud: 'notification-controller' });
      const res = await app.request(oidcPath('ci', 'apps'), { method: 'POST', body: '', headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, 503);
      assert.match(((await res.json()) as { error: string }).error, /issuer did not match the issuer returned by provider/);
      assert.equal(requester.infos.length, 0);
    } finally {
      await issuer.close();
    }
  });
});
