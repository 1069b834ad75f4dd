#!/usr/bin/env node
// The installed `fluxless` command: runs the esbuild bundle when built, else the sources via tsx.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import path from 'node:path';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const bundle = path.join(root, 'dist', 'cli.mjs');
if (existsSync(bundle)) {
  const { run } = await import(pathToFileURL(bundle).href);
  await run(process.argv.slice(2));
} else {
  await import('tsx/esm');
  const { run } = await import(pathToFileURL(path.join(root, 'shared', 'cli', 'main.ts')).href);
  await run(process.argv.slice(2));
}
