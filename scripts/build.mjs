// Bundles each Lambda function and the CLI into one ESM file each (dist/), with esbuild.
import { build } from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';
import { bundleOptions } from './esbuild-options.mjs';

const functions = existsSync('functions')
  ? readdirSync('functions').filter((f) => f.endsWith('.ts')).map((f) => path.join('functions', f))
  : [];
const common = bundleOptions;
const started = Date.now();
await Promise.all([
  ...functions.map((entry) =>
    build({ ...common, entryPoints: [entry], outfile: path.join('dist', 'functions', path.basename(entry, '.ts') + '.mjs') }),
  ),
  build({ ...common, entryPoints: ['shared/cli/main.ts'], outfile: 'dist/cli.mjs' }),
]);
console.log(`bundled ${functions.length} function(s) and the CLI into dist/ in ${Date.now() - started} ms`);
