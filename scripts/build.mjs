// Bundles each Lambda function and the CLI into one ESM file each (dist/), with esbuild.
import { build } from 'esbuild';
import { readdirSync, existsSync } from 'node:fs';
import path from 'node:path';

const functions = existsSync('functions')
  ? readdirSync('functions').filter((f) => f.endsWith('.ts')).map((f) => path.join('functions', f))
  : [];
const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // ESM bundles that contain CommonJS dependencies need a require().
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  // fauxqs is a test-only dependency.
  external: ['fauxqs'],
};
const started = Date.now();
await Promise.all([
  ...functions.map((entry) =>
    build({ ...common, entryPoints: [entry], outfile: path.join('dist', 'functions', path.basename(entry, '.ts') + '.mjs') }),
  ),
  build({ ...common, entryPoints: ['shared/cli/main.ts'], outfile: 'dist/cli.mjs' }),
]);
console.log(`bundled ${functions.length} function(s) and the CLI into dist/ in ${Date.now() - started} ms`);
