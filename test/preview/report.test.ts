/**
 * The preview's pure parts: which webhook payloads ask for a preview (GitHub actions,
 * GitLab merge request updates with new commits), how repository URLs are matched, and
 * the report (conclusion, title, per-object lines with diffs, GitHub's size limit).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { githubPreviewRequest, gitlabPreviewRequest } from '../../shared/preview/request.js';
import { buildReport, MAX_SUMMARY, noteBody, truncate } from '../../shared/preview/report.js';
import { repoIdentity } from '../../shared/preview/sources.js';
import type { PreviewRequest } from '../../shared/queue/message.js';
import { parseMessage, previewMessage } from '../../shared/queue/message.js';

const HEAD = 'a'.repeat(40);
const BASE = 'b'.repeat(40);

describe('preview requests', () => {
  test('GitHub: opened, synchronize and reopened bring a head; other actions do not', () => {
    const payload = (action: string) => ({
      action,
      number: 5,
      pull_request: { number: 5, head: { sha: HEAD, ref: 'feature', repo: { full_name: 'org/fleet' } }, base: { sha: BASE, ref: 'main' } },
      repository: { full_name: 'org/fleet', clone_url: 'https://github.com/org/fleet.git', ssh_url: 'git@github.com:org/fleet.git' },
    });
    assert.deepEqual(githubPreviewRequest(payload('synchronize')), {
      host: 'github',
      repository: 'org/fleet',
      number: 5,
      headSha: HEAD,
      baseRef: 'main',
      cloneUrls: ['https://github.com/org/fleet.git', 'git@github.com:org/fleet.git'],
      action: 'synchronize',
      baseSha: BASE,
      headRef: 'feature',
      fork: false,
    });
    for (const a of ['closed', 'labeled', 'edited']) assert.equal(githubPreviewRequest(payload(a)), undefined, a);
    assert.equal(githubPreviewRequest({ ...payload('opened'), pull_request: { head: { sha: 'short' }, base: { ref: 'main' } } }), undefined);
  });

  test('GitLab: open, reopen, and update with new commits', () => {
    const payload = (action: string, oldrev?: string) => ({
      object_kind: 'merge_request',
      project: { id: 9, path_with_namespace: 'grp/fleet', git_http_url: 'https://gitlab.com/grp/fleet.git' },
      object_attributes: { iid: 3, action, target_branch: 'main', source_branch: 'f', last_commit: { id: HEAD }, ...(oldrev ? { oldrev } : {}) },
    });
    assert.equal(gitlabPreviewRequest(payload('open'))?.number, 3);
    assert.equal(gitlabPreviewRequest(payload('open'))?.projectId, 9);
    assert.equal(gitlabPreviewRequest(payload('update')), undefined, 'a title change brings no commits');
    assert.equal(gitlabPreviewRequest(payload('update', BASE))?.headSha, HEAD);
    assert.equal(gitlabPreviewRequest(payload('merge')), undefined);
  });

  test('repository URLs match across https, ssh and scp-like forms', () => {
    const id = 'github.com/org/fleet';
    for (const u of ['https://github.com/org/fleet', 'https://user:pw@github.com/org/fleet.git/', 'ssh://git@github.com/org/fleet.git', 'git@github.com:org/fleet.git', 'https://GitHub.com/Org/Fleet']) assert.equal(repoIdentity(u), id, u);
  });

  test('preview messages are validated like every queue message', () => {
    const req: PreviewRequest = { host: 'github', repository: 'o/r', number: 1, headSha: HEAD, baseRef: 'main', cloneUrls: [], action: 'opened' };
    const m = previewMessage({ kind: 'PullRequestPreview', namespace: 'ns', name: 'rcv.1' }, req);
    const back = parseMessage(JSON.stringify(m));
    assert.ok(back.ok);
    assert.deepEqual(back.ok && back.message, m);
    const bad = parseMessage(JSON.stringify({ ...m, preview: { ...req, headSha: 'HEAD' } }));
    assert.ok(!bad.ok && /preview\.headSha/.test(bad.error.message));
  });
});

describe('report', () => {
  const req: PreviewRequest = { host: 'github', repository: 'o/r', number: 1, headSha: HEAD, baseRef: 'main', cloneUrls: [], action: 'opened' };
  const key = { kind: 'Kustomization', namespace: 'flux-system', name: 'apps' };

  test('per object lines with the diff; a failing Kustomization makes the check fail', () => {
    const ok = buildReport(req, [{ source: { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, kustomizations: [{ key, path: './apps', ok: true, unchanged: 3, changes: [{ subject: 'Deployment/apps/web', action: 'configured', diff: '  ~ spec.replicas: 1 -> 2' }, { subject: 'ConfigMap/apps/x', action: 'created' }] }] }]);
    assert.equal(ok.conclusion, 'success');
    assert.equal(ok.title, '2 objects would change');
    assert.ok(ok.summary.includes('- **configured** `Deployment/apps/web`\n  ```diff\n    ~ spec.replicas: 1 -> 2\n  ```'), ok.summary);
    assert.ok(ok.summary.includes('1 created, 1 configured, 0 deleted'));
    const bad = buildReport(req, [{ source: { kind: 'GitRepository', namespace: 'flux-system', name: 'flux-system' }, kustomizations: [{ key, path: './apps', ok: false, reason: 'ValidationFailed', error: 'Deployment/apps/web: spec.replicas: Invalid value', unchanged: 0, changes: [] }] }]);
    assert.equal(bad.conclusion, 'failure');
    assert.equal(bad.title, '1 Kustomization would fail: flux-system/apps');
    assert.match(bad.summary, /❌ `Kustomization\/flux-system\/apps` \(`\.\/apps`\): a manifest would fail validation/);
    assert.equal(buildReport(req, [{ source: key, kustomizations: [] }]).title, 'No Kustomization is affected');
    assert.ok(noteBody({ namespace: 'ns', name: 'rcv' }, ok).startsWith('<!-- fluxless-preview:ns/rcv -->\n## ✅ Fluxless preview: 2 objects would change'));
  });

  test('a summary over GitHub\'s limit is cut below it, with a marker', () => {
    const long = truncate('x'.repeat(70_000));
    assert.ok(long.length <= MAX_SUMMARY && long.length < 65_535);
    assert.match(long, /truncated/);
    const many = buildReport(req, [{ source: key, kustomizations: [{ key, path: './', ok: true, unchanged: 0, changes: Array.from({ length: 3000 }, (_, i) => ({ subject: `ConfigMap/apps/cm-${i}`, action: 'created' as const })) }] }]);
    assert.ok(many.summary.length <= MAX_SUMMARY);
    assert.equal(many.title, '3000 objects would change');
  });
});
