/**
 * npm run bench:fetch — fetch and archive a generated repository of 5,000 files (50 MB) with
 * ours (isomorphic-git shallow fetch + Flux-style tar.gz) and with `git clone --depth 1` plus
 * `tar czf`, same machine, same run, from the same git smart-HTTP server.
 * Ends with `RESULT fetch_archive_ratio=<x>` (ours / baseline).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { buildArtifact } from '../shared/artifacts/build.js';
import { startGitServer } from '../shared/devenv/git-server.js';
import { fetchGitRepository, parseGitRepository } from '../shared/sources/git.js';
import { configureLogging } from '../shared/util/log.js';
import { seconds, timed } from './common.js';

const run = promisify(execFile);
const FILES = Number(process.env.BENCH_FILES ?? 5000);
const BYTES = Number(process.env.BENCH_BYTES ?? 50 * 1024 * 1024);

async function main(): Promise<void> {
  configureLogging({ level: 'warn' });
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-bench-fetch-'));
  const root = path.join(work, 'repos');
  const server = await startGitServer({ root });
  try {
    const gitEnv = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
    const src = path.join(work, 'src');
    await mkdir(src, { recursive: true });
    const per = Math.floor(BYTES / FILES);
    for (let i = 0; i < FILES; i++) {
      const dir = path.join(src, `dir-${i % 50}`);
      if (i < 50) await mkdir(dir, { recursive: true });
      // Half random (incompressible), half text: like manifests plus some binaries.
      const content = i % 2 ? randomBytes(per).toString('base64').slice(0, per) : `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-${i}\ndata:\n  v: "${'x'.repeat(per - 60)}"\n`;
      await writeFile(path.join(dir, `file-${i}.yaml`), content);
    }
    await run('git', ['init', '-q', '-b', 'main'], { cwd: src });
    await run('git', ['add', '-A'], { cwd: src, maxBuffer: 1 << 26 });
    await run('git', ['commit', '-q', '-m', 'bench'], { cwd: src, env: gitEnv });
    const bare = path.join(root, 'bench.git');
    await run('git', ['clone', '-q', '--bare', src, bare]);
    await run('git', ['config', 'http.receivepack', 'true'], { cwd: bare });
    const url = `${server.url}/bench.git`;
    console.log(`repository: ${FILES} files, ${(BYTES / 1048576).toFixed(0)} MB, served by git http-backend at ${url}`);

    const baseline = await timed(async () => {
      const d = path.join(work, 'baseline');
      await run('git', ['clone', '-q', '--depth', '1', '--branch', 'main', url, d]);
      await run('tar', ['czf', path.join(work, 'baseline.tar.gz'), '--exclude=.git', '-C', d, '.']);
    });
    const spec = parseGitRepository({
      apiVersion: 'source.toolkit.fluxcd.io/v1',
      kind: 'GitRepository',
      metadata: { name: 'bench', namespace: 'default' },
      spec: { url, interval: '1m', ref: { branch: 'main' }, timeout: '5m' },
    }).spec;
    const ours = await timed(async () => {
      const res = await fetchGitRepository(spec, undefined, { dir: path.join(work, 'ours') });
      if (!res.changed) throw new Error('expected a fetch');
      return buildArtifact(res.dir);
    });
    console.log(`git clone --depth 1 + tar czf: ${seconds(baseline.ms)}`);
    console.log(`fluxless fetch + artifact:     ${seconds(ours.ms)} (${ours.value.fileCount} files, ${(ours.value.size / 1048576).toFixed(1)} MB tar.gz, ${ours.value.digest.slice(0, 19)}...)`);
    console.log(`RESULT fetch_archive_ratio=${(ours.ms / baseline.ms).toFixed(2)}`);
  } finally {
    await server.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
