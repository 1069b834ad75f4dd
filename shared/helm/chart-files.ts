/**
 * Packaged charts edited and read in memory, without a helm process: the chart version
 * rewritten in Chart.yaml (helm-controller's digest tracking, `<version>+<digest12>`),
 * the CustomResourceDefinitions of `crds/` (the chart's and its subcharts', as Helm's
 * CRDObjects lists them), and the chart written back as a .tgz Helm loads.
 */
import { gzipSync } from 'node:zlib';
import { parseAllDocuments } from 'yaml';
import { END_OF_ARCHIVE, padding, tarHeader } from '../artifacts/tar.js';
import { ChartLoadError, MAX_DECOMPRESSED_CHART_SIZE, readChartArchive, type ChartArchiveFiles } from './chart-archive.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** A CRD document of a chart's `crds/` directory. */
export interface ChartCrd {
  /** Where it came from inside the chart, e.g. `crds/widgets.yaml` or `charts/sub/crds/x.yaml`. */
  file: string;
  /** The parsed object. */
  object: Record<string, unknown>;
}

/** What chartCrds found. */
export interface ChartCrds {
  crds: ChartCrd[];
  /** Non-CRD objects found in `crds/` (Flux ignores them with a warning): `group/Kind/name`. */
  ignored: string[];
}

const MANIFEST_EXT = /\.(ya?ml|json)$/;

/** Packs chart files (paths relative to the chart) under `top/` into a .tgz. */
export function packChart(top: string, files: ReadonlyMap<string, Buffer>): Buffer {
  const parts: Buffer[] = [];
  for (const [rel, data] of files) {
    parts.push(tarHeader(`${top}/${rel}`, 'file', 0o644, data.length), data, Buffer.alloc(padding(data.length)));
  }
  parts.push(END_OF_ARCHIVE);
  return gzipSync(Buffer.concat(parts), { level: 6 });
}

/**
 * The chart with `version` written into its Chart.yaml (the top-level `version:` key is
 * replaced, every other byte kept). Throws ChartLoadError when the archive cannot be read.
 */
export async function setChartVersion(tgz: Buffer, version: string): Promise<Buffer> {
  const chart = await readChartArchive(tgz);
  const raw = chart.files.get('Chart.yaml');
  if (!raw) throw new ChartLoadError(`no 'Chart.yaml' found`);
  const text = raw.toString('utf8');
  const line = `version: ${JSON.stringify(version)}`;
  const next = /^version:.*$/m.test(text) ? text.replace(/^version:.*$/m, line) : `${line}\n${text}`;
  const files = new Map(chart.files);
  files.set('Chart.yaml', Buffer.from(next));
  return packChart(chart.top || 'chart', files);
}

function docsOf(text: string, file: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const deep = yamlNestingProblem(text);
  if (deep) throw new ChartLoadError(`failed to parse CustomResourceDefinitions from ${file}: ${deep}`);
  for (const d of parseAllDocuments(text)) {
    if (d.errors.length) throw new ChartLoadError(`failed to parse CustomResourceDefinitions from ${file}: ${d.errors[0].message.split('\n')[0]}`);
    const v = d.toJS() as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(v as Record<string, unknown>);
  }
  return out;
}

/** The files CRD collection reads: crds/ of the chart and of directory subcharts, and packaged subcharts. */
function crdRelevant(rel: string): boolean {
  return rel.startsWith('crds/') || /^charts\/[^/]+\/crds\//.test(rel) || /^charts\/[^/]+\.tgz$/.test(rel);
}

/** Bytes of CRD files parsed so far across a chart and its nested subcharts. */
interface Budget {
  left: number;
}

function spend(budget: Budget, data: Buffer): void {
  budget.left -= data.length;
  if (budget.left < 0) throw new ChartLoadError(`the crds/ files of the chart and its subcharts are larger than the maximum size ${MAX_DECOMPRESSED_CHART_SIZE}`);
}

async function collect(chart: ChartArchiveFiles, prefix: string, into: ChartCrds, depth: number, budget: Budget): Promise<void> {
  for (const [rel, data] of chart.files) {
    if (MANIFEST_EXT.test(rel) && (rel.startsWith('crds/') || /^charts\/[^/]+\/crds\//.test(rel))) spend(budget, data);
    if (rel.startsWith('crds/') && MANIFEST_EXT.test(rel)) {
      for (const o of docsOf(data.toString('utf8'), prefix + rel)) {
        const api = String(o.apiVersion ?? '');
        const kind = String(o.kind ?? '');
        const md = (o.metadata ?? {}) as { name?: string; namespace?: string };
        if (api.startsWith('apiextensions.k8s.io/') && kind === 'CustomResourceDefinition') into.crds.push({ file: prefix + rel, object: o });
        else into.ignored.push(`${api.split('/').length > 1 ? api.split('/')[0] : ''}/${kind}/${md.namespace ? `${md.namespace}/` : ''}${md.name ?? ''}`);
      }
    }
    // Subcharts: directories under charts/ (crds/ inside them) and packaged .tgz files.
    if (/^charts\/[^/]+\/crds\//.test(rel) && MANIFEST_EXT.test(rel)) {
      for (const o of docsOf(data.toString('utf8'), prefix + rel)) {
        if (String(o.kind) === 'CustomResourceDefinition') into.crds.push({ file: prefix + rel, object: o });
      }
    }
    if (depth < 4 && /^charts\/[^/]+\.tgz$/.test(rel)) {
      const inner = await readChartArchive(data, crdRelevant).catch(() => undefined);
      if (inner) await collect(inner, `${prefix}${rel}/`, into, depth + 1, budget);
    }
  }
}

/** The CRDs of a packaged chart and of its subcharts (Helm's CRDObjects), parsed. */
export async function chartCrds(tgz: Buffer): Promise<ChartCrds> {
  const out: ChartCrds = { crds: [], ignored: [] };
  await collect(await readChartArchive(tgz, crdRelevant), '', out, 0, { left: MAX_DECOMPRESSED_CHART_SIZE });
  return out;
}
