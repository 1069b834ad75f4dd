/**
 * The hardened webhook server (shared/receivers/server.ts) against raw clients: slow and
 * oversized bodies, answers before the body, the connection cap. Everything is decided by
 * events (responses, closes, the server's connection/drop events), never by elapsed time.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createReceiverApp } from '../../shared/receivers/app.js';
import { startReceiverServer } from '../../shared/receivers/server.js';
import type { ReceiverServer } from '../../shared/receivers/server.js';
import { RecordingRequester, StaticDirectory, captureLogger, entry, hookPath } from './helpers.js';
import { parseResponse, rawSend } from './raw-http.js';

const TOKEN = 'limits-' + randomUUID();
const HOOK = hookPath(TOKEN, 'generic', 'flux-system');
const HUNDRED_MB = 100 * 1024 * 1024;

function post(path: string, headers: Record<string, string | number>): string {
  const lines = [`POST ${path} HTTP/1.1`, 'Host: 127.0.0.1', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return lines.join('\r\n') + '\r\n\r\n';
}

async function serverWith(opts: { bodyTimeoutMs: number; limits?: Parameters<typeof startReceiverServer>[0]['limits'] }) {
  const requester = new RecordingRequester();
  const directory = new StaticDirectory([entry({ name: 'generic', type: 'generic' }, TOKEN)]);
  const app = createReceiverApp({ directory, requester, logger: captureLogger().logger, bodyTimeoutMs: opts.bodyTimeoutMs });
  const server = await startReceiverServer({ app, host: '127.0.0.1', port: 0, limits: opts.limits, logger: captureLogger().logger });
  return { server, requester };
}

/** Resolve when the server has no open connection left (after each close event). */
async function drained(server: ReceiverServer): Promise<void> {
  while (server.connections() > 0) await new Promise((r) => setImmediate(r));
}

describe('hardened webhook server: bodies', () => {
  let server: ReceiverServer;
  let requester: RecordingRequester;
  before(async () => {
    ({ server, requester } = await serverWith({ bodyTimeoutMs: 300, limits: { headersTimeoutMs: 300, requestTimeoutMs: 5000 } }));
  });
  after(() => server.close());

  test('a stalled body gets 408 with Connection: close and the server closes the connection', { timeout: 20_000 }, async () => {
    const x = await rawSend(server.port, post(HOOK, { 'Content-Type': 'application/json', 'Content-Length': 100 }), '{"partial":');
    const { data, ended } = await x.closed;
    const res = parseResponse(data);
    assert.equal(res.status, 408);
    assert.equal(res.headers.connection, 'close');
    assert.match(res.body, /not received within 300 ms/);
    assert.equal(ended, 'end');
    assert.equal(requester.calls.length, 0);
  });

  test('slow-body connections do not pile up: each is answered and closed', { timeout: 20_000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 25 }, () => rawSend(server.port, post(HOOK, { 'Content-Length': 50 }), 'x')));
    const results = await Promise.all(clients.map((c) => c.closed));
    assert.deepEqual(new Set(results.map((r) => parseResponse(r.data).status)), new Set([408]));
    await drained(server);
    assert.equal(server.connections(), 0);
  });

  test('a declared 100 MB body is refused with 413 before reading it, and the connection is closed', { timeout: 20_000 }, async () => {
    const x = await rawSend(server.port, post(HOOK, { 'Content-Type': 'application/json', 'Content-Length': HUNDRED_MB }), Buffer.alloc(64 * 1024, 0x20));
    const { data } = await x.closed;
    const res = parseResponse(data);
    assert.equal(res.status, 413);
    assert.equal(res.headers.connection, 'close');
  });

  test('a 404 before the body is read does not read a 100 MB upload: Connection: close', { timeout: 20_000 }, async () => {
    const unknown = hookPath('not-the-token', 'generic', 'flux-system');
    const x = await rawSend(server.port, post(unknown, { 'Content-Length': HUNDRED_MB }), Buffer.alloc(64 * 1024, 0x20));
    const { data } = await x.closed;
    const res = parseResponse(data);
    assert.equal(res.status, 404);
    assert.equal(res.headers.connection, 'close');
  });

  test('a 405 with a body closes the connection too; a bodiless answer keeps it alive', { timeout: 20_000 }, async () => {
    const put = (await rawSend(server.port, post(HOOK, { 'Content-Length': HUNDRED_MB }).replace(/^POST/, 'PUT'), 'abc'));
    const res = parseResponse((await put.closed).data);
    assert.equal(res.status, 405);
    assert.equal(res.headers.connection, 'close');

    const get = await rawSend(server.port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const first = parseResponse(await get.firstData);
    assert.equal(first.status, 200);
    assert.notEqual(first.headers.connection, 'close');
    get.socket.destroy();
  });

  test('a complete body is read and the connection is kept for the next request', { timeout: 20_000 }, async () => {
    const body = '{"ok":true}';
    const x = await rawSend(server.port, post(HOOK, { 'Content-Type': 'application/json', 'Content-Length': body.length }), body);
    const res = parseResponse(await x.firstData);
    assert.equal(res.status, 200);
    assert.equal(res.headers.connection, 'keep-alive');
    x.socket.destroy();
    assert.equal(requester.calls.length, 1);
  });

  test('headers that never finish are cut off by the headers timeout', { timeout: 20_000 }, async () => {
    const x = await rawSend(server.port, 'POST /hook/x HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const { data } = await x.closed;
    assert.equal(parseResponse(data).status, 408);
  });
});

describe('hardened webhook server: connection cap', () => {
  test('connections over the cap are closed on arrival; the server keeps serving', { timeout: 30_000 }, async () => {
    const CAP = 5;
    const TOTAL = 20;
    // A long body deadline: the held connections stay open until the test closes them.
    const { server } = await serverWith({ bodyTimeoutMs: 60_000, limits: { maxConnections: CAP } });
    try {
      let seen = 0;
      const allSeen = new Promise<void>((resolve) => {
        const count = () => {
          if (++seen === TOTAL) resolve();
        };
        server.server.on('connection', count);
        server.server.on('drop', count);
      });
      const clients = await Promise.all(Array.from({ length: TOTAL }, () => rawSend(server.port, post(HOOK, { 'Content-Length': 10 }), 'x')));
      await allSeen;
      assert.equal(server.connections(), CAP);
      assert.ok(server.peakConnections() <= CAP, `peak ${server.peakConnections()} > cap ${CAP}`);

      // Exactly the connections over the cap are closed, without an answer; the others stay open.
      const closedData: string[] = [];
      await new Promise<void>((resolve) => {
        for (const c of clients) {
          void c.closed.then((r) => {
            closedData.push(r.data);
            if (closedData.length === TOTAL - CAP) resolve();
          });
        }
      });
      assert.deepEqual(closedData, Array(TOTAL - CAP).fill(''));
      assert.equal(clients.filter((c) => !c.socket.destroyed).length, CAP);
      assert.equal(server.connections(), CAP);

      for (const c of clients) c.socket.destroy();
      await drained(server);
      assert.equal(server.connections(), 0);

      const res = await fetch(`${server.url}/healthz`);
      assert.equal(res.status, 200);
    } finally {
      await server.close();
    }
  });
});
