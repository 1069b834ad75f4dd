/**
 * Chart metadata (Chart.yaml, requirements.yaml, Chart.lock) from a packaged chart (.tgz)
 * or a chart directory, read the way source-controller's LoadChartMetadata* does.
 */
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { ArtifactTooLargeError, readArtifact } from '../artifacts/extract.js';
import { goFormatFloat, GoYamlError, parseGoYaml } from './goyaml.js';
import { MAX_CHART_SIZE, type ChartDependency, type ChartMetadata } from './index-file.js';

/** source-controller MaxChartFileSize and Helm's MaxDecompressedFileSize: a single file inside a chart (5 MiB). */
export const MAX_CHART_FILE_SIZE = 5 << 20;
/** Helm's MaxDecompressedChartSize: all the files of a packaged chart, decompressed (100 MiB). */
export const MAX_DECOMPRESSED_CHART_SIZE = 100 << 20;

/** A chart archive or directory could not be read; the message is Flux's. */
export class ChartLoadError extends Error {}

const STRING_FIELDS = ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type'] as const;

/** sigs.k8s.io/yaml coerces YAML numbers and booleans into string struct fields. */
function coerce(v: unknown): unknown {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : goFormatFloat(Math.fround(v));
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return v;
}

function applyYaml(into: ChartMetadata, text: string, file: string): void {
  let v: unknown;
  try {
    v = parseGoYaml(text);
  } catch (err) {
    throw new ChartLoadError(`cannot load '${file}': ${err instanceof GoYamlError ? err.message : String(err)}`);
  }
  if (v === null) return;
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new ChartLoadError(`cannot load '${file}': error unmarshaling JSON: json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go value of type chart.Metadata`);
  }
  const o = v as Record<string, unknown>;
  const target = into as Record<string, unknown>;
  for (const [k, val] of Object.entries(o)) {
    target[k] = (STRING_FIELDS as readonly string[]).includes(k) ? coerce(val) : val;
  }
  if (Array.isArray(o.dependencies)) {
    into.dependencies = (o.dependencies as unknown[]).map((d) => {
      if (!d || typeof d !== 'object') return d as ChartDependency;
      const dep = { ...(d as Record<string, unknown>) };
      for (const k of ['name', 'version', 'repository', 'condition', 'alias']) if (k in dep) dep[k] = coerce(dep[k]);
      return dep as unknown as ChartDependency;
    });
  }
}

/** Chart.yaml (plus requirements.yaml of v1 charts) of a chart directory; apiVersion defaults to v1. */
export async function chartMetadataFromDir(dir: string): Promise<ChartMetadata> {
  let text: string;
  try {
    text = await readFile(path.join(dir, 'Chart.yaml'), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ChartLoadError(code === 'ENOENT' ? `no 'Chart.yaml' found in chart directory` : `cannot read 'Chart.yaml': ${String(err)}`);
  }
  const md: ChartMetadata = {};
  applyYaml(md, text, 'Chart.yaml');
  if (!md.apiVersion) md.apiVersion = 'v1';
  const req = path.join(dir, 'requirements.yaml');
  const st = await stat(req).catch(() => undefined);
  if (st) {
    if (st.isDirectory()) throw new ChartLoadError(`'requirements.yaml' is a directory`);
    if (st.size > MAX_CHART_FILE_SIZE) throw new ChartLoadError(`size of 'requirements.yaml' exceeds '${MAX_CHART_FILE_SIZE}' bytes limit`);
    const r = await readFile(req, 'utf8');
    if (r.length) applyYaml(md, r, 'requirements.yaml');
  }
  return md;
}

/** The files of a packaged chart: paths relative to the chart's top directory. */
export interface ChartArchiveFiles {
  /** The top directory inside the archive (the chart name Helm packaged it under). */
  top: string;
  files: Map<string, Buffer>;
}

/**
 * Reads a packaged chart into memory, refusing unsafe paths and Helm's loader limits: an
 * archive over 10 MiB, more than 100 MiB decompressed, a file over 5 MiB. `keep` selects the
 * files held in memory (paths relative to the chart); the others are checked and dropped.
 */
export async function readChartArchive(tgz: Buffer, keep?: (rel: string) => boolean): Promise<ChartArchiveFiles> {
  if (tgz.length > MAX_CHART_SIZE) throw new ChartLoadError(`size of chart exceeds '${MAX_CHART_SIZE}' bytes limit`);
  let contents;
  try {
    contents = await readArtifact(tgz, {
      maxBytes: MAX_DECOMPRESSED_CHART_SIZE,
      maxFileBytes: MAX_CHART_FILE_SIZE,
      maxFiles: 20_000,
      keep: keep && ((rel) => rel.includes('/') && keep(rel.slice(rel.indexOf('/') + 1))),
    });
  } catch (err) {
    if (err instanceof ArtifactTooLargeError && err.limit === 'bytes') throw new ChartLoadError(`decompressed chart is larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
    if (err instanceof ArtifactTooLargeError && err.limit === 'fileBytes') throw new ChartLoadError(`decompressed chart file ${JSON.stringify(err.entry ?? '')} is larger than the maximum file size ${MAX_CHART_FILE_SIZE}`);
    throw new ChartLoadError(err instanceof Error ? err.message.replace(/^artifact /, 'chart archive ') : String(err));
  }
  // Helm's loader strips the first path segment of every entry (the chart's directory).
  let top = '';
  const files = new Map<string, Buffer>();
  for (const [rel, { data }] of contents.entries) {
    const i = rel.indexOf('/');
    if (i < 0) continue;
    if (!top) top = rel.slice(0, i);
    files.set(rel.slice(i + 1), data);
  }
  return { top, files };
}

/** source-controller LoadChartMetadataFromArchive: Chart.yaml and requirements.yaml of the top directory. */
export async function chartMetadataFromArchive(tgz: Buffer): Promise<ChartMetadata> {
  const { files } = await readChartArchive(tgz, (rel) => rel === 'Chart.yaml' || rel === 'requirements.yaml');
  const chart = files.get('Chart.yaml');
  if (!chart) throw new ChartLoadError(`no 'Chart.yaml' found`);
  if (chart.length > MAX_CHART_FILE_SIZE) throw new ChartLoadError(`size of 'Chart.yaml' exceeds '${MAX_CHART_FILE_SIZE}' bytes limit`);
  const md: ChartMetadata = {};
  applyYaml(md, chart.toString('utf8'), 'Chart.yaml');
  const req = files.get('requirements.yaml');
  if (req?.length) applyYaml(md, req.toString('utf8'), 'requirements.yaml');
  if (!md.apiVersion) md.apiVersion = 'v1';
  return md;
}

/** Dependencies pinned by a chart's Chart.lock (or requirements.lock for v1 charts), if any. */
export async function chartLockDependencies(dir: string): Promise<ChartDependency[] | undefined> {
  for (const name of ['Chart.lock', 'requirements.lock']) {
    const text = await readFile(path.join(dir, name), 'utf8').catch(() => undefined);
    if (text === undefined) continue;
    let v: unknown;
    try {
      v = parseGoYaml(text);
    } catch (err) {
      throw new ChartLoadError(`cannot load '${name}': ${err instanceof Error ? err.message : String(err)}`);
    }
    const deps = (v as { dependencies?: unknown } | null)?.dependencies;
    return Array.isArray(deps) ? (deps as ChartDependency[]) : [];
  }
  return undefined;
}
