/**
 * The test runner behind `npm test`: starts the real components once (control plane or
 * the cluster in FLUXLESS_TEST_KUBECONFIG, fauxqs, git server, registry, kubectl/helm),
 * runs every test file with node's test runner, then tears everything down, also when
 * tests fail or the run is interrupted.
 *
 *   tsx test/run.ts [file-or-dir ...]    (default: every test/**\/*.test.ts)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { starters, stopStarted, type SharedEnvFile } from './harness/index.js';

function findTests(p: string, out: string[]): void {
  const st = statSync(p);
  if (st.isDirectory()) {
    for (const e of readdirSync(p).sort()) if (e !== 'node_modules') findTests(path.join(p, e), out);
  } else if (p.endsWith('.test.ts')) out.push(p);
}

async function main(): Promise<number> {
  const targets = process.argv.slice(2);
  const files: string[] = [];
  for (const t of targets.length ? targets : ['test']) findTests(t, files);
  if (files.length === 0) {
    console.error('no test files found');
    return 2;
  }
  const t0 = Date.now();
  const step = async <T>(name: string, f: () => Promise<T>): Promise<T> => {
    const s = Date.now();
    const v = await f();
    console.error(`[harness] ${name} ready in ${((Date.now() - s) / 1000).toFixed(1)}s`);
    return v;
  };
  const env: SharedEnvFile = {};
  const [cluster, aws, git, registry, tools] = await Promise.all([
    step('cluster', starters.cluster),
    step('fauxqs (S3 + SQS)', starters.aws),
    step('git server', starters.git),
    step('docker-registry', starters.registry),
    step('kubectl + helm', starters.tools),
  ]);
  Object.assign(env, { cluster, aws, git, registry, tools });
  console.error(`[harness] all components ready in ${((Date.now() - t0) / 1000).toFixed(1)}s` +
    (cluster.external ? ` (external cluster ${cluster.kubeconfigPath})` : ''));
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fluxless-testenv-'));
  const envFile = path.join(dir, 'env.json');
  writeFileSync(envFile, JSON.stringify(env));
  try {
    const concurrency = process.env.FLUXLESS_TEST_CONCURRENCY ?? '2';
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
      { stdio: 'inherit', env: { ...process.env, FLUXLESS_TEST_ENV: envFile } },
    );
    const forward = (sig: NodeJS.Signals) => child.kill(sig);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    const code = await new Promise<number>((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
    return code;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let code = 1;
try {
  code = await main();
} catch (err) {
  console.error(`[harness] ${err instanceof Error ? err.message : String(err)}`);
  const hint = (err as { hint?: string }).hint;
  if (hint) console.error(`[harness] hint: ${hint}`);
} finally {
  await stopStarted();
}
process.exit(code);
