import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact, buildArtifactOf, planArtifact } from '../../shared/artifacts/build.js';
import { checkoutCommit, commitTree } from '../../shared/sources/git-tree.js';

function tmpdir(t: TestContext): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-git-tree-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function sh(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8' }).trim();
}

function write(root: string, rel: string, content: string | Buffer, mode?: number): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  if (mode !== undefined) fs.chmodSync(p, mode);
}

/** A repository made with the real git, committed; returns its dir and HEAD. */
function repoWith(t: TestContext, setup: (dir: string) => void): { dir: string; head: string } {
  const dir = tmpdir(t);
  sh(dir, 'init', '-q');
  setup(dir);
  sh(dir, 'add', '-A');
  sh(dir, 'commit', '-q', '-m', 'content');
  return { dir, head: sh(dir, 'rev-parse', 'HEAD') };
}

/** What the reconciler built before: an isomorphic-git checkout of the commit, archived from disk. */
async function fromCheckout(t: TestContext, src: string, head: string, ignore?: string) {
  const dir = tmpdir(t);
  fs.cpSync(path.join(src, '.git'), path.join(dir, '.git'), { recursive: true });
  await checkoutCommit(dir, head);
  return { built: await buildArtifact(dir, { ignore }), names: (await planArtifact(dir, { ignore })).map((e) => e.name) };
}

/** A copy of the repository's git dir only: what a fetch without checkout leaves. */
function fetchedOnly(t: TestContext, src: string): string {
  const dir = tmpdir(t);
  fs.cpSync(path.join(src, '.git'), path.join(dir, '.git'), { recursive: true });
  return dir;
}

describe('GitRepository artifacts from the commit objects, without a checkout', () => {
  test('the same archive, byte for byte, as from a checkout: modes, symlinks, submodules, nested .sourceignore, spec.ignore', async (t) => {
    const { dir: src, head } = repoWith(t, (d) => {
      write(d, 'apps/web/deploy.yaml', 'kind: Deployment\n');
      write(d, 'apps/web/run.sh', '#!/bin/sh\necho hi\n', 0o755);
      write(d, 'apps/web/notes.txt', 'ignored by the nested .sourceignore\n');
      write(d, 'apps/web/.sourceignore', '*.txt\n/local/\n');
      write(d, 'apps/web/local/x.yaml', 'kind: X\n');
      write(d, 'apps/ünïcödé name.yaml', 'kind: U\n');
      write(d, 'b.yaml', 'kind: B\n');
      write(d, 'B.yaml', 'kind: upper\n');
      write(d, 'a-b/c.yaml', 'x\n');
      write(d, 'a/b.yaml', 'x\n');
      write(d, 'empty.yaml', '');
      write(d, 'big.bin', Buffer.alloc(300_000, 7));
      write(d, 'docs/README.md', '# readme\n');
      write(d, 'keep/important.txt', 'kept by a negation\n');
      write(d, '.sourceignore', 'docs/\n*.bin\n');
      fs.symlinkSync('b.yaml', path.join(d, 'link.yaml'));
      fs.symlinkSync('apps', path.join(d, 'linkdir'));
      fs.symlinkSync('/etc/passwd', path.join(d, 'outside'));
    });
    // A submodule: a gitlink entry (the checkout leaves an empty directory).
    sh(src, 'update-index', '--add', '--cacheinfo', `160000,${head},vendor/sub`);
    sh(src, 'commit', '-q', '-m', 'submodule');
    const commit = sh(src, 'rev-parse', 'HEAD');
    const fetched = fetchedOnly(t, src);

    for (const ignore of [undefined, '', '*.txt\n', '!important.txt\n/apps/web/run.sh\n', '/*\n!/apps\n']) {
      const tree = await commitTree(fetched, commit);
      assert.ok(tree, 'no checkout needed');
      const got = await buildArtifactOf(tree, { ignore });
      const want = await fromCheckout(t, src, commit, ignore);
      assert.equal(got.digest, want.built.digest, `spec.ignore ${JSON.stringify(ignore)}: same archive (entries ${want.names.join(', ')})`);
      assert.equal(got.fileCount, want.built.fileCount);
      assert.equal(got.dirCount, want.built.dirCount);
    }
    // The fixture exercises what it is meant to.
    const names = (await fromCheckout(t, src, commit)).names;
    assert.ok(names.includes('apps/web/run.sh') && names.includes('vendor/sub') && names.includes('apps/ünïcödé name.yaml'), names.join(', '));
    assert.ok(!names.includes('link.yaml') && !names.includes('apps/web/notes.txt') && !names.includes('docs/README.md'), names.join(', '));
    assert.deepEqual(fs.readdirSync(fetched), ['.git'], 'nothing was written beside the git dir');
  });

  test('a symlinked .sourceignore is left to a checkout', async (t) => {
    const { dir: src, head } = repoWith(t, (d) => {
      write(d, 'rules', '*.txt\n');
      write(d, 'a.txt', 'x\n');
      write(d, 'a.yaml', 'x\n');
      fs.symlinkSync('rules', path.join(d, '.sourceignore'));
    });
    assert.equal(await commitTree(fetchedOnly(t, src), head), undefined);
  });

  test('a tree entry a checkout refuses fails the same way', async (t) => {
    const { dir: src } = repoWith(t, (d) => write(d, 'a.yaml', 'x\n'));
    const blob = sh(src, 'rev-parse', 'HEAD:a.yaml');
    // Mode 100664 (old git wrote it; isomorphic-git's tree parser knows only the canonical modes).
    const tree = execFileSync('git', ['mktree'], { cwd: src, input: `100664 blob ${blob}\tgroup-writable.yaml\n`, encoding: 'utf8' }).trim();
    const commit = sh(src, 'commit-tree', tree, '-m', 'odd mode');
    const viaCheckout = await checkoutCommit(fetchedOnly(t, src), commit).then(
      () => undefined,
      (err: Error) => err.message,
    );
    assert.ok(viaCheckout, 'the checkout refuses the tree');
    await assert.rejects(commitTree(fetchedOnly(t, src), commit), (err: Error) => err.message === viaCheckout);
  });
});
