/** What CLI commands share: the configuration, a runtime on it, output helpers. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, type FluxlessConfig } from '../config/config.js';
import { createRuntime } from '../runtime/factory.js';
import type { Runtime } from '../runtime/runtime.js';
import { FluxlessError } from '../util/errors.js';

/** Flags every command takes. */
export interface GlobalOptions {
  dataDir: string;
  config?: string;
}

/**
 * The configuration of a CLI command: fluxless.yaml / the environment, and, when neither
 * names a cluster or source, what a running `fluxless start` in this data directory uses.
 */
export function cliConfig(g: GlobalOptions, requireSource = false): FluxlessConfig {
  const start = readStartMarker(g.dataDir);
  const configured = g.config || process.env.FLUXLESS_CONFIG || existsSync('fluxless.yaml');
  const env = { ...process.env };
  if (start && !configured) {
    for (const [k, v] of Object.entries(start.env)) env[k] ??= v;
    env.FLUXLESS_KUBECONFIG ??= start.kubeconfig;
  }
  return loadConfig({ file: g.config, dataDir: g.dataDir, requireSource, env });
}

/** Environment `fluxless start` passes on to other shells through start.json. */
export const START_ENV = ['FLUXLESS_SOURCE_URL', 'FLUXLESS_SOURCE_BRANCH', 'FLUXLESS_PATH'] as const;

/** What `fluxless start` tells later commands in other shells: its cluster and source. */
export interface StartMarker {
  kubeconfig: string;
  env: Record<string, string>;
}

function startMarkerPath(dataDir: string): string {
  return path.join(dataDir, 'start.json');
}

/** Written by `fluxless start` once its cluster and source are known. */
export function writeStartMarker(dataDir: string, m: StartMarker): void {
  writeFileSync(startMarkerPath(dataDir), JSON.stringify({ ...m, pid: process.pid }), { mode: 0o600 });
}

/** Removed by `fluxless start` when it stops. */
export function removeStartMarker(dataDir: string): void {
  rmSync(startMarkerPath(dataDir), { force: true });
}

/** The running start's marker, if a `fluxless start` is running on this data directory. */
export function readStartMarker(dataDir: string): StartMarker | undefined {
  try {
    const m = JSON.parse(readFileSync(startMarkerPath(dataDir), 'utf8')) as StartMarker & { pid: number };
    process.kill(m.pid, 0);
    return m;
  } catch {
    return undefined;
  }
}

/** The configuration and a runtime on it. */
export function cliRuntime(g: GlobalOptions): { cfg: FluxlessConfig; rt: Runtime } {
  const cfg = cliConfig(g);
  return { cfg, rt: createRuntime(cfg) };
}

/** Formats rows as a table, JSON or YAML (`-o`). */
export function output(format: string, rows: Record<string, unknown>[], table: () => string): string {
  if (format === 'json') return JSON.stringify(rows, null, 2);
  if (format === 'yaml') return toYaml(rows);
  if (format !== 'table') throw new FluxlessError('Usage', `unknown output format '${format}'`, { hint: 'use -o table, json or yaml' });
  return table();
}

/** A tab-separated table, as `flux get` prints it. */
export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join('\t').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** Marker written by `fluxless serve` so other commands know a server is running. */
export interface ServeMarker {
  pid: number;
  url: string;
}

/** Where `fluxless serve` writes its marker. */
export function serveMarkerPath(dataDir: string): string {
  return path.join(dataDir, 'serve.json');
}

/** Written by `fluxless serve` when it is listening. */
export function writeServeMarker(dataDir: string, m: ServeMarker): void {
  writeFileSync(serveMarkerPath(dataDir), JSON.stringify(m));
}

/** Removes the marker if it is this process's (never another server's). */
export function removeServeMarker(dataDir: string): void {
  const f = serveMarkerPath(dataDir);
  try {
    if ((JSON.parse(readFileSync(f, 'utf8')) as ServeMarker).pid !== process.pid) return;
  } catch {
    // missing or unreadable: remove whatever is there
  }
  rmSync(f, { force: true });
}

/** The running `fluxless serve` on this data directory, if any. */
export function runningServer(dataDir: string): ServeMarker | undefined {
  const f = serveMarkerPath(dataDir);
  if (!existsSync(f)) return undefined;
  try {
    const m = JSON.parse(readFileSync(f, 'utf8')) as ServeMarker;
    process.kill(m.pid, 0);
    return m;
  } catch {
    return undefined;
  }
}
