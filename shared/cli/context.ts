/** What CLI commands share: the configuration, a runtime on it, output helpers. */
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify as toYaml } from 'yaml';
import { loadConfig, type FluxlessConfig } from '../config/config.js';
import { createRuntime } from '../runtime/factory.js';
import type { Runtime } from '../runtime/runtime.js';
import { FluxlessError } from '../util/errors.js';

export interface GlobalOptions {
  dataDir: string;
  config?: string;
}

export function cliConfig(g: GlobalOptions, requireSource = false): FluxlessConfig {
  return loadConfig({ file: g.config, dataDir: g.dataDir, requireSource });
}

export function cliRuntime(g: GlobalOptions): { cfg: FluxlessConfig; rt: Runtime } {
  const cfg = cliConfig(g);
  return { cfg, rt: createRuntime(cfg) };
}

export function output(format: string, rows: Record<string, unknown>[], table: () => string): string {
  if (format === 'json') return JSON.stringify(rows, null, 2);
  if (format === 'yaml') return toYaml(rows);
  if (format !== 'table') throw new FluxlessError('Usage', `unknown output format '${format}'`, { hint: 'use -o table, json or yaml' });
  return table();
}

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

export function serveMarkerPath(dataDir: string): string {
  return path.join(dataDir, 'serve.json');
}

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
