/**
 * The GitLab merge request note: found by its hidden marker, but only among the notes the
 * preview's own account wrote. Anyone can comment on a merge request (the author of a fork
 * MR too) and quote the marker; the preview must not try to edit that comment (GitLab
 * answers 403, and the preview would fail on every push), nor leave it as the place the
 * results go.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { upsertNote } from '../../shared/preview/publish.js';
import { noteMarker } from '../../shared/preview/report.js';
import type { PreviewRequest } from '../../shared/queue/message.js';

test('a note by another user quoting the marker is not edited; the bot\'s own note is', async () => {
  const receiver = { namespace: 'flux-system', name: 'gitlab-mr' };
  const notes = [
    { id: 1, body: `nice try ${noteMarker(receiver)}`, author: { id: 99, username: 'mallory' }, system: false },
  ];
  const calls: string[] = [];
  const server = http.createServer((req, res) => {
    calls.push(`${req.method} ${req.url}`);
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const send = (status: number, v: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(v));
      };
      if (req.url === '/api/v4/user') return send(200, { id: 7, username: 'fluxless-bot' });
      if (req.method === 'GET' && req.url?.startsWith('/api/v4/projects/42/merge_requests/3/notes')) {
        const q = new URL(req.url, 'http://x').searchParams;
        const per = Number(q.get('per_page') ?? 20);
        const page = Number(q.get('page') ?? 1);
        return send(200, notes.slice((page - 1) * per, page * per));
      }
      const m = /^\/api\/v4\/projects\/42\/merge_requests\/3\/notes\/(\d+)$/.exec(req.url ?? '');
      if (req.method === 'PUT' && m) {
        const n = notes.find((x) => x.id === Number(m[1]));
        if (!n || n.author.id !== 7) return send(403, { message: '403 Forbidden' });
        n.body = JSON.parse(body).body;
        return send(200, n);
      }
      if (req.method === 'POST' && req.url === '/api/v4/projects/42/merge_requests/3/notes') {
        const n = { id: notes.length + 1, body: JSON.parse(body).body, author: { id: 7, username: 'fluxless-bot' }, system: false };
        notes.push(n);
        return send(201, n);
      }
      send(404, { message: 'not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/v4/`;
    const req: PreviewRequest = { host: 'gitlab', repository: 'fleet/fleet', projectId: 42, number: 3, headSha: 'a'.repeat(40), baseRef: 'main', cloneUrls: [], action: 'open' };
    const access = { host: 'gitlab' as const, baseUrl: base, token: 'glpat-x', transport: {} };
    const report = { conclusion: 'success' as const, title: 'No object would change', summary: 'ok' };
    let err: unknown;
    try {
      await upsertNote(access, req, receiver, report);
    } catch (e) {
      err = e;
    }
    assert.equal(err, undefined, 'the preview note was posted');
    assert.equal(notes[0].body, `nice try ${noteMarker(receiver)}`, "mallory's note is untouched");
    assert.ok(notes.some((n) => n.author.id === 7 && n.body.includes('No object would change')), 'the bot has its own note');
    // A second push edits the bot's note, not a new one.
    await upsertNote(access, req, receiver, { ...report, title: 'again' });
    assert.equal(notes.filter((n) => n.author.id === 7).length, 1);
    // A busy merge request: 150 comments before ours and 250 after; the third push finds it on page 2.
    for (let i = 0; i < 250; i++) notes.push({ id: notes.length + 1, body: `comment ${i}`, author: { id: 100 + i, username: `user${i}` }, system: false });
    notes.unshift(...notes.splice(1, 1)); // ours first, then mallory's, then the 250
    notes.splice(0, 0, ...Array.from({ length: 150 }, (_, i) => ({ id: 10_000 + i, body: `earlier ${i}`, author: { id: 500 + i, username: `early${i}` }, system: false })));
    await upsertNote(access, req, receiver, { ...report, title: 'third' });
    assert.equal(notes.filter((n) => n.author.id === 7).length, 1, 'the note past the first page was edited, not posted again');
    assert.ok(notes.find((n) => n.author.id === 7)?.body.includes('third'));
  } finally {
    server.close();
  }
});
