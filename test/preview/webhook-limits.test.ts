/**
 * The webhook side of previews: a validly signed GitHub `pull_request` (or GitLab merge
 * request hook) whose fields exceed the preview message's limits (a fork's branch name
 * over 256 characters, a long repository path) must not make the webhook answer 500, and
 * must still mark the Receiver's targets for reconciliation (Flux answers 200 and
 * reconciles; it has no previews).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FsStateStore } from '../../shared/state/fs-store.js';
import { createWebhookApp } from '../../shared/runtime/webhook.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import type { Runtime } from '../../shared/runtime/runtime.js';

const NS = 'flux-system';
const TOKEN = 'webhook-token-123';

async function setup() {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'preview-webhook-'));
  const state = new FsStateStore(dir, { durable: false });
  const sent: Array<{ body: unknown; groupId?: string; dedupId?: string }> = [];
  const receiver = (name: string, type: string, events: string[]) => ({
    object: { apiVersion: 'notification.toolkit.fluxcd.io/v1', kind: 'Receiver', metadata: { name, namespace: NS }, spec: { type, events, secretRef: { name: 'hook' }, resources: [{ kind: 'GitRepository', name: 'flux-system' }] } },
    status: {},
  });
  await state.put({ kind: 'Receiver', namespace: NS, name: 'gh' }, receiver('gh', 'github', ['pull_request']));
  await state.put({ kind: 'Receiver', namespace: NS, name: 'gl' }, receiver('gl', 'gitlab', ['Merge Request Hook']));
  await state.put({ kind: 'GitRepository', namespace: NS, name: 'flux-system' }, {
    object: { apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'flux-system', namespace: NS }, spec: { url: 'https://github.com/fleet/fleet', interval: '1m', ref: { branch: 'main' } } },
    status: {},
  });
  const rt = {
    state,
    secrets: { get: async () => ({ token: TOKEN }) },
    queue: { send: async (body: unknown, o: { groupId?: string; dedupId?: string } = {}) => void sent.push({ body, ...o }) },
    settings: {},
    now: () => new Date(),
  } as unknown as Runtime;
  const app = createWebhookApp(rt);
  return { app, sent, state, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

const sha = (c: string) => c.repeat(40);

test('a GitHub pull_request whose head branch name is 300 characters long: 200, GitRepository marked, no 500', async () => {
  const { app, sent, state, cleanup } = await setup();
  try {
    const body = JSON.stringify({
      action: 'opened',
      number: 7,
      pull_request: { number: 7, head: { sha: sha('a'), ref: 'x'.repeat(300), repo: { full_name: 'fleet/fleet' } }, base: { sha: sha('b'), ref: 'main' } },
      repository: { full_name: 'fleet/fleet', clone_url: 'https://github.com/fleet/fleet.git' },
    });
    const res = await app.request(webhookPath(TOKEN, 'gh', NS), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'd1', 'x-hub-signature-256': 'sha256=' + createHmac('sha256', TOKEN).update(body).digest('hex') },
      body,
    });
    const text = await res.text();
    const rec = (await state.get<{ requestedAt?: string }>({ kind: 'GitRepository', namespace: NS, name: 'flux-system' }))?.value;
    assert.equal(res.status, 200, text);
    assert.ok(rec?.requestedAt, 'the GitRepository was marked for reconciliation');
    const previews = sent.map((m) => m.body as { type: string; preview?: { headRef?: string } }).filter((m) => m.type === 'preview');
    assert.equal(previews.length, 1, 'the preview is still queued');
    assert.equal(previews[0].preview?.headRef, undefined, 'without the over-long head branch name');
  } finally {
    await cleanup();
  }
});

test('fork pull requests: detected from head.repo (GitHub) and source_project_id (GitLab)', async () => {
  const { githubPreviewRequest, gitlabPreviewRequest, previewAllowed } = await import('../../shared/preview/request.js');
  const gh = (headRepo: unknown) => githubPreviewRequest({ action: 'opened', number: 1, pull_request: { head: { sha: sha('a'), ref: 'f', repo: headRepo }, base: { ref: 'main' } }, repository: { full_name: 'Fleet/fleet' } })!;
  assert.equal(gh({ full_name: 'fleet/fleet' }).fork, false);
  assert.equal(gh({ full_name: 'attacker/fleet' }).fork, true);
  assert.equal(gh(null).fork, true, 'a deleted fork');
  const gl = (source: number | undefined) => gitlabPreviewRequest({ object_kind: 'merge_request', project: { id: 42, path_with_namespace: 'fleet/fleet' }, object_attributes: { iid: 3, action: 'open', target_branch: 'main', target_project_id: 42, ...(source ? { source_project_id: source } : {}), last_commit: { id: sha('c') } } })!;
  assert.equal(gl(42).fork, false);
  assert.equal(gl(77).fork, true);
  assert.equal(previewAllowed(gl(77), { token: 't' }), false);
  assert.equal(previewAllowed(gl(77), { token: 't', previewForks: 'true' }), true);
  assert.equal(previewAllowed(gl(42), { token: 't' }), true);
});

test('a GitLab merge request hook whose source branch is 300 characters long: 200, GitRepository marked, no 500', async () => {
  const { app, state, cleanup } = await setup();
  try {
    const body = JSON.stringify({
      object_kind: 'merge_request',
      project: { id: 42, path_with_namespace: 'fleet/fleet', git_http_url: 'https://gitlab.com/fleet/fleet.git' },
      object_attributes: { iid: 3, action: 'open', target_branch: 'main', source_branch: 'y'.repeat(300), source_project_id: 42, target_project_id: 42, last_commit: { id: sha('c') } },
    });
    const res = await app.request(webhookPath(TOKEN, 'gl', NS), { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-token': TOKEN, 'x-gitlab-event': 'Merge Request Hook' }, body });
    const text = await res.text();
    const rec = (await state.get<{ requestedAt?: string }>({ kind: 'GitRepository', namespace: NS, name: 'flux-system' }))?.value;
    assert.equal(res.status, 200, text);
    assert.ok(rec?.requestedAt, 'the GitRepository was marked for reconciliation');
  } finally {
    await cleanup();
  }
});
