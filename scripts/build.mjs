// Bundles each Lambda function and the CLI (dist/), with esbuild. Functions are minified, on
// the diet of esbuild-options.mjs: dist/functions/<name>.mjs with the chunks it loads on first
// use in dist/functions/<name>-chunks/, and its metafile (dist/functions/<name>.meta.json:
// what went in, for the package test and bench:cold). The CLI is one file.
import { build } from 'esbuild';
import { readdirSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { filesCarry, initFiles, shippedBytes } from './bundle-contents.mjs';
import { bundleOptions, functionBuild } from './esbuild-options.mjs';

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
    // Chunks of an earlier build would be packaged too: start from none.
    rmSync(path.join('dist', 'functions', `${name}-chunks`), { recursive: true, force: true });
    const res = await build(functionBuild(name, path.join('dist', 'functions'), process.cwd()));
    writeFileSync(path.join('dist', 'functions', `${name}.meta.json`), JSON.stringify(res.metafile));
    // What module init loads: the entry and the chunks it imports statically.
    const init = filesCarry(res.metafile, initFiles(res.metafile, outfile.split(path.sep).join('/'))).bytes;
    const all = shippedBytes(res.metafile);
    sizes.push(`${name} ${(init / 1024 / 1024).toFixed(2)} MB at init + ${((all - init) / 1024 / 1024).toFixed(2)} MB on first use`);
  }),
  build({ ...bundleOptions, entryPoints: ['shared/cli/main.ts'], outfile: 'dist/cli.mjs' }),
]);
console.log(`bundled ${functions.length} function(s) (${sizes.sort().join(', ')}) and the CLI into dist/ in ${Date.now() - started} ms`);
