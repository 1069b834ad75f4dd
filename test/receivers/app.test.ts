import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { createReceiverApp } from '../../shared/receivers/app.js';
import type { ReceiverAppDeps } from '../../shared/receivers/app.js';
import type { ReceiverEntry } from '../../shared/receivers/directory.js';
import { ReceiverTargetsError } from '../../shared/receivers/errors.js';
import {
  RecordingRequester,
  StaticDirectory,
  VersionedDirectory,
  captureLogger,
  entry,
  fixture,
  hmac,
  hookPath,
} from './helpers.js';

const TOKEN = 'c2VjcmV0LXRva2VuLWZvci10ZXN0cw-' + randomBytes(8).toString('hex');
const OTHER = 'not-the-receiver-token';
const THREE_MIB = 3 * 1024 * 1024;

const pushJson = fixture('github-push.json');
const pingJson = fixture('github-ping.json');
const gitlabJson = fixture('gitlab-push.json');
const bitbucketJson = fixture('bitbucket-server-push.json');

function receivers(): ReceiverEntry[] {
  return [
    entry({
      name: 'github-receiver',
      type: 'github',
      events: ['push'],
      resources: [
        { kind: 'GitRepository', name: 'flux-system' },
        { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', namespace: 'apps', matchLabels: { 'app.kubernetes.io/part-of': 'web' } },
        { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'podinfo', matchLabels: { ignored: 'yes' } },
      ],
    }, TOKEN),
    entry({ name: 'github-any', type: 'github' }, TOKEN),
    entry({ name: 'gitlab-receiver', type: 'gitlab', events: ['Push Hook'] }, TOKEN),
    entry({ name: 'bitbucket-receiver', type: 'bitbucket', events: ['repo:refs_changed'] }, TOKEN),
    entry({ name: 'generic-receiver', namespace: 'team-a', type: 'generic' }, TOKEN),
    entry({ name: 'hmac-receiver', type: 'generic-hmac' }, TOKEN),
    entry({ name: 'suspended-receiver', type: 'github', suspend: true }, TOKEN),
  ];
}

function setup(over: Partial<ReceiverAppDeps> = {}, list: ReceiverEntry[] = receivers()) {
  const directory = new StaticDirectory(list);
  const requester = new RecordingRequester();
  const { logger, lines } = captureLogger();
  const app = createReceiverApp({ directory, requester, logger, ...over });
  return { app, directory, requester, lines };
}

const path = (name: string, ns = 'flux-system', token = TOKEN) => hookPath(token, name, ns);

function githubHeaders(body: string | Buffer, opts: { event?: string; delivery?: string; secret?: string; contentType?: string } = {}): Record<string, string> {
  return {
    'content-type': opts.contentType ?? 'application/json',
    'user-agent': 'GitHub-Hookshot/a5b0c1e',
    'x-github-event': opts.event ?? 'push',
    'x-github-delivery': opts.delivery ?? randomUUID(),
    'x-github-hook-id': '482716351',
    'x-hub-signature': hmac('sha1', opts.secret ?? TOKEN, body),
    'x-hub-signature-256': hmac('sha256', opts.secret ?? TOKEN, body),
  };
}

async function json(res: Response): Promise<Record<string, unknown>> {
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  return (await res.json()) as Record<string, unknown>;
}

describe('GitHub receiver', () => {
  test('a signed push requests reconciliation of spec.resources, with apiVersion/namespace resolved', async () => {
    const { app, requester } = setup();
    const delivery = randomUUID();
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { delivery }) });
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, 'accepted');
    assert.equal(body.marked, 3);
    assert.equal(requester.calls.length, 1);
    const call = requester.calls[0];
    assert.deepEqual(call.receiver, { namespace: 'flux-system', name: 'github-receiver' });
    assert.deepEqual(call.info, { event: 'push', deliveryId: delivery });
    assert.deepEqual(call.targets, [
      { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' },
      { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', namespace: 'apps', matchLabels: { 'app.kubernetes.io/part-of': 'web' } },
      // Flux ignores matchLabels unless the name is '*'.
      { apiVersion: 'helm.toolkit.fluxcd.io/v2', kind: 'HelmRelease', name: 'podinfo', namespace: 'flux-system' },
    ]);
  });

  test('falls back to X-Hub-Signature (sha1) when X-Hub-Signature-256 is absent', async () => {
    const { app, requester } = setup();
    const headers = githubHeaders(pushJson);
    delete headers['x-hub-signature-256'];
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers });
    assert.equal(res.status, 200);
    assert.equal(requester.calls.length, 1);
  });

  test('X-Hub-Signature-256 takes precedence over X-Hub-Signature', async () => {
    const { app, requester } = setup();
    const headers = githubHeaders(pushJson);
    headers['x-hub-signature-256'] = hmac('sha256', OTHER, pushJson);
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers });
    assert.equal(res.status, 401);
    assert.equal(requester.calls.length, 0);
  });

  test('wrong signature -> 401 and nothing is reconciled', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { secret: OTHER }) });
    assert.equal(res.status, 401);
    assert.match(String((await json(res)).error), /signature .*does not match/);
    assert.equal(requester.calls.length, 0);
  });

  test('a body changed after signing -> 401', async () => {
    const { app, requester } = setup();
    const headers = githubHeaders(pushJson);
    const tampered = pushJson.replace('refs/heads/main', 'refs/heads/evil');
    const res = await app.request(path('github-receiver'), { method: 'POST', body: tampered, headers });
    assert.equal(res.status, 401);
    assert.equal(requester.calls.length, 0);
  });

  test('missing signature -> 401', async () => {
    const { app, requester } = setup();
    const headers = githubHeaders(pushJson);
    delete headers['x-hub-signature'];
    delete headers['x-hub-signature-256'];
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers });
    assert.equal(res.status, 401);
    assert.match(String((await json(res)).error), /missing signature/);
    assert.equal(requester.calls.length, 0);
  });

  test('form-encoded payload= body, signed over the raw form body', async () => {
    const { app, requester } = setup();
    const form = new URLSearchParams({ payload: pushJson }).toString();
    const res = await app.request(path('github-receiver'), {
      method: 'POST',
      body: form,
      headers: githubHeaders(form, { contentType: 'application/x-www-form-urlencoded' }),
    });
    assert.equal(res.status, 200);
    assert.equal(requester.calls.length, 1);
  });

  test('form-encoded body without payload= -> 400', async () => {
    const { app, requester } = setup();
    const form = 'foo=bar';
    const res = await app.request(path('github-receiver'), {
      method: 'POST',
      body: form,
      headers: githubHeaders(form, { contentType: 'application/x-www-form-urlencoded' }),
    });
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).error), /no "payload" field/);
    assert.equal(requester.calls.length, 0);
  });

  test('malformed JSON (validly signed) -> 400', async () => {
    const { app, requester } = setup();
    const broken = pushJson.slice(0, 200);
    const res = await app.request(path('github-receiver'), { method: 'POST', body: broken, headers: githubHeaders(broken) });
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).error), /not valid JSON/);
    assert.equal(requester.calls.length, 0);
  });

  test('unsupported Content-Type -> 400', async () => {
    const { app } = setup();
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { contentType: 'text/plain' }) });
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).error), /unsupported Content-Type/);
  });

  test('the signature covers the raw bytes (non-UTF-8 body verifies, then is refused as malformed)', async () => {
    const { app } = setup();
    const raw = Buffer.concat([Buffer.from('{"ref":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
    const res = await app.request(path('github-receiver'), { method: 'POST', body: raw, headers: githubHeaders(raw) });
    assert.equal(res.status, 400, 'signature accepted over raw bytes; body refused afterwards');
    assert.match(String((await json(res)).error), /not valid UTF-8/);
  });

  test('ping -> 200 without reconciling, even when spec.events does not list it', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pingJson, headers: githubHeaders(pingJson, { event: 'ping' }) });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).status, 'pong');
    assert.equal(requester.calls.length, 0);
  });

  test('an unsigned ping is still refused', async () => {
    const { app } = setup();
    const res = await app.request(path('github-receiver'), {
      method: 'POST',
      body: pingJson,
      headers: { 'content-type': 'application/json', 'x-github-event': 'ping' },
    });
    assert.equal(res.status, 401);
  });

  test('event not in spec.events -> 400 like Flux ("not authorised"), nothing reconciled', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { event: 'issues' }) });
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).error), /the GitHub event "issues" is not authorised/);
    assert.equal(requester.calls.length, 0);
  });

  test('with filteredEventStatus 200, a filtered event answers 200 "ignored"', async () => {
    const { app, requester } = setup({ filteredEventStatus: 200 });
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { event: 'issues' }) });
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.status, 'ignored');
    assert.match(String(body.message), /"issues" is not authorised/);
    assert.equal(requester.calls.length, 0);
  });

  test('spec.events matches X-GitHub-Event case-insensitively; no events means every event', async () => {
    const { app, requester } = setup();
    let res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { event: 'PUSH' }) });
    assert.equal(res.status, 200);
    res = await app.request(path('github-any'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { event: 'release' }) });
    assert.equal(res.status, 200);
    assert.equal(requester.calls.length, 2);
  });

  test('a redelivery (same X-GitHub-Delivery) does not trigger twice', async () => {
    const { app, requester } = setup();
    const delivery = randomUUID();
    const send = (p: string) => app.request(p, { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { delivery }) });
    assert.equal((await send(path('github-receiver'))).status, 200);
    const again = await send(path('github-receiver'));
    assert.equal(again.status, 200);
    const body = await json(again);
    assert.equal(body.status, 'duplicate');
    assert.equal(requester.calls.length, 1);
    // The same delivery id for another Receiver is not a duplicate.
    assert.equal((await send(path('github-any'))).status, 200);
    assert.equal(requester.calls.length, 2);
    // A new delivery id is handled.
    const fresh = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson) });
    assert.equal((await json(fresh)).status, 'accepted');
    assert.equal(requester.calls.length, 3);
  });

  test('an empty X-GitHub-Delivery is not a delivery id (two such pushes both reconcile)', async () => {
    const { app, requester } = setup();
    for (let i = 0; i < 2; i++) {
      const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { delivery: '' }) });
      assert.equal((await json(res)).status, 'accepted');
    }
    assert.equal(requester.calls.length, 2);
    assert.deepEqual(requester.calls[0].info, { event: 'push' });
  });

  test('when the requester fails: 500, and the redelivery is handled (not treated as duplicate)', async () => {
    const { app, requester, lines } = setup();
    const delivery = randomUUID();
    requester.failWith = new Error('reading s3://fluxless-state-123/objects/GitRepository failed: AccessDenied for arn:aws:iam::123:role/fluxless');
    const first = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { delivery }) });
    assert.equal(first.status, 500);
    // The cause stays in the function's log: bucket, key and role names do not reach the sender.
    const error = String((await json(first)).error);
    assert.match(error, /^requesting reconciliation failed; the cause is in the webhook function's log$/);
    assert.doesNotMatch(error, /arn:aws|fluxless-state-123/);
    assert.ok(lines.some((l) => l.status === 500 && /AccessDenied for arn:aws:iam::123:role\/fluxless/.test(String(l.cause))));
    requester.failWith = undefined;
    const retry = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { delivery }) });
    assert.equal(retry.status, 200);
    assert.equal((await json(retry)).status, 'accepted');
    assert.equal(requester.calls.length, 1);
  });

  test('a refused target (cross-namespace lockdown) is named in the 500 body', async () => {
    const { app, requester } = setup();
    requester.failWith = new ReceiverTargetsError({ namespace: 'flux-system', name: 'github-receiver' }, ['resources[1] Kustomization/apps/app: cross-namespace references are not allowed']);
    const res = await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson) });
    assert.equal(res.status, 500);
    assert.equal(
      (await json(res)).error,
      'requesting reconciliation failed: Receiver flux-system/github-receiver: resources[1] Kustomization/apps/app: cross-namespace references are not allowed',
    );
  });

  test('a suspended receiver answers 503', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('suspended-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson) });
    assert.equal(res.status, 503);
    assert.match(String((await json(res)).error), /suspended/);
    assert.equal(requester.calls.length, 0);
  });
});

