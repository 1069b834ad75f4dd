/**
 * What each Lambda bundle carries: the functions that never reconcile (webhook, schedule,
 * registry-events) load the kind descriptors, not the reconcilers, so their bundles hold
 * none of the apply engine, helm, SOPS, git or kustomize; the worker holds them all. And
 * what a cold start parses: no function's module init loads OpenPGP, SSH, the KMS or ECR
 * client or CEL, and the worker's first Kustomization from a GitRepository loads none of
 * the first four. Built here with the build script's settings (scripts/esbuild-options.mjs),
 * into a temp dir.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { HEAVY_MODULES, ON_DEMAND_MODULES, filesCarry, heavyIn, initFiles, outputOf, shippedBytes, type Metafile } from '../../scripts/bundle-contents.mjs';
import { functionBuild } from '../../scripts/esbuild-options.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

interface Contents {
  /** Heavy modules anywhere in what the function ships. */
  heavy: Record<string, number>;
  /** Bytes it ships. */
  bytes: number;
  /** The on-demand modules its module init loads. */
  atInit: Record<string, number>;
  meta: Metafile;
  /** The entry's path as the metafile names it. */
  entry: string;
}

async function contents(name: string, dir: string): Promise<Contents> {
  const res = await build({ ...functionBuild(name, dir, ROOT), sourcemap: false, logLevel: 'silent' });
  const meta = res.metafile as Metafile;
  const entry = Object.keys(meta.outputs).find((f) => meta.outputs[f]!.entryPoint === `functions/${name}.ts`);
  assert.ok(entry, `the build of ${name} has its entry`);
  return {
    heavy: heavyIn(meta),
    bytes: shippedBytes(meta),
    atInit: filesCarry(meta, initFiles(meta, entry), ON_DEMAND_MODULES).carries,
    meta,
    entry,
  };
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
    assert.deepEqual(light.atInit, {}, `${name}'s module init loads ${Object.keys(light.atInit).join(', ')}`);
    t.diagnostic(`${name}: ${(light.bytes / 1048576).toFixed(2)} MB; worker ${(worker.bytes / 1048576).toFixed(2)} MB`);
  }
});

test("the worker's cold start loads no on-demand module, its first Kustomization from Git only CEL; the check sees them in the chunks", { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bundles-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const worker = await contents('worker', dir);
  assert.deepEqual(worker.atInit, {}, `the worker's module init loads ${Object.keys(worker.atInit).join(', ')}`);
  const kinds = ['shared/kinds/gitrepository/reconciler.ts', 'shared/kinds/kustomization/reconciler.ts'].map((e) => outputOf(worker.meta, e));
  assert.ok(kinds.every((k) => k !== undefined), 'the two reconcilers are chunks of their own');
  const first = initFiles(worker.meta, worker.entry, ...kinds.map((k) => k!));
  // Kustomization health checks (spec.healthCheckExprs) compile CEL while the spec is parsed.
  assert.deepEqual(Object.keys(filesCarry(worker.meta, first, ON_DEMAND_MODULES).carries), ['CEL']);
  // Every on-demand module is shipped, in a chunk loaded by import().
  const everything = Object.keys(worker.meta.outputs).filter((f) => f.endsWith('.mjs'));
  assert.deepEqual(Object.keys(filesCarry(worker.meta, everything, ON_DEMAND_MODULES).carries).sort(), Object.values(ON_DEMAND_MODULES).sort());
});
