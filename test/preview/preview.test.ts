/**
 * Pull-request previews end to end through `fluxless serve`: a signed GitHub
 * `pull_request` webhook (and a GitLab merge request hook) makes the worker fetch the pull
 * request's head from the git server, render the Kustomizations whose inputs it touches,
 * server-side dry-run them against the real control plane, and post the result to a
 * loopback GitHub (check runs) or GitLab (merge request notes) that records the requests.
 * Nothing is written to the cluster.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import type { KubeObject } from '../../shared/kube/object.js';
import { webhookPath } from '../../shared/receivers/signature.js';
import { configMap, e2e, pushBranch } from '../e2e/helpers.js';
import { startForge, type FakeCheckRun } from '../notify/recorder.js';

const forge = await startForge();
after(() => forge.close());

function deployment(image: string, replicas: number | string = 0): string {
  return `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${typeof replicas === 'string' ? JSON.stringify(replicas) : replicas}
  selector:
    matchLabels: { app: web }
  template:
    metadata:
      labels: { app: web }
    spec:
      containers:
        - name: web
          image: ${image}
`;
}

function secret(password: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: ${password}\n`;
}

function files(ns: string): Record<string, string> {
  const receiver = (name: string, type: string, events: string, secretName: string) =>
    `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  type: ${type}\n  events: ${events}\n  secretRef:\n    name: ${secretName}\n  resources:\n    - kind: GitRepository\n      name: flux-system\n`;
  return {
    'clusters/dev/receivers.yaml': `${receiver('github-pr', 'github', '["ping", "push", "pull_request"]', 'github-pr')}---\n${receiver('gitlab-mr', 'gitlab', '["Merge Request Hook"]', 'gitlab-mr')}`,
    'clusters/dev/apps.yaml': `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: apps\n  namespace: ${ns}\nspec:\n  interval: 10m\n  prune: true\n  path: ./apps\n  targetNamespace: ${ns}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n`,
    'apps/deploy.yaml': deployment('nginx:1.25'),
    'apps/settings.yaml': configMap('settings', { mode: 'a' }),
    'apps/secret.yaml': secret('hunter2'),
    'docs/README.md': '# fleet\n',
  };
}

test('pull request previews: a GitHub check run per head, a GitLab merge request note, nothing written to the cluster', { timeout: 240_000 }, async (t) => {
  const env = await e2e(t);
  const { ns, repo, client } = env;
  const ghToken = randomBytes(12).toString('hex');
  const glToken = randomBytes(12).toString('hex');
  const mkSecret = (name: string, data: Record<string, string>) => client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name }, stringData: data } });
  await mkSecret('github-pr', { token: ghToken, apiURL: `${forge.url}/api/v3/`, apiToken: 'ghs_preview' });
  await mkSecret('gitlab-mr', { token: glToken, apiURL: `${forge.url}/api/v4/`, apiToken: 'glpat-preview' });
  const base = await repo.commit(files(ns), 'fleet');
  await repo.push();
  const local = await env.start();
  await env.waitFor('apps applied', async () => (await env.record('Kustomization', 'apps'))?.status.lastAppliedRevision === `main@sha1:${base}`);
  await env.waitFor('the Receivers served', async () => Boolean((await env.record('Receiver', 'github-pr'))?.status.webhookPath && (await env.record('Receiver', 'gitlab-mr'))?.status.webhookPath));
  const liveDeployment = () => client.request<KubeObject>('GET', `/apis/apps/v1/namespaces/${ns}/deployments/web`);
  const liveImage = async () => ((await liveDeployment()).spec as { template: { spec: { containers: Array<{ image: string }> } } }).template.spec.containers[0].image;

  const branch = (name: string, change: Record<string, string | null>, from = 'main') => pushBranch(repo, name, change, from);
  const pullRequest = async (number: number, action: string, head: string, headRef: string) => {
    const body = JSON.stringify({
      action,
      number,
      pull_request: { number, head: { sha: head, ref: headRef, repo: { full_name: 'fleet/fleet' } }, base: { sha: base, ref: 'main' } },
      repository: { full_name: 'fleet/fleet', clone_url: repo.url },
    });
    const res = await fetch(local.url + webhookPath(ghToken, 'github-pr', ns), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': randomBytes(8).toString('hex'), 'x-hub-signature-256': 'sha256=' + createHmac('sha256', ghToken).update(body).digest('hex') },
      body,
    });
    assert.equal(res.status, 200, await res.text());
  };
  const completed = async (head: string): Promise<FakeCheckRun> => {
    await forge.waitFor(`the check run of ${head} completed`, () => forge.checkRuns.some((c) => c.head_sha === head && c.status === 'completed'));
    return forge.checkRuns.find((c) => c.head_sha === head)!;
  };
  /** `- **configured** `Deployment/ns/web`` lines, and the diff lines under them. */
  const listed = (summary: string) => summary.split('\n').filter((l) => l.startsWith('- **'));
  const diffLines = (summary: string) => summary.split('\n').filter((l) => /^ {2}\s+[~+-] /.test(l)).map((l) => l.trim());

  await t.test('a pull request that changes a Deployment: one check run listing exactly that object and field', async () => {
    const head = await branch('pr-1', { 'apps/deploy.yaml': deployment('nginx:1.26') });
    await pullRequest(1, 'opened', head, 'pr-1');
    const run = await completed(head);
    assert.equal(run.name, 'fluxless preview');
    assert.equal(run.conclusion, 'success', run.output?.summary);
    assert.equal(run.output?.title, '1 object would change');
    assert.deepEqual(listed(run.output!.summary!), [`- **configured** \`Deployment/${ns}/web\``]);
    assert.deepEqual(diffLines(run.output!.summary!), ['~ spec.template.spec.containers[0].image: nginx:1.25 -> nginx:1.26']);
    const create = forge.find('POST', '/api/v3/repos/fleet/fleet/check-runs');
    assert.equal(create.length, 1);
    assert.equal(create[0].headers.authorization, 'Bearer ghs_preview');
    assert.equal(create[0].json<{ head_sha: string; status: string }>().status, 'in_progress');
    assert.equal(await liveImage(), 'nginx:1.25', 'nothing was applied');
  });

  await t.test('a new push gets the run of its head; a retried preview finds that run by name and head and updates it; Secret values never show', async () => {
    await repo.checkout('pr-1');
    const head2 = await repo.commit({ 'apps/secret.yaml': secret('correct-horse') }, 'rotate');
    await repo.push();
    await repo.checkout('main');
    const posts = forge.find('POST', '/api/v3/repos/fleet/fleet/check-runs').length;
    // GitHub fails the first completion: the queue retries the preview, which must reuse the run it created.
    forge.failNext(/^\/api\/v3\/repos\/fleet\/fleet\/check-runs\/\d+$/, 1, 502);
    await pullRequest(1, 'synchronize', head2, 'pr-1');
    const run = await completed(head2);
    assert.equal(forge.find('POST', '/api/v3/repos/fleet/fleet/check-runs').length, posts + 1, 'one new run, for the new head');
    assert.equal(forge.checkRuns.filter((c) => c.head_sha === head2).length, 1);
    assert.ok(forge.find('GET', `/api/v3/repos/fleet/fleet/commits/${head2}/check-runs`).length >= 2, 'the retry looked the run up by name and head');
    const s = run.output!.summary!;
    // In Flux's apply order: Secrets before Deployments.
    assert.deepEqual(listed(s), [`- **configured** \`Secret/${ns}/db\``, `- **configured** \`Deployment/${ns}/web\``]);
    assert.ok(!s.includes('hunter2') && !s.includes('correct-horse'), s);
    assert.ok(diffLines(s).some((l) => l.includes('***')), s);
  });

  await t.test('a broken manifest: a failing check, and no cluster change', async () => {
    const head = await branch('pr-2', { 'apps/deploy.yaml': deployment('nginx:1.27', 'two'), 'apps/extra.yaml': configMap('extra', { v: '1' }) });
    await pullRequest(2, 'opened', head, 'pr-2');
    const run = await completed(head);
    assert.equal(run.conclusion, 'failure');
    assert.match(run.output!.title!, /^1 Kustomization would fail: .*\/apps$/);
    assert.match(run.output!.summary!, /a manifest would fail validation/);
    assert.match(run.output!.summary!, new RegExp(`Deployment/${ns}/web`));
    assert.equal(await liveImage(), 'nginx:1.25');
    await assert.rejects(client.request('GET', `/api/v1/namespaces/${ns}/configmaps/extra`), /not ?found|404/i, 'the new ConfigMap was not created');
  });

  await t.test('a change outside every Kustomization path touches nothing', async () => {
    const head = await branch('pr-3', { 'docs/README.md': '# fleet\n\nmore docs\n' });
    await pullRequest(3, 'opened', head, 'pr-3');
    const run = await completed(head);
    assert.equal(run.conclusion, 'success');
    assert.equal(run.output?.title, 'No Kustomization is affected');
    assert.deepEqual(listed(run.output!.summary!), []);
  });

  await t.test('a GitLab merge request: one note, updated on a new push', async () => {
    const head = await branch('mr-7', { 'apps/settings.yaml': configMap('settings', { mode: 'b' }) });
    const hook = async (action: string, sha: string, oldrev?: string) => {
      const body = JSON.stringify({
        object_kind: 'merge_request',
        project: { id: 42, path_with_namespace: 'fleet/fleet', git_http_url: repo.url },
        object_attributes: { iid: 7, action, target_branch: 'main', source_branch: 'mr-7', source_project_id: 42, target_project_id: 42, last_commit: { id: sha }, ...(oldrev ? { oldrev } : {}) },
      });
      const res = await fetch(local.url + webhookPath(glToken, 'gitlab-mr', ns), { method: 'POST', headers: { 'content-type': 'application/json', 'x-gitlab-token': glToken, 'x-gitlab-event': 'Merge Request Hook' }, body });
      assert.equal(res.status, 200, await res.text());
    };
    await hook('open', head);
    await forge.waitFor('the merge request note', () => forge.notes.length === 1);
    const note = forge.notes[0];
    assert.ok(note.body.startsWith('<!-- fluxless-preview:'), note.body);
    assert.match(note.body, new RegExp(`- \\*\\*configured\\*\\* \`ConfigMap/${ns}/settings\``));
    assert.ok(note.body.includes('~ data.mode: a -> b'), note.body);
    const post = forge.find('POST', '/api/v4/projects/42/merge_requests/7/notes')[0];
    assert.equal(post.headers['private-token'], 'glpat-preview');
    await repo.checkout('mr-7');
    const head2 = await repo.commit({ 'apps/settings.yaml': configMap('settings', { mode: 'c' }) }, 'again');
    await repo.push();
    await repo.checkout('main');
    await hook('update', head2, head);
    await forge.waitFor('the note updated', () => forge.find('PUT', /^\/api\/v4\/projects\/42\/merge_requests\/7\/notes\/\d+$/).length === 1);
    assert.equal(forge.notes.length, 1);
    assert.ok(forge.notes[0].body.includes('~ data.mode: a -> c'), forge.notes[0].body);
  });
});