describe('body size limit', () => {
  test('a body over 3 MiB -> 413 (declared Content-Length, nothing read)', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('generic-receiver', 'team-a'), {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json', 'content-length': String(THREE_MIB + 1) },
    });
    assert.equal(res.status, 413);
    assert.match(String((await json(res)).error), /exceeds the maximum size of 3145728 bytes/);
    assert.equal(requester.calls.length, 0);
  });

  test('a streamed body without Content-Length is counted and cut at the cap', async () => {
    const { app, requester } = setup();
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let pulled = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled += chunk.byteLength;
        controller.enqueue(chunk);
        if (pulled > 64 * 1024 * 1024) controller.close(); // safety stop, never reached if capped
      },
    });
    const req = new Request(`http://localhost${path('generic-receiver', 'team-a')}`, {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    const res = await app.request(req);
    assert.equal(res.status, 413);
    assert.ok(pulled <= THREE_MIB + 4 * chunk.byteLength, `read ${pulled} bytes, expected to stop near the 3 MiB cap`);
    assert.equal(requester.calls.length, 0);
  });

  test('a body of exactly 3 MiB is accepted', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('generic-receiver', 'team-a'), { method: 'POST', body: 'x'.repeat(THREE_MIB) });
    assert.equal(res.status, 200);
    assert.equal(requester.calls.length, 1);
  });

  test('a GitHub push over 3 MiB -> 413 even when signed', async () => {
    const { app, requester } = setup();
    const big = JSON.stringify({ ...JSON.parse(pushJson), padding: 'p'.repeat(THREE_MIB) });
    const res = await app.request(path('github-receiver'), { method: 'POST', body: big, headers: githubHeaders(big) });
    assert.equal(res.status, 413);
    assert.equal(requester.calls.length, 0);
  });

  test('an invalid Content-Length -> 400', async () => {
    const { app } = setup();
    const res = await app.request(path('generic-receiver', 'team-a'), { method: 'POST', body: '{}', headers: { 'content-length': 'lots' } });
    assert.equal(res.status, 400);
  });
});

