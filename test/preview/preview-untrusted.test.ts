/**
 * Previews of untrusted pull requests (a fork: head.repo differs from the base): what the
 * check run may show. The preview builds the head with the cluster's credentials, so
 * - a Kustomization definition the pull request adds (or changes) must not read Secrets
 *   through postBuild.substituteFrom (or SOPS keys through spec.decryption) and publish
 *   them in the check run;
 * - the dry-run must run as the Kustomization's ServiceAccount (spec.serviceAccountName),
 *   as the reconcile would: a tenant's pull request must not read objects its account
 *   cannot read, through the "configured" diff.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { webhookPath } from '../../shared/receivers/signature.js';
import { configMap, e2e, pushBranch } from '../e2e/helpers.js';
import { startForge, type FakeCheckRun } from '../notify/recorder.js';
import { MAX_PREVIEWED_KUSTOMIZATIONS } from '../../shared/preview/render.js';

const forge = await startForge();
after(() => forge.close());

function ks(ns: string, name: string, p: string, extra = ''): string {
  return `apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  interval: 10m\n  prune: true\n  path: ${p}\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n${extra}`;
}

test('untrusted pull request previews: no Secret in the check run, dry-run as the tenant', { timeout: 300_000 }, async (t) => {
  const env = await e2e(t);
  const { ns, repo, client } = env;
  const ghToken = randomBytes(12).toString('hex');
  const apiToken = `ghs${randomBytes(8).toString('hex')}`;
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'github-pr' }, stringData: { token: ghToken, apiURL: `${forge.url}/api/v3/`, apiToken, previewForks: 'true' } } });
  await client.request('POST', `/api/v1/namespaces/${ns}/secrets`, { body: { metadata: { name: 'github-strict' }, stringData: { token: ghToken, apiURL: `${forge.url}/api/v3/`, apiToken } } });
  // A tenant account that may only manage ConfigMaps in its own namespace.
  await client.request('POST', `/api/v1/namespaces/${ns}/serviceaccounts`, { body: { metadata: { name: 'tenant' } } });
  await client.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, { body: { metadata: { name: 'tenant' }, rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['*'] }] } });
  await client.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, { body: { metadata: { name: 'tenant' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'tenant' }, subjects: [{ kind: 'ServiceAccount', name: 'tenant', namespace: ns }] } });
  // Something the tenant cannot read: a ConfigMap in kube-system.
  const privateName = `private-${ns}`;
  await client.request('POST', '/api/v1/namespaces/kube-system/configmaps', { body: { metadata: { name: privateName }, data: { dbUrl: 'postgres://admin:live-db-password@db.internal/prod' } } });
  t.after(() => client.request('DELETE', `/api/v1/namespaces/kube-system/configmaps/${privateName}`).catch(() => undefined));

  const receiverOf = (name: string) => `apiVersion: notification.toolkit.fluxcd.io/v1\nkind: Receiver\nmetadata:\n  name: ${name}\n  namespace: ${ns}\nspec:\n  type: github\n  events: ["ping", "pull_request"]\n  secretRef:\n    name: ${name}\n  resources:\n    - kind: GitRepository\n      name: flux-system\n`;
  const receiver = `${receiverOf('github-pr')}---\n${receiverOf('github-strict')}`;
  const base = await repo.commit(
    {
      'clusters/dev/receivers.yaml': receiver,
      'clusters/dev/apps.yaml': ks(ns, 'apps', './apps', `  targetNamespace: ${ns}\n`),
      'clusters/dev/tenant.yaml': ks(ns, 'tenant', './tenant', '  serviceAccountName: tenant\n'),
      'apps/settings.yaml': configMap('settings', { mode: 'a' }),
      'tenant/cm.yaml': configMap('tenant-cm', { v: '1' }).replace('metadata:\n', `metadata:\n  namespace: ${ns}\n`),
    },
    'fleet',
  );
  await repo.push();
  const local = await env.start();
  await env.waitFor('apps applied', async () => (await env.record('Kustomization', 'apps'))?.status.lastAppliedRevision === `main@sha1:${base}`);
  await env.waitFor('tenant applied', async () => (await env.record('Kustomization', 'tenant'))?.status.lastAppliedRevision === `main@sha1:${base}`);
  await env.waitFor('the Receivers served', async () => Boolean((await env.record('Receiver', 'github-pr'))?.status.webhookPath && (await env.record('Receiver', 'github-strict'))?.status.webhookPath));

  const branch = (name: string, change: Record<string, string | null>) => pushBranch(repo, name, change);
  /** A pull request from a fork (head.repo is attacker/fleet), as GitHub sends it for an outside contributor. */
  const pullRequest = async (number: number, head: string, headRef: string, o: { fork?: boolean; receiver?: string } = {}): Promise<Record<string, unknown>> => {
    const fork = o.fork ?? true;
    const body = JSON.stringify({
      action: 'opened',
      number,
      pull_request: { number, author_association: 'NONE', head: { sha: head, ref: headRef, repo: { full_name: fork ? 'attacker/fleet' : 'fleet/fleet', fork } }, base: { sha: base, ref: 'main', repo: { full_name: 'fleet/fleet' } } },
      repository: { full_name: 'fleet/fleet', clone_url: repo.url },
    });
    const res = await fetch(local.url + webhookPath(ghToken, o.receiver ?? 'github-pr', ns), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': randomBytes(8).toString('hex'), 'x-hub-signature-256': 'sha256=' + createHmac('sha256', ghToken).update(body).digest('hex') },
      body,
    });
    const text = await res.text();
    assert.equal(res.status, 200, text);
    return JSON.parse(text) as Record<string, unknown>;
  };
  const completed = async (head: string): Promise<FakeCheckRun> => {
    await forge.waitFor(`the check run of ${head} completed`, () => forge.checkRuns.some((c) => c.head_sha === head && c.status === 'completed'));
    return forge.checkRuns.find((c) => c.head_sha === head)!;
  };

  await t.test('a pull request from a fork is not previewed unless the Receiver Secret sets previewForks', async () => {
    const head = await branch('fork-0', { 'apps/settings.yaml': configMap('settings', { mode: 'b' }) });
    const res = await pullRequest(10, head, 'fork-0', { receiver: 'github-strict' });
    assert.equal(res.status, 'accepted');
    await new Promise((r) => setTimeout(r, 2000));
    assert.equal(forge.checkRuns.filter((c) => c.head_sha === head).length, 0, 'no check run for a fork');
  });

  await t.test('a fork adds a Kustomization that substitutes from the Receiver\'s Secret: its values never reach the check run', async () => {
    const leak = configMap('settings', { mode: '${apiToken}', hmac: '${token}' }).replace('metadata:\n', `metadata:\n  namespace: ${ns}\n`);
    const head = await branch('fork-1', {
      'clusters/dev/evil.yaml': ks(ns, 'evil', './evil', '  postBuild:\n    substituteFrom:\n      - kind: Secret\n        name: github-pr\n'),
      'evil/cm.yaml': leak,
    });
    const t0 = Date.now();
    // Same-repository pull request (a member without merge rights): the new definition reads Secrets, it is not built.
    await pullRequest(11, head, 'fork-1', { fork: false });
    const run = await completed(head);
    const s = `${run.output?.title}\n${run.output?.summary}`;
    t.diagnostic(`preview took ${Date.now() - t0} ms; check run:\n${s}`);
    assert.ok(!s.includes(apiToken), `the GitHub API token ${apiToken} is in the check run`);
    assert.ok(!s.includes(ghToken), `the Receiver token ${ghToken} is in the check run`);
    assert.match(s, /Kustomization\/[^`]+\/evil` \(`\.\/evil`\) \(definition changed by this pull request\): not previewed/);
  });

  await t.test('a tenant\'s pull request: the dry-run runs as the tenant, and shows nothing the tenant cannot read', async () => {
    const cm = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${privateName}\n  namespace: kube-system\ndata:\n  dbUrl: x\n`;
    const head = await branch('fork-2', { 'tenant/private.yaml': cm });
    await pullRequest(12, head, 'fork-2');
    const run = await completed(head);
    const s = `${run.output?.title}\n${run.output?.summary}`;
    t.diagnostic(`check run:\n${s}`);
    assert.ok(!s.includes('live-db-password'), 'a kube-system ConfigMap the tenant cannot read is in the check run');
    assert.equal(run.conclusion, 'failure', 'the reconcile (as the tenant) would be refused: the preview must say so');
  });

  await t.test('a pull request adding more Kustomizations than one preview builds: the rest are listed as not previewed', async () => {
    const extra = MAX_PREVIEWED_KUSTOMIZATIONS + 2;
    const files: Record<string, string> = {};
    for (let i = 0; i < extra; i++) files[`clusters/dev/many-${i}.yaml`] = ks(ns, `many-${i}`, './apps', `  targetNamespace: ${ns}\n`);
    const head = await branch('many', files);
    await pullRequest(13, head, 'many', { fork: false });
    const run = await completed(head);
    const s = `${run.output?.title}\n${run.output?.summary}`;
    const skipped = s.match(/: not previewed: the pull request touches more than \d+ Kustomizations of this source/g) ?? [];
    // The root Kustomization (its path changed) and the first of the new ones fill the budget.
    assert.equal(skipped.length, extra + 1 - MAX_PREVIEWED_KUSTOMIZATIONS, s.slice(0, 2000));
  });
});
