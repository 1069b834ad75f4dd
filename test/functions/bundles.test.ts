/**
 * What each Lambda bundle carries: the functions that never reconcile (webhook, schedule,
 * registry-events) load the kind descriptors, not the reconcilers, so their bundles hold
 * none of the apply engine, helm, SOPS, git or kustomize; the worker holds them all. Built
 * here with the build script's settings (scripts/esbuild-options.mjs), into a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { HEAVY_MODULES, heavyIn, type Metafile } from '../../scripts/bundle-contents.mjs';
import { functionBundleOptions } from '../../scripts/esbuild-options.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function contents(name: string, dir: string): Promise<{ heavy: Record<string, number>; bytes: number }> {
  const outfile = path.join(dir, `${name}.mjs`);
  const res = await build({ ...functionBundleOptions, absWorkingDir: ROOT, entryPoints: [`functions/${name}.ts`], outfile, sourcemap: false, logLevel: 'silent' });
  const meta = res.metafile as Metafile;
  return { heavy: heavyIn(meta), bytes: Object.values(meta.outputs).reduce((n, o) => n + o.bytes, 0) };
}

test('the webhook, schedule and registry-events bundles carry no reconciler; the worker carries every one', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bundles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const worker = await contents('worker', dir);
  // The check sees what it looks for: the worker has every heavy module.
  assert.deepEqual(Object.keys(worker.heavy).sort(), [...new Set(Object.values(HEAVY_MODULES))].sort());
  for (const name of ['webhook', 'schedule', 'registry-events']) {
    const light = await contents(name, dir);
    assert.deepEqual(light.heavy, {}, `${name} carries ${Object.keys(light.heavy).join(', ')}`);
    assert.ok(light.bytes < worker.bytes / 2, `${name} (${light.bytes} bytes) is less than half the worker (${worker.bytes})`);
    t.diagnostic(`${name}: ${(light.bytes / 1048576).toFixed(2)} MB; worker ${(worker.bytes / 1048576).toFixed(2)} MB`);
  }
});