describe('routing', () => {
  test('unknown digest -> 404 JSON', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('github-receiver', 'flux-system', OTHER), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson) });
    assert.equal(res.status, 404);
    assert.ok((await json(res)).error);
    assert.equal(requester.calls.length, 0);
  });

  test('malformed digest and other paths -> 404 JSON', async () => {
    const { app } = setup();
    for (const p of ['/hook/not-a-digest', '/hook/', '/hooks/abc', '/']) {
      const res = await app.request(p, { method: 'POST', body: '{}' });
      assert.equal(res.status, 404, p);
      assert.ok((await json(res)).error, p);
    }
  });

  test('other methods on a hook path -> 405 JSON with Allow: POST', async () => {
    const { app } = setup();
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const res = await app.request(path('generic-receiver', 'team-a'), { method });
      assert.equal(res.status, 405, method);
      assert.equal(res.headers.get('allow'), 'POST');
      assert.match(String((await json(res)).error), new RegExp(`method ${method} is not allowed`));
    }
  });

  test('GET /healthz -> 200', async () => {
    const { app } = setup();
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { status: 'ok' });
  });
});

describe('GitLab receiver', () => {
  const gitlabHeaders = (over: Record<string, string> = {}) => ({
    'content-type': 'application/json',
    'user-agent': 'GitLab/17.0.1',
    'x-gitlab-event': 'Push Hook',
    'x-gitlab-token': TOKEN,
    'x-gitlab-instance': 'https://gitlab.example.com',
    'x-gitlab-webhook-uuid': '2b1b5e4a-0c3b-4c7e-9c57-0f8ea7d1e8a3',
    'x-gitlab-event-uuid': randomUUID(),
    ...over,
  });

  test('matching X-Gitlab-Token and event -> 200', async () => {
    const { app, requester } = setup();
    const uuid = randomUUID();
    const res = await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers: gitlabHeaders({ 'x-gitlab-event-uuid': uuid }) });
    assert.equal(res.status, 200);
    assert.deepEqual(requester.calls[0].info, { event: 'Push Hook', deliveryId: uuid });
  });

  test('wrong or missing X-Gitlab-Token -> 401', async () => {
    const { app, requester } = setup();
    let res = await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers: gitlabHeaders({ 'x-gitlab-token': OTHER }) });
    assert.equal(res.status, 401);
    assert.match(String((await json(res)).error), /does not match the receiver token/);
    const headers: Record<string, string> = gitlabHeaders();
    delete headers['x-gitlab-token'];
    res = await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers });
    assert.equal(res.status, 401);
    assert.equal(requester.calls.length, 0);
  });

  test('event filter on X-Gitlab-Event', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers: gitlabHeaders({ 'x-gitlab-event': 'Tag Push Hook' }) });
    assert.equal(res.status, 400);
    assert.match(String((await json(res)).error), /GitLab event "Tag Push Hook" is not authorised/);
    assert.equal(requester.calls.length, 0);
  });

  test('a redelivery with the same X-Gitlab-Event-UUID does not trigger twice', async () => {
    const { app, requester } = setup();
    const headers = gitlabHeaders();
    await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers });
    const again = await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers });
    assert.equal(again.status, 200);
    assert.equal((await json(again)).status, 'duplicate');
    assert.equal(requester.calls.length, 1);
  });
});

