// esbuild settings shared by every bundle (scripts/build.mjs, bench:cold, and the package test's fallback).
import path from 'node:path';

export const bundleOptions = {
  bundle: true,
  platform: 'node',
  // ESM builds first (esbuild's node default is main, then module). The AWS SDK's CommonJS
  // builds require() every credential provider into the init graph; their ESM builds import()
  // them, so esbuild puts them in chunks loaded on first use, and tree-shakes the rest: module
  // init drops from 1.17 to 0.93 MB for the worker (bench:cold).
  mainFields: ['module', 'main'],
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: 'warning',
  // ESM bundles that contain CommonJS dependencies need require(), __filename and __dirname.
  banner: {
    js:
      "import { createRequire as __cr } from 'node:module'; import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path'; " +
      'const require = __cr(import.meta.url); const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);',
  },
  // fauxqs is a test-only dependency. Native addons are optional accelerators (ssh2's crypto,
  // cpu-features) loaded in try/catch: left out, the pure-JS paths run (also on Lambda).
  external: ['fauxqs', '*.node'],
};

const SHIM = 'fluxless-shim';

/**
 * Leaves out of the function bundles code they can never run (each cut is exact, not a guess:
 * esbuild fails the build if anything imports a name a shim does not provide):
 * - `whatwg-url` (with its 265 KB Unicode table, tr46): node-fetch v2 takes it only when Node
 *   has no URL class, never on Node 20+; the shim hands it Node's own URL.
 * - `@kubernetes/client-node` is imported for its KubeConfig class only (shared/kube): the
 *   package's config module instead of its index, which re-exports every generated API client.
 * - that config module imports the generated API (gen/index.js) for `makeApiClient` alone,
 *   which Fluxless never calls (its own REST client, kube/client.ts, does every request).
 */
export const functionDiet = {
  name: 'fluxless-function-diet',
  setup(b) {
    b.onResolve({ filter: /^whatwg-url$/ }, () => ({ path: 'whatwg-url', namespace: SHIM }));
    b.onResolve({ filter: /^@kubernetes\/client-node$/ }, async (args) => {
      if (args.pluginData?.fromDiet) return undefined; // our own lookup of the package below
      const r = await b.resolve('@kubernetes/client-node', { kind: args.kind, resolveDir: args.resolveDir, pluginData: { fromDiet: true } });
      if (r.errors.length) return { errors: r.errors };
      return { path: path.join(path.dirname(r.path), 'config.js') };
    });
    b.onResolve({ filter: /^\.\/gen\/index\.js$/ }, (args) =>
      args.importer.replace(/\\/g, '/').endsWith('@kubernetes/client-node/dist/config.js') ? { path: 'client-node-gen', namespace: SHIM } : undefined,
    );
    b.onLoad({ filter: /^whatwg-url$/, namespace: SHIM }, () => ({
      contents: 'export const URL = globalThis.URL; export const URLSearchParams = globalThis.URLSearchParams; export default { URL, URLSearchParams };',
      loader: 'js',
    }));
    b.onLoad({ filter: /^client-node-gen$/, namespace: SHIM }, () => ({
      contents:
        "const unavailable = () => { throw new Error('KubeConfig.makeApiClient is not available in the Fluxless function bundles'); };" +
        ' export const createConfiguration = unavailable; export class ServerConfiguration { constructor() { unavailable(); } }',
      loader: 'js',
    }));
  },
};

/** The settings of one Lambda function bundle: minified, with its metafile, on the diet above. */
export const functionBundleOptions = {
  ...bundleOptions,
  minify: true,
  metafile: true,
  plugins: [functionDiet],
};

/**
 * The build of function `name` (functions/<name>.ts) into `outdir`: `<name>.mjs`, the code its
 * module init runs, and `<name>-chunks/*.mjs`, what it imports on first use (`import()`: the
 * reconcilers, OpenPGP, SSH, the KMS and ECR clients, CEL), so a cold start parses only what
 * the invocation needs. `absWorkingDir` is the repository root.
 */
export function functionBuild(name, outdir, absWorkingDir) {
  return {
    ...functionBundleOptions,
    absWorkingDir,
    entryPoints: { [name]: `functions/${name}.ts` },
    outdir,
    splitting: true,
    entryNames: '[name]',
    chunkNames: `${name}-chunks/[name]-[hash]`,
    outExtension: { '.js': '.mjs' },
  };
}
