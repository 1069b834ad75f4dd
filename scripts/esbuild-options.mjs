// esbuild settings shared by every bundle (scripts/build.mjs, and the package test's fallback).
export const bundleOptions = {
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