describe('Bitbucket Server receiver', () => {
  const bbHeaders = (body: string, over: Record<string, string> = {}) => ({
    'content-type': 'application/json; charset=utf-8',
    'user-agent': 'Atlassian HttpClient 4.2.0 / Bitbucket-8.19.1 (8019001) / Default',
    'x-event-key': 'repo:refs_changed',
    'x-request-id': randomUUID(),
    'x-hub-signature': hmac('sha256', TOKEN, body),
    ...over,
  });

  test('HMAC in X-Hub-Signature and a listed X-Event-Key -> 200', async () => {
    const { app, requester } = setup();
    const id = randomUUID();
    const res = await app.request(path('bitbucket-receiver'), { method: 'POST', body: bitbucketJson, headers: bbHeaders(bitbucketJson, { 'x-request-id': id }) });
    assert.equal(res.status, 200);
    assert.deepEqual(requester.calls[0].info, { event: 'repo:refs_changed', deliveryId: id });
  });

  test('diagnostics:ping -> 200 without reconciling', async () => {
    const { app, requester } = setup();
    const ping = '{"test": true}';
    const res = await app.request(path('bitbucket-receiver'), { method: 'POST', body: ping, headers: bbHeaders(ping, { 'x-event-key': 'diagnostics:ping' }) });
    assert.equal(res.status, 200);
    assert.equal((await json(res)).status, 'pong');
    assert.equal(requester.calls.length, 0);
  });

  test('bad signature -> 401; unlisted event -> 400', async () => {
    const { app, requester } = setup();
    let res = await app.request(path('bitbucket-receiver'), {
      method: 'POST',
      body: bitbucketJson,
      headers: bbHeaders(bitbucketJson, { 'x-hub-signature': hmac('sha256', OTHER, bitbucketJson) }),
    });
    assert.equal(res.status, 401);
    assert.match(String((await json(res)).error), /Bitbucket signature header is invalid/);
    res = await app.request(path('bitbucket-receiver'), { method: 'POST', body: bitbucketJson, headers: bbHeaders(bitbucketJson, { 'x-event-key': 'pr:opened' }) });
    assert.equal(res.status, 400);
    assert.equal(requester.calls.length, 0);
  });
});

