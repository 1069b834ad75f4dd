// esbuild settings shared by every bundle (scripts/build.mjs, and the package test's fallback).
export const bundleOptions = {
  bundle: true,
  platform: 'node',
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
