/**
 * Standing fault suite (issue 9, finding 7): a corrupted or deleted artifact is rebuilt.
 *
 * With the remote unchanged, one flipped byte in the stored artifact (and, after that, a
 * deleted artifact) makes `apps` fail its digest check; the next reconcile of the
 * GitRepository (a webhook to the running server, then `fluxless reconcile source git`)
 * checks the stored artifact, rebuilds it, and `apps` is Ready again at the same revision,
 * without a new commit.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { FsArtifactStore } from '../../shared/artifacts/fs-store.js';
import { assertExit, configMap, faultFleet, kustomization, ready, receiver, waitFor, type FaultFleet } from './helpers.js';
import { describeLeaks, scanForSecrets } from './secret-scan.js';

function artifactFile(f: FaultFleet): { file: string; digest: string } {
  const a = f.record('GitRepository', 'flux-system')?.status.artifact;
  assert.ok(a, 'the GitRepository has an artifact');
  return { file: new FsArtifactStore(path.join(f.dataDir, 'artifacts')).pathFor(a.key), digest: a.digest };
}

function sha256(file: string): string {
  return `sha256:${createHash('sha256').update(readFileSync(file)).digest('hex')}`;
}

test('a corrupted or deleted artifact is rebuilt with the remote unchanged, and apps is Ready again without a new commit', { timeout: 240_000 }, async (t) => {
  const f = await faultFleet(t);
  const { ns } = f;
  await f.repo.commit(
    {
      'clusters/dev/receiver.yaml': receiver(ns),
      'clusters/dev/apps.yaml': kustomization(ns, 'apps', './apps', { interval: '1h', retryInterval: '2s' }),
      'apps/a.yaml': configMap('a', { v: '1' }),
    },
    'only commit',
  );
  await f.repo.push();
  const head = await f.repo.head();
  const rev = `main@sha1:${head}`;
  let serve = await f.serve();
  await waitFor('apps Ready', () => ready(f.record('Kustomization', 'apps')).status === 'True', 90_000, serve.output);
  assert.equal(await serve.stop(), 0, serve.output());
  const { file, digest } = artifactFile(f);
  assert.equal(sha256(file), digest, 'the stored artifact matches its digest to begin with');

  await t.test('one flipped byte: apps fails its digest check; a webhook to the source rebuilds the artifact; apps is Ready again', async () => {
    const bytes = readFileSync(file);
    const i = Math.floor(bytes.length / 2);
    bytes[i] = bytes[i]! ^ 0x01;
    writeFileSync(file, bytes);

    // A fresh process (no extraction cached) sees the corruption.
    const failed = await f.cli(['reconcile', 'kustomization', 'apps', '-n', ns]);
    assert.notEqual(failed.code, 0, `apps cannot be Ready on a corrupt artifact:\n${failed.stdout}${failed.stderr}`);
    const broken = ready(f.record('Kustomization', 'apps'));
    assert.equal(broken.status, 'False');
    assert.match(broken.message ?? '', /digest/i, 'apps says the artifact does not match its digest');

    serve = await f.serve();
    const res = await f.push(serve);
    assert.equal(res.status, 200, await res.text());
    await waitFor('the source to rebuild its artifact', () => existsSync(file) && sha256(file) === digest, 60_000, serve.output);
    assert.equal(ready(f.record('GitRepository', 'flux-system')).status, 'True');
    // apps comes back on its own (its retryInterval); asking the server makes it now.
    assertExit(await f.cli(['reconcile', 'kustomization', 'apps', '-n', ns]), 0, 'fluxless reconcile kustomization apps (through the server)');
    const apps = f.record('Kustomization', 'apps');
    assert.equal(ready(apps).status, 'True');
    assert.equal(apps?.status.lastAppliedRevision, rev);
    assert.equal(await f.repo.head(), head, 'no new commit');
    assert.equal(await serve.stop(), 0, serve.output());
  });

  await t.test('a deleted artifact: the next `fluxless reconcile source git` rebuilds it; apps is Ready again', async () => {
    rmSync(file);
    const failed = await f.cli(['reconcile', 'kustomization', 'apps', '-n', ns]);
    assert.notEqual(failed.code, 0, `apps cannot be Ready without its artifact:\n${failed.stdout}${failed.stderr}`);
    assert.equal(ready(f.record('Kustomization', 'apps')).status, 'False');

    assertExit(await f.cli(['reconcile', 'source', 'git', 'flux-system', '-n', ns]), 0, 'fluxless reconcile source git flux-system');
    assert.ok(existsSync(file), 'the artifact is back');
    assert.equal(sha256(file), digest);
    assertExit(await f.cli(['reconcile', 'kustomization', 'apps', '-n', ns]), 0, 'fluxless reconcile kustomization apps');
    const apps = f.record('Kustomization', 'apps');
    assert.equal(ready(apps).status, 'True');
    assert.equal(apps?.status.lastAppliedRevision, rev);
    assert.equal(await f.repo.head(), head, 'no new commit');
  });

  await t.test('no secret value in logs, output or the data directory', async () => {
    const { leaks } = await scanForSecrets(f.secrets, { dirs: [f.dataDir], texts: f.outputs.map((text, i) => ({ where: `output #${i}`, text })) });
    assert.deepEqual(leaks, [], describeLeaks(leaks));
  });
});