describe('generic receivers', () => {
  test('generic: the secret path alone is enough', async () => {
    const { app, requester } = setup();
    const res = await app.request(path('generic-receiver', 'team-a'), { method: 'POST', body: '{"image":"ghcr.io/acme/app:v1.2.3"}' });
    assert.equal(res.status, 200);
    assert.equal(requester.calls.length, 1);
    assert.deepEqual(requester.calls[0].receiver, { namespace: 'team-a', name: 'generic-receiver' });
    assert.deepEqual(requester.calls[0].info, {});
    assert.equal(requester.calls[0].targets[0].namespace, 'team-a');
  });

  test('generic-hmac: X-Signature with sha1, sha256 or sha512 -> 200', async () => {
    const { app, requester } = setup();
    const body = '{"image":"ghcr.io/acme/app:v1.2.3"}';
    for (const algo of ['sha1', 'sha256', 'sha512'] as const) {
      const res = await app.request(path('hmac-receiver'), { method: 'POST', body, headers: { 'x-signature': hmac(algo, TOKEN, body) } });
      assert.equal(res.status, 200, algo);
    }
    assert.equal(requester.calls.length, 3);
  });

  test('generic-hmac: wrong, missing or unsupported signature -> 401', async () => {
    const { app, requester } = setup();
    const body = '{"image":"ghcr.io/acme/app:v1.2.3"}';
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'x-signature': hmac('sha256', OTHER, body) }, /does not match/],
      [{}, /missing signature/],
      [{ 'x-signature': 'md5=0123456789abcdef0123456789abcdef' }, /unsupported signature algorithm/],
      [{ 'x-signature': 'sha256=zz' }, /malformed sha256 signature/],
      [{ 'x-signature': hmac('sha256', TOKEN, body).replace('sha256=', '') }, /malformed signature/],
    ];
    for (const [headers, pattern] of cases) {
      const res = await app.request(path('hmac-receiver'), { method: 'POST', body, headers });
      assert.equal(res.status, 401, JSON.stringify(headers));
      assert.match(String((await json(res)).error), pattern);
    }
    assert.equal(requester.calls.length, 0);
  });
});

