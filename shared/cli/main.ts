/**
 * The `fluxless` command line. Errors print as one clear line plus a hint; exit codes
 * follow Flux's CLI (0 ok, 1 failure or "diff found", >1 error).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../devenv/paths.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { devCluster } from './dev.js';

const USAGE = `fluxless: GitOps continuous delivery for Kubernetes with Flux semantics, no controllers.

Usage:
  fluxless dev cluster up|down|kubeconfig   Run a local Kubernetes control plane for trying Fluxless
  fluxless version                          Print the version

Global flags:
  --data-dir DIR   Where the local runtime keeps its data (default .fluxless)
  -h, --help       Show help
`;

export async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  let dataDir = process.env.FLUXLESS_DATA_DIR ?? '.fluxless';
  const i = args.indexOf('--data-dir');
  if (i >= 0) {
    dataDir = args[i + 1] ?? dataDir;
    args.splice(i, 2);
  }
  dataDir = path.resolve(dataDir);
  if (args.length === 0 || args[0] === '-h' || args[0] === '--help' || args[0] === 'help') {
    console.log(USAGE);
    return 0;
  }
  const [cmd, ...rest] = args;
  switch (cmd) {
    case 'version': {
      const pkg = JSON.parse(readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
      console.log(`fluxless ${pkg.version}`);
      return 0;
    }
    case 'dev':
      if (rest[0] === 'cluster' && !rest.includes('--help') && !rest.includes('-h')) return devCluster(rest[1], dataDir);
      console.log('Usage: fluxless dev cluster up|down|kubeconfig');
      return rest.includes('--help') || rest.includes('-h') ? 0 : 2;
    default:
      throw new FluxlessError('Usage', `unknown command '${cmd}'`, { hint: "run 'fluxless --help' to see the commands" });
  }
}

export async function run(argv: string[]): Promise<void> {
  try {
    process.exitCode = await main(argv);
  } catch (err) {
    console.error(`✗ ${errorMessage(err)}`);
    const hint = err instanceof FluxlessError ? err.hint : undefined;
    if (hint) console.error(`  hint: ${hint}`);
    process.exitCode = 2;
  }
}

const invoked = process.argv[1] ? path.resolve(process.argv[1]) : '';
if (invoked.endsWith(path.join('shared', 'cli', 'main.ts')) || invoked.endsWith(path.join('dist', 'cli.mjs'))) {
  await run(process.argv.slice(2));
}
