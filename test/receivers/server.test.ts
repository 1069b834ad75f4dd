/**
 * The receiver app behind the real webhook server (startReceiverServer, 127.0.0.1, port 0),
 * driven with fetch: what GitHub and friends actually talk to.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createReceiverApp } from '../../shared/receivers/app.js';
import { startReceiverServer } from '../../shared/receivers/server.js';
import type { ReceiverServer } from '../../shared/receivers/server.js';
import { RecordingRequester, StaticDirectory, captureLogger, entry, fixture, hmac, hookPath } from './helpers.js';

const TOKEN = 'loopback-' + randomUUID();
const THREE_MIB = 3 * 1024 * 1024;
const pushJson = fixture('github-push.json');
const pingJson = fixture('github-ping.json');

describe('receiver app over loopback HTTP', () => {
  let server: ReceiverServer;
  let base: string;
  const requester = new RecordingRequester();
  const directory = new StaticDirectory([
    entry({
      name: 'flux-system',
      type: 'github',
      events: ['push'],
      resources: [
        { kind: 'GitRepository', name: 'flux-system' },
        { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', matchLabels: { 'toolkit.fluxcd.io/tenant': 'dev-team' } },
      ],
    }, TOKEN),
    entry({ name: 'generic', type: 'generic' }, TOKEN),
  ]);
  const hook = hookPath(TOKEN, 'flux-system', 'flux-system');

  before(async () => {
    const app = createReceiverApp({ directory, requester, logger: captureLogger().logger });
    server = await startReceiverServer({ app, host: '127.0.0.1', port: 0, logger: captureLogger().logger });
    base = server.url;
  });

  after(() => server.close());

  const githubPost = (body: string, event: string, delivery = randomUUID(), secret = TOKEN) =>
    fetch(base + hook, {
      method: 'POST',
      body,
      headers: {
        'content-type': 'application/json',
        'user-agent': 'GitHub-Hookshot/a5b0c1e',
        'x-github-event': event,
        'x-github-delivery': delivery,
        'x-hub-signature': hmac('sha1', secret, body),
        'x-hub-signature-256': hmac('sha256', secret, body),
      },
    });

  test('GitHub ping, then a signed push marks the resources', async () => {
    const ping = await githubPost(pingJson, 'ping');
    assert.equal(ping.status, 200);
    assert.equal(((await ping.json()) as { status: string }).status, 'pong');
    assert.equal(requester.calls.length, 0);

    const delivery = randomUUID();
    const res = await githubPost(pushJson, 'push', delivery);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.deepEqual(await res.json(), { status: 'accepted', message: 'reconciliation requested', marked: 2 });
    assert.deepEqual(requester.calls.at(-1), {
      receiver: { namespace: 'flux-system', name: 'flux-system' },
      info: { event: 'push', deliveryId: delivery },
      targets: [
        { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', name: 'flux-system', namespace: 'flux-system' },
        { apiVersion: 'kustomize.toolkit.fluxcd.io/v1', kind: 'Kustomization', name: '*', namespace: 'flux-system', matchLabels: { 'toolkit.fluxcd.io/tenant': 'dev-team' } },
      ],
    });

    const redelivered = await githubPost(pushJson, 'push', delivery);
    assert.equal(redelivered.status, 200);
    assert.equal(((await redelivered.json()) as { status: string }).status, 'duplicate');
    assert.equal(requester.calls.length, 1);
  });

  test('wrong signature -> 401 over HTTP', async () => {
    const before = requester.calls.length;
    const res = await githubPost(pushJson, 'push', randomUUID(), 'wrong-token');
    assert.equal(res.status, 401);
    assert.ok(((await res.json()) as { error: string }).error);
    assert.equal(requester.calls.length, before);
  });

  test('a body over 3 MiB with Content-Length -> 413 response (not a reset)', async () => {
    const big = JSON.stringify({ ...JSON.parse(pushJson), padding: 'p'.repeat(THREE_MIB) });
    const res = await githubPost(big, 'push');
    assert.equal(res.status, 413);
    assert.match(((await res.json()) as { error: string }).error, /exceeds the maximum size/);
  });

  test('a chunked body over 3 MiB -> 413, and the server keeps serving', async () => {
    const chunk = new Uint8Array(256 * 1024).fill(0x20);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 5 * 1024 * 1024) return controller.close();
        sent += chunk.byteLength;
        controller.enqueue(chunk);
      },
    });
    const res = await fetch(base + hookPath(TOKEN, 'generic', 'flux-system'), {
      method: 'POST',
      body: stream,
      headers: { 'content-type': 'application/octet-stream' },
      duplex: 'half',
    } as RequestInit & { duplex: 'half' });
    assert.equal(res.status, 413);
    await res.arrayBuffer();
    const health = await fetch(base + '/healthz');
    assert.equal(health.status, 200);
  });

  test('unknown path -> 404 JSON; GET on a hook -> 405', async () => {
    const res = await fetch(base + hookPath('nope', 'flux-system', 'flux-system'), { method: 'POST', body: '{}' });
    assert.equal(res.status, 404);
    assert.ok(((await res.json()) as { error: string }).error);
    const get = await fetch(base + hook);
    assert.equal(get.status, 405);
    assert.equal(get.headers.get('allow'), 'POST');
  });
});