describe('receiver directory cache', () => {
  test('the directory is listed once for many requests', async () => {
    const { app, directory } = setup();
    for (let i = 0; i < 50; i++) {
      const res = await app.request(path('generic-receiver', 'team-a'), { method: 'POST', body: '{}' });
      assert.equal(res.status, 200);
    }
    assert.equal(directory.listCalls, 1);
  });

  test('unknown digests do not list the directory on every request', async () => {
    const { app, directory } = setup({ missRefreshMs: 60_000 });
    for (let i = 0; i < 50; i++) {
      const res = await app.request(`/hook/${randomBytes(32).toString('hex')}`, { method: 'POST', body: '{}' });
      assert.equal(res.status, 404);
    }
    assert.ok(directory.listCalls <= 2, `listed ${directory.listCalls} times`);
  });

  test('a directory with version() is re-read as soon as it changes', async () => {
    const directory = new VersionedDirectory(receivers());
    const requester = new RecordingRequester();
    const app = createReceiverApp({ directory, requester, logger: captureLogger().logger, missRefreshMs: 60_000 });
    const added = entry({ name: 'new-receiver', type: 'generic' }, 'another-token');
    const p = hookPath('another-token', 'new-receiver', 'flux-system');
    // Prime the cache and use up the miss refresh.
    assert.equal((await app.request(p, { method: 'POST' })).status, 404);
    directory.set([...receivers(), added]);
    assert.equal((await app.request(p, { method: 'POST' })).status, 200);
    directory.set(receivers());
    assert.equal((await app.request(p, { method: 'POST' })).status, 404, 'removed receiver is gone');
  });

  test('a new receiver is found after a (throttled) miss refresh without version()', async () => {
    const { app, directory } = setup({ missRefreshMs: 0 });
    const p = hookPath('another-token', 'new-receiver', 'flux-system');
    assert.equal((await app.request(p, { method: 'POST' })).status, 404);
    directory.set([...receivers(), entry({ name: 'new-receiver', type: 'generic' }, 'another-token')]);
    assert.equal((await app.request(p, { method: 'POST' })).status, 200);
  });

  test('directory failure before the first listing -> 503 JSON, then recovers', async () => {
    const { app, directory } = setup();
    directory.failWith = new Error('connect ECONNREFUSED 127.0.0.1:6443');
    const res = await app.request(path('generic-receiver', 'team-a'), { method: 'POST' });
    assert.equal(res.status, 503);
    assert.ok((await json(res)).error);
    directory.failWith = undefined;
    assert.equal((await app.request(path('generic-receiver', 'team-a'), { method: 'POST' })).status, 200);
  });

  test('a receiver whose token is empty is never served', async () => {
    const list = [entry({ name: 'no-token', type: 'generic' }, '')];
    const { app, requester, lines } = setup({}, list);
    const res = await app.request(hookPath('', 'no-token', 'flux-system'), { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(requester.calls.length, 0);
    assert.ok(lines.some((l) => l.msg === 'receiver has an empty token; its webhook is disabled' && l.receiver === 'flux-system/no-token'));
  });
});

describe('logging', () => {
  test('one structured line per hook, accepted or rejected, without secrets', async () => {
    const { app, lines } = setup();
    await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson) });
    await app.request(path('github-receiver'), { method: 'POST', body: pushJson, headers: githubHeaders(pushJson, { secret: OTHER }) });
    await app.request(path('gitlab-receiver'), { method: 'POST', body: gitlabJson, headers: { 'x-gitlab-token': OTHER, 'x-gitlab-event': 'Push Hook' } });
    const hooks = lines.filter((l) => l.msg === 'webhook handled' || l.msg === 'webhook rejected');
    assert.equal(hooks.length, 3);
    assert.deepEqual(hooks.map((l) => [l.msg, l.status, l.receiver]), [
      ['webhook handled', 200, 'flux-system/github-receiver'],
      ['webhook rejected', 401, 'flux-system/github-receiver'],
      ['webhook rejected', 401, 'flux-system/gitlab-receiver'],
    ]);
    assert.equal(hooks[0].repository, 'acme/fleet-infra');
    assert.equal(hooks[0].ref, 'refs/heads/main');
    assert.equal(hooks[0].event, 'push');
    const all = JSON.stringify(lines);
    assert.ok(!all.includes(TOKEN), 'token never logged');
    assert.ok(!all.includes(OTHER), 'presented token never logged');
    assert.ok(!all.includes(path('github-receiver').slice(6)), 'full secret path never logged');
  });
});
