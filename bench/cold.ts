/**
 * npm run bench:cold — the Lambda bundles' cold start: what each function's module init loads
 * (dist/functions/<name>.mjs and the chunks it imports statically) against everything it
 * ships (with the chunks it loads on first use, `<name>-chunks/`), what it carries (from its
 * esbuild metafile), and its module init time (a fresh `node` importing the bundle, as
 * Lambda's init phase does), with and without NODE_OPTIONS=--enable-source-maps (which
 * serverless.yml leaves off for this cost). For the worker also the first Kustomization
 * from a GitRepository: init plus loading those two reconcilers. Builds the bundles first
 * (`--no-build` to keep dist/ as it is). Ends with `RESULT <fn>_mb=<init size> <fn>_init_ms=<median> ...`.
 * Targets (issue 17): at most 1.5 MB and 150 ms per function.
 */
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { filesCarry, heavyIn, initFiles, ON_DEMAND_MODULES, outputOf, shippedBytes, type Metafile } from '../scripts/bundle-contents.mjs';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const RUNS = Number(process.env.BENCH_COLD_RUNS ?? 7);
const LIMIT_MB = 1.5;
const LIMIT_MS = 150;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)]! : NaN;
}

/** `label 12 KB, ...` of what a bundle carries, or `none`. */
function kbList(carries: Record<string, number>): string {
  const e = Object.entries(carries);
  return e.length ? e.map(([k, v]) => `${k} ${(v / 1024).toFixed(0)} KB`).join(', ') : 'none';
}

/** Import time of `file` (then of each of `then`) in a fresh node process (ms). */
function initOnce(file: string, sourceMaps: boolean, then: string[] = []): number {
  const code =
    `const t0 = performance.now(); await import(${JSON.stringify(pathToFileURL(file).href)}); ` +
    then.map((f) => `await import(${JSON.stringify(pathToFileURL(f).href)}); `).join('') +
    `process.stdout.write(String(performance.now() - t0)); process.exit(0);`;
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: os.tmpdir(), AWS_REGION: 'us-east-1', AWS_LAMBDA_FUNCTION_NAME: 'bench-cold', NODE_OPTIONS: sourceMaps ? '--enable-source-maps' : '' };
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { env, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`importing ${file} failed: ${r.stderr}`);
  return Number(r.stdout);
}

async function main(): Promise<void> {
  if (!process.argv.includes('--no-build')) {
    const { stdout } = await run(process.execPath, ['scripts/build.mjs'], { cwd: ROOT, maxBuffer: 16 << 20 });
    process.stdout.write(stdout);
  }
  const dir = path.join(ROOT, 'dist', 'functions');
  const names = readdirSync(dir).filter((f) => f.endsWith('.mjs')).map((f) => f.slice(0, -4)).sort();
  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ');
  console.log(`bench:cold: ${names.length} bundles, ${RUNS} fresh imports each, load average ${load} on ${os.availableParallelism()} CPUs`);
  const result: string[] = [];
  let within = true;
  for (const name of names) {
    const file = path.join(dir, `${name}.mjs`);
    const metaFile = path.join(dir, `${name}.meta.json`);
    const meta = existsSync(metaFile) ? (JSON.parse(readFileSync(metaFile, 'utf8')) as Metafile) : undefined;
    const entry = `dist/functions/${name}.mjs`;
    const init = meta ? filesCarry(meta, initFiles(meta, entry), ON_DEMAND_MODULES) : { bytes: statSync(file).size, carries: {} };
    const mb = init.bytes / 1024 / 1024;
    const shippedMb = meta ? shippedBytes(meta) / 1024 / 1024 : mb;
    const mapMb = existsSync(`${file}.map`) ? statSync(`${file}.map`).size / 1024 / 1024 : 0;
    const heavy = meta ? heavyIn(meta) : {};
    initOnce(file, false); // warm the page cache: Lambda reads the bundle from local storage too
    const plain = Array.from({ length: RUNS }, () => initOnce(file, false));
    const maps = Array.from({ length: Math.max(3, Math.ceil(RUNS / 2)) }, () => initOnce(file, true));
    const ms = median(plain);
    const ok = mb <= LIMIT_MB && ms <= LIMIT_MS;
    within &&= ok;
    console.log(
      `${name.padEnd(16)} init loads ${mb.toFixed(2).padStart(4)} MB of ${shippedMb.toFixed(2)} MB shipped (entry map ${mapMb.toFixed(1)} MB, ${meta ? Object.keys(meta.inputs).length : '?'} modules)  ` +
        `init median ${ms.toFixed(0)} ms (min ${Math.min(...plain).toFixed(0)}, max ${Math.max(...plain).toFixed(0)}), with --enable-source-maps ${median(maps).toFixed(0)} ms  ${ok ? 'within' : 'OVER'} ${LIMIT_MB} MB / ${LIMIT_MS} ms` +
        (Object.keys(heavy).length ? `\n${' '.repeat(17)}ships: ${kbList(heavy)}` : '') +
        `\n${' '.repeat(17)}init parses of the on-demand modules: ${kbList(init.carries)}`,
    );
    const key = name.replace(/-/g, '_');
    result.push(`${key}_mb=${mb.toFixed(2)} ${key}_shipped_mb=${shippedMb.toFixed(2)} ${key}_init_ms=${ms.toFixed(0)} ${key}_init_srcmap_ms=${median(maps).toFixed(0)}`);
    if (name === 'worker' && meta) {
      // What the first Kustomization from a GitRepository adds: its two reconcilers' chunks.
      const kinds = ['shared/kinds/gitrepository/reconciler.ts', 'shared/kinds/kustomization/reconciler.ts'].map((e) => outputOf(meta, e));
      if (kinds.every((k): k is string => k !== undefined)) {
        const first = filesCarry(meta, initFiles(meta, entry, ...kinds), ON_DEMAND_MODULES);
        const then = kinds.map((k) => path.join(ROOT, k));
        initOnce(file, false, then);
        const firstMs = median(Array.from({ length: RUNS }, () => initOnce(file, false, then)));
        console.log(
          `${''.padEnd(16)} first Kustomization from Git: loads ${(first.bytes / 1024 / 1024).toFixed(2)} MB in ${firstMs.toFixed(0)} ms (median); of the on-demand modules: ` +
            kbList(first.carries),
        );
        result.push(`worker_first_ks_mb=${(first.bytes / 1024 / 1024).toFixed(2)} worker_first_ks_ms=${firstMs.toFixed(0)}`);
      }
    }
  }
  console.log(`RESULT ${result.join(' ')} all_within=${within}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
