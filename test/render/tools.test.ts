import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { cacheDir, ensureTools } from '../../shared/render/tools.js';
import { tempTree } from './helpers.js';

const run = promisify(execFile);
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const toolsModule = pathToFileURL(path.join(repo, 'shared/render/tools.ts')).href;

/** Runs ensureTools() in a fresh Node process (its own memo) with `env`; returns its JSON result. */
async function ensureToolsInChild(env: Record<string, string>): Promise<{ ok: boolean; tools?: { kubectl: string; helm: string }; error?: { name: string; message: string } }> {
  const code = `
    import { ensureTools } from ${JSON.stringify(toolsModule)};
    try { console.log(JSON.stringify({ ok: true, tools: await ensureTools() })); }
    catch (e) { console.log(JSON.stringify({ ok: false, error: { name: e.name, message: e.message } })); }
  `;
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
    cwd: repo,
    env: { ...process.env, FLUXLESS_LOG_LEVEL: 'error', ...env },
    maxBuffer: 1 << 20,
  });
  return JSON.parse(stdout.trim().split('\n').pop()!);
}

describe('ensureTools', () => {
  test('provides a kubectl with kustomize v5 and a helm, memoized', async () => {
    const a = await ensureTools();
    assert.equal(await ensureTools(), a);
    const { stdout } = await run(a.kubectl, ['version', '--client']);
    assert.match(stdout, /Client Version: v1\.35\./);
    assert.match(stdout, /Kustomize Version: v5\./);
    const helm = await run(a.helm, ['version', '--short']);
    assert.match(helm.stdout, /^v\d+\./);
  });

  test('two processes extracting into an empty cache at once both get a complete copy', async (t) => {
    const cache = await tempTree(t, {}, 'fluxless-cache-');
    const [a, b] = await Promise.all([
      ensureToolsInChild({ FLUXLESS_CACHE_DIR: cache }),
      ensureToolsInChild({ FLUXLESS_CACHE_DIR: cache }),
    ]);
    assert.ok(a.ok && b.ok, JSON.stringify({ a, b }));
    assert.deepEqual(a.tools, b.tools);
    assert.ok(a.tools!.kubectl.startsWith(path.join(cache, 'kubectl-layer-')), a.tools!.kubectl);
    // Only the final directory remains: the loser's temporary copy is gone.
    assert.deepEqual((await readdir(cache)).filter((n) => n.startsWith('.')), []);
    const { stdout } = await run(a.tools!.kubectl, ['version', '--client']);
    assert.match(stdout, /Kustomize Version: v5\./);
    // A third process finds the cache and reuses it.
    const c = await ensureToolsInChild({ FLUXLESS_CACHE_DIR: cache });
    assert.deepEqual(c.tools, a.tools);
  });

  test('FLUXLESS_KUBECTL / FLUXLESS_HELM override the bundled binaries; a bad override is an EnvironmentError', async (t) => {
    const dir = await tempTree(t, {}, 'fluxless-tools-');
    const fakeKubectl = path.join(dir, 'kubectl');
    const fakeHelm = path.join(dir, 'helm');
    await writeFile(fakeKubectl, '#!/bin/sh\necho fake\n');
    await writeFile(fakeHelm, '#!/bin/sh\necho fake\n');
    await chmod(fakeKubectl, 0o755);
    await chmod(fakeHelm, 0o755);
    const ok = await ensureToolsInChild({ FLUXLESS_KUBECTL: fakeKubectl, FLUXLESS_HELM: fakeHelm });
    assert.deepEqual(ok.tools, { kubectl: fakeKubectl, helm: fakeHelm });

    const bad = await ensureToolsInChild({ FLUXLESS_KUBECTL: path.join(dir, 'missing') });
    assert.equal(bad.ok, false);
    assert.equal(bad.error?.name, 'EnvironmentError');
    assert.match(bad.error?.message ?? '', /FLUXLESS_KUBECTL=.*missing is not an executable file/);
  });

  test('cacheDir follows FLUXLESS_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    assert.equal(cacheDir({ FLUXLESS_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }), '/c');
    assert.equal(cacheDir({ XDG_CACHE_HOME: '/x' }), path.join('/x', 'fluxless'));
    assert.match(cacheDir({}), /\.cache[/\\]fluxless$/);
  });
});
