// Bundles each Lambda function and the CLI into one ESM file each (dist/), with esbuild.
// Functions are minified, on the diet of esbuild-options.mjs, each with its metafile
// (dist/functions/<name>.meta.json: what went in, for the package test and bench:cold).
import { build } from 'esbuild';
import { readdirSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleOptions, functionBundleOptions } from './esbuild-options.mjs';

const functions = existsSync('functions')
  ? readdirSync('functions').filter((f) => f.endsWith('.ts')).map((f) => path.join('functions', f))
  : [];
const started = Date.now();
mkdirSync(path.join('dist', 'functions'), { recursive: true });
const sizes = [];
await Promise.all([
  ...functions.map(async (entry) => {
    const name = path.basename(entry, '.ts');
    const outfile = path.join('dist', 'functions', `${name}.mjs`);
    const res = await build({ ...functionBundleOptions, entryPoints: [entry], outfile });
    writeFileSync(path.join('dist', 'functions', `${name}.meta.json`), JSON.stringify(res.metafile));
    const out = res.metafile.outputs[outfile.split(path.sep).join('/')];
    sizes.push(`${name} ${((out?.bytes ?? 0) / 1024 / 1024).toFixed(2)} MB`);
  }),
  build({ ...bundleOptions, entryPoints: ['shared/cli/main.ts'], outfile: 'dist/cli.mjs' }),
]);
console.log(`bundled ${functions.length} function(s) (${sizes.sort().join(', ')}) and the CLI into dist/ in ${Date.now() - started} ms`);
