/**
 * Standing fault suite (issue 9, finding 6): slow and oversized webhook bodies against the
 * real `fluxless serve` (the bundled CLI, a child process), with its production limits.
 * Oversized bodies are refused before they are read, answers sent before the body say
 * `Connection: close`, slow bodies are answered 408 and closed at the body deadline,
 * connections over the cap are closed as they arrive (the server's open file descriptors
 * stay bounded), and through all of it a signed push still deploys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { DEFAULT_SERVER_LIMITS } from '../../shared/receivers/server.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import { parseResponse, rawSend } from '../receivers/raw-http.js';
import { configMap, faultFleet, kustomization, ready, receiver, waitFor, within } from './helpers.js';
import { describeLeaks, scanForSecrets } from './secret-scan.js';

/** Open file descriptors of a process (Linux). */
function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

test('slow and oversized webhook bodies against fluxless serve: refused, answered, closed; a signed push still deploys', { timeout: 240_000 }, async (t) => {
  const f = await faultFleet(t);
  const { ns } = f;
  await f.repo.commit({ 'clusters/dev/receiver.yaml': receiver(ns), 'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps'), 'apps/a.yaml': configMap('a', { v: '1' }) }, 'first');
  await f.repo.push();
  const serve = await f.serve();
  const port = Number(new URL(serve.url).port);
  const hook = webhookPath(f.token, 'github', ns);
  const ping = () => {
    const body = JSON.stringify({ zen: 'Keep it logically awesome.' });
    const sig = 'sha256=' + createHmac('sha256', f.token).update(body).digest('hex');
    return fetch(serve.url + hook, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'ping', 'x-hub-signature-256': sig }, body });
  };
  await waitFor('apps Ready and the Receiver served (a signed ping answered 200)', async () => ready(f.record('Kustomization', 'apps')).status === 'True' && (await ping()).status === 200, 90_000, serve.output);
  const head = (p: string, extra: string) => `POST ${p} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nX-GitHub-Event: push\r\n${extra}\r\n`;

  await t.test('a declared 4 MiB body (over the 3 MiB cap) is refused at once, unread, with Connection: close', async () => {
    const x = await rawSend(port, head(hook, `Content-Length: ${4 * 1024 * 1024}\r\n`), '{"ref":');
    const { data } = await within(x.closed, 30_000, 'the server to answer and close');
    const r = parseResponse(data);
    assert.equal(r.status, 413, data);
    assert.equal(r.headers.connection, 'close');
  });

  await t.test('a chunked body past the cap is cut off with 413', async () => {
    const x = await rawSend(port, head(hook, 'Transfer-Encoding: chunked\r\n'));
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let writing = true;
    void x.closed.then(() => (writing = false));
    for (let sent = 0; writing && sent < 5 * 1024 * 1024; sent += chunk.length) {
      if (!x.socket.write(`${chunk.length.toString(16)}\r\n`) || !x.socket.write(chunk) || !x.socket.write('\r\n')) {
        await Promise.race([new Promise((r) => x.socket.once('drain', r)), x.closed]);
      }
    }
    const { data } = await within(x.closed, 30_000, 'the server to answer and close');
    assert.equal(parseResponse(data).status, 413, data.slice(0, 300));
  });

  await t.test('an unknown hook path with a declared 100 MB upload: 404 before the body, Connection: close', async () => {
    const x = await rawSend(port, head(`/hook/${'0'.repeat(64)}`, `Content-Length: ${100 * 1024 * 1024}\r\n`), 'x');
    const { data } = await within(x.closed, 30_000, 'the server to answer and close');
    const r = parseResponse(data);
    assert.equal(r.status, 404, data);
    assert.equal(r.headers.connection, 'close');
  });

  await t.test('connections over the cap are closed as they arrive; the file descriptors stay bounded', async () => {
    const cap = DEFAULT_SERVER_LIMITS.maxConnections;
    const before = openFds(serve.pid);
    const sockets: Socket[] = [];
    let closedEarly = 0;
    await Promise.all(
      Array.from({ length: cap + 60 }, () =>
        new Promise<void>((resolve) => {
          const s = connect(port, '127.0.0.1', () => resolve());
          s.on('error', () => resolve());
          s.on('close', () => closedEarly++);
          sockets.push(s);
        }),
      ),
    );
    await waitFor('the connections over the cap to be closed', () => closedEarly >= 60, 30_000);
    const during = openFds(serve.pid);
    for (const s of sockets) s.destroy();
    assert.ok(during - before <= cap, `the server holds at most ${cap} connections: ${during - before} more fds`);
  });

  await t.test('slow bodies get 408 at the body deadline while a signed push deploys', async () => {
    const slow = await Promise.all(Array.from({ length: 20 }, () => rawSend(port, head(hook, 'Content-Length: 1000\r\n'), '{')));
    const drip = setInterval(() => {
      for (const x of slow) if (!x.socket.destroyed) x.socket.write(' ');
    }, 500);
    try {
      await f.repo.commit({ 'apps/a.yaml': configMap('a', { v: '2' }) }, 'second');
      await f.repo.push();
      const rev = `main@sha1:${await f.repo.head()}`;
      const res = await f.push(serve);
      assert.equal(res.status, 200, await res.text());
      await waitFor('apps at the pushed revision', () => f.record('Kustomization', 'apps')?.status.lastAppliedRevision === rev, 60_000, serve.output);
      const answers = await within(Promise.all(slow.map((x) => x.closed)), 60_000, 'every slow body to be answered');
      for (const { data } of answers) {
        const r = parseResponse(data);
        assert.equal(r.status, 408, data);
        assert.equal(r.headers.connection, 'close');
      }
    } finally {
      clearInterval(drip);
      for (const x of slow) x.socket.destroy();
    }
  });

  await t.test('a forged signature changes nothing', async () => {
    const body = JSON.stringify({ ref: 'refs/heads/main', after: '1'.repeat(40) });
    const res = await fetch(serve.url + hook, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': 'sha256=' + createHmac('sha256', 'not-the-token').update(body).digest('hex') },
      body,
    });
    assert.equal(res.status, 401, await res.text());
  });

  assert.equal(await serve.stop(), 0, serve.output());

  await t.test('no secret value in logs, output or the data directory', async () => {
    const { leaks } = await scanForSecrets(f.secrets, { dirs: [f.dataDir], texts: f.outputs.map((text, i) => ({ where: `output #${i}`, text })) });
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });
});
