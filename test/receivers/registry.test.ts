/**
 * Registry receiver types with Flux's checks per type (notification-controller v1) and the
 * images each event is about, handed to the requester as `info.artifacts`.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { createReceiverApp } from '../../shared/receivers/app.js';
import type { ReceiverAppDeps } from '../../shared/receivers/app.js';
import type { ReceiverEntry } from '../../shared/receivers/directory.js';
import { FilteringRequester, StaticDirectory, captureLogger, entry, fixture, hmac, hookPath } from './helpers.js';
import type { FakeObject } from './helpers.js';
import { startIssuer } from './issuer.js';
import type { TestIssuer } from './issuer.js';

const TOKEN = 'registry-' + randomBytes(12).toString('hex');
const NS = 'flux-system';
const IMAGE_REPOS = [{ kind: 'ImageRepository', name: '*', matchLabels: {} }];
const OBJECTS: FakeObject[] = [
  { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', namespace: NS, name: 'podinfo' },
  { apiVersion: 'image.toolkit.fluxcd.io/v1', kind: 'ImageRepository', namespace: NS, name: 'redis' },
];
const GCR_SECRET = { token: TOKEN, email: 'pusher@acme-prod.iam.gserviceaccount.com', audience: 'https://hooks.acme.example/gcr' };

function receivers(): ReceiverEntry[] {
  const r = (name: string, type: string, extra: Record<string, unknown> = {}, secret?: Record<string, string>) =>
    entry({ name, type, resources: IMAGE_REPOS, ...extra }, TOKEN, secret);
  return [
    r('dockerhub', 'dockerhub'),
    r('quay', 'quay'),
    r('acr', 'acr'),
    r('harbor', 'harbor'),
    r('nexus', 'nexus'),
    r('gcr', 'gcr', { spec: { resourceFilter: 'req.tag.contains(res.metadata.name)' } }, GCR_SECRET),
    r('gcr-no-audience', 'gcr', {}, { token: TOKEN, email: GCR_SECRET.email }),
    r('cdevents', 'cdevents', { events: ['dev.cdevents.artifact.published.0.2.0'] }),
    r('github-packages', 'github', { events: ['ping', 'package'] }),
    r('distribution', 'distribution'),
    r('distribution-all', 'distribution', { events: ['push', 'pull'] }),
  ];
}

describe('registry receivers', () => {
  let issuer: TestIssuer;
  let requester: FilteringRequester;
  let app: ReturnType<typeof createReceiverApp>;

  let logLines: Array<Record<string, unknown>> = [];
  before(async () => {
    // A stand-in for Google's JWKS endpoint; issuers stay Google's.
    issuer = await startIssuer();
    requester = new FilteringRequester(OBJECTS);
    const captured = captureLogger();
    logLines = captured.lines;
    const deps: ReceiverAppDeps = {
      directory: new StaticDirectory(receivers()),
      requester,
      logger: captured.logger,
      googleIdTokens: { jwksUri: issuer.jwksUrl },
    };
    app = createReceiverApp(deps);
  });
  after(() => issuer.close());

  const send = (name: string, body: string, headers: Record<string, string> = {}) =>
    app.request(hookPath(TOKEN, name, NS), { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });

  /** Send, expect 200 accepted, and return what the requester got. */
  const accepted = async (name: string, body: string, headers: Record<string, string> = {}) => {
    const before = requester.infos.length;
    const res = await send(name, body, headers);
    const json = (await res.json()) as Record<string, unknown>;
    assert.equal(res.status, 200, JSON.stringify(json));
    assert.equal(json.status, 'accepted');
    assert.equal(requester.infos.length, before + 1);
    return requester.infos.at(-1)!;
  };

  const refused = async (name: string, body: string, headers: Record<string, string>, status: number, reason: RegExp) => {
    const before = requester.infos.length;
    const res = await send(name, body, headers);
    assert.equal(res.status, status);
    assert.match(((await res.json()) as { error: string }).error, reason);
    assert.equal(requester.infos.length, before, 'nothing may be requested');
  };

  test('dockerhub: the path is the authentication; the image is docker.io/<repo_name>', async () => {
    const info = await accepted('dockerhub', fixture('dockerhub-push.json'));
    assert.deepEqual(info.artifacts, [{ image: 'docker.io/acme/podinfo', host: 'docker.io', repository: 'acme/podinfo', tag: '6.7.1', action: 'push' }]);
    await refused('dockerhub', 'not json', {}, 400, /cannot decode DockerHub webhook payload/);
    await refused('dockerhub', '{"push_data": "6.7.1"}', {}, 400, /push_data/);
  });

  test('quay: one artifact per updated tag', async () => {
    const info = await accepted('quay', fixture('quay-push.json'));
    assert.deepEqual(info.artifacts?.map((a) => `${a.image}:${a.tag}`), ['quay.io/acme/podinfo:6.7.1', 'quay.io/acme/podinfo:latest']);
    await refused('quay', '{"updated_tags": "latest"}', {}, 400, /cannot decode Quay webhook payload/);
  });

  test('acr: host from request.host, digest and media type; the event id de-duplicates', async () => {
    const body = fixture('acr-push.json');
    const info = await accepted('acr', body);
    assert.deepEqual(info.artifacts, [{
      image: 'acmeregistry.azurecr.io/team/podinfo',
      host: 'acmeregistry.azurecr.io',
      repository: 'team/podinfo',
      tag: '6.7.1',
      digest: 'sha256:80f0d5c8786bb9e621a45ece0db56d11cdc624ad20da9fe62e9d25490f331d7d',
      action: 'push',
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
    }]);
    assert.equal(info.deliveryId, 'cb8c3971-9adc-488b-bdd8-43cbb4974ff5');
    const again = await send('acr', body);
    assert.equal(((await again.json()) as { status: string }).status, 'duplicate');
    await refused('acr', '{"target": {"repository": 7}}', {}, 400, /cannot decode ACR webhook payload/);
  });

  test('harbor: Authorization must equal the token exactly', async () => {
    const body = fixture('harbor-push.json');
    const info = await accepted('harbor', body, { authorization: TOKEN });
    assert.deepEqual(info.artifacts, [{
      image: 'harbor.acme.example/library/podinfo',
      host: 'harbor.acme.example',
      repository: 'library/podinfo',
      tag: '6.7.1',
      digest: 'sha256:76525f02955aec223342400a080c73024c995c9db1ba2eabf7505cf3bdf3f1f0',
      action: 'PUSH_ARTIFACT',
    }]);
    await refused('harbor', body, { authorization: `Bearer ${TOKEN}` }, 401, /does not match the receiver token/);
    await refused('harbor', body, {}, 401, /Authorization header is missing/);
    // Flux does not parse Harbor bodies: an authenticated body that is not JSON is still a trigger.
    const plain = await accepted('harbor', 'ping', { authorization: TOKEN, 'content-type': 'text/plain' });
    assert.equal(plain.artifacts, undefined);
  });

  test('nexus: HMAC-SHA1 of the body in X-Nexus-Webhook-Signature (lowercase hex)', async () => {
    const body = fixture('nexus-component.json');
    const sig = createHmac('sha1', TOKEN).update(body).digest('hex');
    const info = await accepted('nexus', body, { 'x-nexus-webhook-signature': sig, 'x-nexus-webhook-delivery': 'd-1' });
    assert.deepEqual(info.artifacts, [{ image: 'acme/podinfo', host: '', repository: 'acme/podinfo', tag: '6.7.1', action: 'CREATED' }]);
    assert.equal(info.deliveryId, 'd-1');
    const forged = createHmac('sha1', 'guess').update(body).digest('hex');
    await refused('nexus', body, { 'x-nexus-webhook-signature': forged }, 401, /invalid Nexus signature/);
    await refused('nexus', body, { 'x-nexus-webhook-signature': sig.toUpperCase() }, 401, /invalid Nexus signature/);
    await refused('nexus', body, {}, 401, /Nexus signature is missing/);
    // Signed but malformed: 400.
    const bad = '{"action": 1}';
    await refused('nexus', bad, { 'x-nexus-webhook-signature': createHmac('sha1', TOKEN).update(bad).digest('hex') }, 400, /cannot decode Nexus/);
  });

  const pubsub = (data: unknown, messageId = 'm-' + randomBytes(4).toString('hex')) => JSON.stringify({
    message: { attributes: {}, data: Buffer.from(JSON.stringify(data)).toString('base64'), messageId, publishTime: '2026-07-07T16:52:01.343Z' },
    subscription: 'projects/acme-prod/subscriptions/fluxless',
  });
  const gcrEvent = { action: 'INSERT', digest: 'us-docker.pkg.dev/acme-prod/images/podinfo@sha256:6ec128e26cd5', tag: 'us-docker.pkg.dev/acme-prod/images/podinfo:6.7.1' };
  const googleToken = (claims: Record<string, unknown> = {}) => issuer.sign({
    iss: 'https://accounts.google.com',
    aud: GCR_SECRET.audience,
    email: GCR_SECRET.email,
    email_verified: true,
    sub: '1234567890',
    ...claims,
  });

  test('gcr: a Google-signed token for the Secret audience and email; filters see the unwrapped data', async () => {
    const markedBefore = requester.marked.length;
    const info = await accepted('gcr', pubsub(gcrEvent, 'msg-1'), { authorization: `Bearer ${await googleToken()}` });
    assert.deepEqual(info.artifacts, [{
      image: 'us-docker.pkg.dev/acme-prod/images/podinfo',
      host: 'us-docker.pkg.dev',
      repository: 'acme-prod/images/podinfo',
      tag: '6.7.1',
      digest: 'sha256:6ec128e26cd5',
      action: 'INSERT',
    }]);
    assert.equal(info.deliveryId, 'msg-1');
    // resourceFilter req.tag.contains(res.metadata.name): only podinfo is marked.
    assert.deepEqual(requester.marked.slice(markedBefore), ['ImageRepository/flux-system/podinfo']);
  });

  test('gcr: wrong audience, email, unverified email, other issuer, expired: 401; no Secret audience: 400', async () => {
    const body = pubsub(gcrEvent);
    const bearer = async (c: Record<string, unknown>) => ({ authorization: `Bearer ${await googleToken(c)}` });
    // The caller learns what was wrong with its token, not what the Receiver expects; the log has both.
    await refused('gcr', body, await bearer({ aud: 'https://other' }), 401, /^cannot authenticate GCR request: invalid ID token: audience is 'https:\/\/other', not the Receiver's audience$/);
    assert.ok(logLines.some((l) => l.status === 401 && l.detail === `want '${GCR_SECRET.audience}'`));
    await refused('gcr', body, await bearer({ email: 'intruder@evil.iam.gserviceaccount.com' }), 401, /^cannot authenticate GCR request: token email is 'intruder@evil\.iam\.gserviceaccount\.com', not the Receiver's service account$/);
    assert.ok(logLines.some((l) => l.status === 401 && l.detail === `want '${GCR_SECRET.email}'`));
    await refused('gcr', body, await bearer({ email_verified: false }), 401, /is not verified/);
    await refused('gcr', body, await bearer({ iss: 'https://evil.example' }), 401, /token issuer is 'https:\/\/evil\.example'/);
    const past = Math.floor(Date.now() / 1000) - 3600;
    await refused('gcr', body, await bearer({ iat: past - 60, exp: past }), 401, /token expired/);
    await refused('gcr', body, {}, 401, /Authorization header is missing/);
    await refused('gcr-no-audience', body, await bearer({}), 400, /needs the key 'audience'/);
    await refused('gcr', JSON.stringify({ message: { data: 'bm90IGpzb24=' } }), await bearer({}), 400, /message\.data is not base64-encoded JSON/);
  });

  test('cdevents: a valid CDEvent, Ce-Type checked against spec.events; the artifact from the package URL', async () => {
    const body = fixture('cdevents-artifact-published.json');
    const info = await accepted('cdevents', body, { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' });
    assert.deepEqual(info.artifacts, [{
      image: 'ghcr.io/acme/podinfo',
      host: 'ghcr.io',
      repository: 'acme/podinfo',
      tag: '6.7.1',
      digest: 'sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427',
      action: 'published',
    }]);
    await refused('cdevents', body, { 'ce-type': 'dev.cdevents.build.finished.0.2.0' }, 400, /is not authorised/);
    const broken = JSON.parse(body) as { context: Record<string, unknown> };
    delete broken.context.id;
    await refused('cdevents', JSON.stringify(broken), { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' }, 400, /context\.id is required/);
    broken.context.id = 'x';
    broken.context.type = 'dev.cdevents.artifact.exploded.0.2.0';
    await refused('cdevents', JSON.stringify(broken), {}, 400, /unknown CDEvent type/);
  });

  test('cdevents: a package URL with a malformed % escape is accepted without naming an image (as Flux, 200)', async () => {
    const event = JSON.parse(fixture('cdevents-artifact-published.json')) as { context: { id: string }; subject: { id: string } };
    for (const id of ['pkg:oci/podinfo%zz@sha256:00?repository_url=ghcr.io/acme/podinfo', 'pkg:oci/podinfo@sha256%E0%A4%A']) {
      event.subject.id = id;
      event.context.id = `malformed-${id.length}`;
      const info = await accepted('cdevents', JSON.stringify(event), { 'ce-type': 'dev.cdevents.artifact.published.0.2.0' });
      assert.equal(info.artifacts, undefined, id);
    }
  });

  test('github package events: signed as any GitHub hook; the image from package_url', async () => {
    const body = fixture('github-package.json');
    const headers = { 'x-github-event': 'package', 'x-github-delivery': 'pkg-1', 'x-hub-signature-256': hmac('sha256', TOKEN, body) };
    const info = await accepted('github-packages', body, headers);
    assert.deepEqual(info.artifacts, [{
      image: 'ghcr.io/acme/podinfo',
      host: 'ghcr.io',
      repository: 'acme/podinfo',
      tag: '6.7.1',
      digest: 'sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427',
      action: 'published',
    }]);
    await refused('github-packages', body, { ...headers, 'x-hub-signature-256': hmac('sha256', 'x', body) }, 401, /signature/);
    const push = fixture('github-push.json');
    await refused('github-packages', push, { 'x-github-event': 'push', 'x-hub-signature-256': hmac('sha256', TOKEN, push) }, 400, /not authorised/);
  });

  const distHeaders = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/vnd.docker.distribution.events.v2+json' };

  test('distribution: manifest pushes only (blobs and pulls ignored), authenticated by the Bearer header', async () => {
    const body = fixture('distribution-events.json');
    const info = await accepted('distribution', body, distHeaders);
    assert.deepEqual(info.artifacts, [{
      image: 'registry.acme.example:5000/acme/podinfo',
      host: 'registry.acme.example:5000',
      repository: 'acme/podinfo',
      tag: '6.7.1',
      digest: 'sha256:0b31b1c02ff458ad9b7b81cbdf8f028bd54699fa151f221d1e8de6817db93427',
      action: 'push',
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
    }]);
    // The registry resends the same envelope after a failure: handled once.
    const again = await send('distribution', body, distHeaders);
    assert.equal(((await again.json()) as { status: string }).status, 'duplicate');
    // spec.events widens the actions.
    const all = await accepted('distribution-all', body, distHeaders);
    assert.deepEqual(all.artifacts?.map((a) => `${a.action} ${a.repository}`), ['push acme/podinfo', 'pull acme/other']);

    await refused('distribution', body, { ...distHeaders, authorization: TOKEN }, 401, /does not match "Bearer <receiver token>"/);
    await refused('distribution', body, { 'content-type': distHeaders['content-type'] }, 401, /Authorization header is missing/);
    await refused('distribution', '{"no": "events"}', distHeaders, 400, /no "events" list/);
  });

  test('distribution: an envelope of blob uploads only is answered 200 ignored, nothing requested', async () => {
    const envelope = JSON.parse(fixture('distribution-events.json')) as { events: unknown[] };
    const before = requester.infos.length;
    const res = await send('distribution', JSON.stringify({ events: [envelope.events[0]] }), distHeaders);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ignored');
    assert.equal(requester.infos.length, before);
  });
});
