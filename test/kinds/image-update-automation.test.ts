/**
 * The ImageUpdateAutomation kind against the harness git server: policies from the state
 * store, the GitRepository's URL and credentials, the commit message template, Flux's status
 * fields and events, the run skipped when nothing moved (counted in the server's request
 * log), the GitRepository woken after a push, and the Stalled / failing cases.
 */
import { before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { ObjectKey } from '../../shared/kube/object.js';
import { getCondition, type ObjectRecord } from '../../shared/state/records.js';
import { clearRequestLog, createTestRepo, gitTestEnv, readRequestLog, type GitServerInfo, type TestRepo } from '../harness/git-server.js';
import { testEnv } from '../harness/index.js';
import { imageFixture, imagePolicy, type ImageFixture } from '../images/fixture.js';

const run = promisify(execFile);
let info: GitServerInfo;
before(async () => {
  info = await (await testEnv()).git();
});

const MANIFEST = 'kind: Deployment\nmetadata:\n  name: app\nspec:\n  image: ghcr.io/org/app:1.9.3 # {"$imagepolicy": "apps:app"}\n';

async function repoWith(t: TestContext): Promise<TestRepo> {
  const repo = await createTestRepo(info, { defaultBranch: 'main' });
  t.after(() => repo.cleanup());
  await repo.commit({ 'apps/app.yaml': MANIFEST, 'other/app.yaml': MANIFEST }, 'initial');
  await repo.push();
  return repo;
}

async function remote(repo: TestRepo, args: string[]): Promise<string> {
  return (await run('git', args, { cwd: path.join(info.root, `${repo.name}.git`), env: gitTestEnv() })).stdout.trim();
}

async function policyWith(f: ImageFixture, name: string, tag: string, labels?: Record<string, string>): Promise<ObjectKey> {
  const key = await f.define(imagePolicy(name, { imageRepositoryRef: { name }, policy: { semver: { range: '*' } } }, labels));
  await f.state.update<ObjectRecord>(key, (cur) => (cur ? { ...cur, status: { ...cur.status, latestRef: { name: `ghcr.io/org/${name}`, tag } } } : undefined));
  return key;
}

async function setup(t: TestContext, spec: Record<string, unknown> = {}): Promise<{ f: ImageFixture; repo: TestRepo; key: ObjectKey }> {
  const f = await imageFixture(t);
  const repo = await repoWith(t);
  await f.define({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet' }, spec: { url: repo.url, interval: '1m', ref: { branch: 'main' } } });
  const key = await f.define({
    apiVersion: 'image.toolkit.fluxcd.io/v1',
    kind: 'ImageUpdateAutomation',
    metadata: { name: 'auto' },
    spec: {
      interval: '10m',
      sourceRef: { kind: 'GitRepository', name: 'fleet' },
      git: { commit: { author: { name: 'Fluxbot', email: 'bot@example.com' } } },
      update: { strategy: 'Setters', path: './apps' },
      ...spec,
    },
  });
  return { f, repo, key };
}

describe('ImageUpdateAutomation', () => {
  test('commits the new tag with the rendered message, records the push, wakes the GitRepository', async (t) => {
    const { f, repo, key } = await setup(t, {
      git: {
        commit: {
          author: { name: 'Fluxbot', email: 'bot@example.com' },
          messageTemplate: '[{{ .Values.env }}] {{ .AutomationObject }}:{{ range .Changed.Changes }} {{ .OldValue }} -> {{ .NewValue }}{{ end }}',
          messageTemplateValues: { env: 'prod' },
        },
      },
    });
    await policyWith(f, 'app', '1.10.0');
    const res = await f.reconcile(key);
    assert.equal(res.ready, true, res.message);
    const head = await remote(repo, ['rev-parse', 'refs/heads/main']);
    const message = '[prod] apps/auto: ghcr.io/org/app:1.9.3 -> ghcr.io/org/app:1.10.0';
    assert.equal(await remote(repo, ['log', '-1', '--format=%B', head]), message);
    assert.match(await remote(repo, ['show', `${head}:apps/app.yaml`]), /image: ghcr\.io\/org\/app:1\.10\.0 # \{"\$imagepolicy": "apps:app"\}/);
    assert.equal(await remote(repo, ['show', `${head}:other/app.yaml`]) + '\n', MANIFEST, 'outside update.path: untouched');
    const rec = await f.record(key);
    assert.equal(rec.status.lastPushCommit, head);
    assert.ok(rec.status.lastPushTime && rec.status.lastAutomationRunTime);
    assert.deepEqual(rec.status.observedPolicies, { app: { name: 'ghcr.io/org/app', tag: '1.10.0' } });
    assert.equal(rec.status.observedSourceRevision, `main@sha1:${head}`);
    assert.equal(getCondition(rec, 'Ready')?.message, 'repository up-to-date');
    assert.equal(rec.events?.at(-1)?.message, `pushed commit '${head.slice(0, 7)}' to branch 'main'\n${message}`);
    assert.deepEqual(res.wake.map((w) => w.key), [{ kind: 'GitRepository', namespace: 'apps', name: 'fleet' }]);
  });

  test('nothing moved: the run is skipped after one ref listing; no commit when nothing changes', async (t) => {
    const { f, repo, key } = await setup(t);
    await policyWith(f, 'app', '1.10.0');
    await f.reconcile(key);
    const head = await remote(repo, ['rev-parse', 'refs/heads/main']);
    await clearRequestLog(info, repo.name);
    const res = await f.reconcile(key);
    assert.equal(res.ready, true);
    const entries = await readRequestLog(info, repo.name);
    assert.ok(entries.every((e) => e.service === 'upload-pack' && e.command !== 'fetch'), JSON.stringify(entries));
    assert.ok(!entries.some((e) => e.service === 'receive-pack'));
    // Someone else commits: a full run, but the value is already right: no commit.
    await run('git', ['pull', '-q', 'origin', 'main'], { cwd: repo.workdir, env: gitTestEnv() });
    const theirs = await repo.commit({ 'README.md': 'x\n' }, 'docs');
    await repo.push();
    assert.equal((await f.reconcile(key)).ready, true);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), theirs);
    assert.notEqual(theirs, head);
    assert.equal((await f.record(key)).status.observedSourceRevision, `main@sha1:${theirs}`);
  });

  test('policySelector: an unselected policy changes nothing', async (t) => {
    const { f, repo, key } = await setup(t, { policySelector: { matchLabels: { auto: 'yes' } } });
    await policyWith(f, 'app', '1.10.0', { auto: 'no' });
    const before = await remote(repo, ['rev-parse', 'refs/heads/main']);
    const res = await f.reconcile(key);
    assert.equal(res.ready, true);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), before);
    assert.deepEqual((await f.record(key)).status.observedPolicies, {});
  });

  test('a template with the removed .Updated field: Stalled RemovedTemplateField, no push', async (t) => {
    const { f, repo, key } = await setup(t, { git: { commit: { author: { email: 'bot@example.com' }, messageTemplate: '{{ range .Updated.Images }}{{ . }}{{ end }}' } } });
    await policyWith(f, 'app', '1.10.0');
    const before = await remote(repo, ['rev-parse', 'refs/heads/main']);
    const res = await f.reconcile(key);
    assert.equal(res.reason, 'RemovedTemplateField');
    const rec = await f.record(key);
    assert.equal(getCondition(rec, 'Stalled')?.reason, 'RemovedTemplateField');
    assert.match(getCondition(rec, 'Ready')?.message ?? '', /template uses removed '\.Updated' field/);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), before);
  });

  test('source problems: a missing GitRepository, a Bucket source, no push branch, a bad update path', async (t) => {
    const f = await imageFixture(t);
    const automation = (name: string, spec: Record<string, unknown>) =>
      f.define({
        apiVersion: 'image.toolkit.fluxcd.io/v1',
        kind: 'ImageUpdateAutomation',
        metadata: { name },
        spec: { interval: '10m', sourceRef: { kind: 'GitRepository', name: 'fleet' }, git: { commit: { author: { email: 'bot@example.com' } } }, ...spec },
      });
    const missing = await automation('missing', {});
    const r1 = await f.reconcile(missing);
    assert.equal(r1.reason, 'SourceManagerFailed');
    assert.match(r1.message, /referenced git repository does not exist/);
    const bucket = await automation('bucket', { sourceRef: { kind: 'Bucket', name: 'b' } });
    await f.reconcile(bucket);
    assert.equal(getCondition(await f.record(bucket), 'Stalled')?.reason, 'InvalidSourceConfiguration');
    await f.define({ apiVersion: 'source.toolkit.fluxcd.io/v1', kind: 'GitRepository', metadata: { name: 'fleet' }, spec: { url: 'https://example.invalid/fleet.git', interval: '1m', ref: { tag: 'v1' } } });
    const nobranch = await automation('nobranch', {});
    await f.reconcile(nobranch);
    const rec = await f.record(nobranch);
    assert.equal(getCondition(rec, 'Stalled')?.reason, 'InvalidSourceConfiguration');
    assert.equal(getCondition(rec, 'Ready')?.message, 'push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref');
    const strategy = await automation('strategy', { update: { strategy: 'Regex' } });
    await f.reconcile(strategy);
    assert.equal(getCondition(await f.record(strategy), 'Stalled')?.reason, 'InvalidUpdateStrategy');
  });

  test('an update path that does not exist: UpdateFailed, nothing pushed', async (t) => {
    const { f, repo, key } = await setup(t, { update: { path: './nope' } });
    await policyWith(f, 'app', '1.10.0');
    const before = await remote(repo, ['rev-parse', 'refs/heads/main']);
    const res = await f.reconcile(key);
    assert.equal(res.reason, 'UpdateFailed');
    assert.match(res.message, /^failed to apply policies: walking path for files/);
    assert.equal(await remote(repo, ['rev-parse', 'refs/heads/main']), before);
  });
});
