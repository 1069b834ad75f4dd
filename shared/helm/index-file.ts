/**
 * Helm repository index files as source-controller loads them (IndexFromBytes): JSON or
 * strict YAML, entries validated (invalid ones dropped, as Helm does), versions sorted
 * newest first; the JSON Flux stores as the HelmRepository artifact; and chart version
 * selection (GetChartVersion: exact match first, then the newest in a semver range).
 */
import { trimEnd } from '../util/trim.js';
import { goJsonIndent, goStruct } from '../util/gojson.js';
import { GoYamlError, parseGoYaml } from './goyaml.js';
import { compareVersions, parseConstraint, parseStrictVersion, satisfies as satisfiesConstraint, tryParseVersion, SemverError } from './semver.js';

/** source-controller MaxIndexSize (50 MiB). */
export const MAX_INDEX_SIZE = 50 << 20;
/** source-controller MaxChartSize (10 MiB). */
export const MAX_CHART_SIZE = 10 << 20;

/** A chart maintainer. */
export interface Maintainer {
  name?: string;
  email?: string;
  url?: string;
}

/** A dependency as declared in Chart.yaml (helm chart.Dependency). */
export interface ChartDependency {
  name: string;
  version?: string;
  repository: string;
  condition?: string;
  tags?: string[];
  enabled?: boolean;
  'import-values'?: unknown[];
  alias?: string;
}

/** Chart.yaml fields (helm chart.Metadata). */
export interface ChartMetadata {
  name?: string;
  home?: string;
  sources?: string[];
  version?: string;
  description?: string;
  keywords?: string[];
  maintainers?: Maintainer[];
  icon?: string;
  apiVersion?: string;
  condition?: string;
  tags?: string;
  appVersion?: string;
  deprecated?: boolean;
  annotations?: Record<string, string>;
  kubeVersion?: string;
  dependencies?: ChartDependency[];
  type?: string;
}

/** An index entry (helm repo.ChartVersion). */
export interface ChartVersion extends ChartMetadata {
  name: string;
  version: string;
  urls: string[] | null;
  /** RFC 3339, as Go formats it; '' when absent (Go's zero time). */
  created: string;
  removed?: boolean;
  digest?: string;
  checksum?: string;
  engine?: string;
  tillerVersion?: string;
  url?: string;
}

/** A loaded index (helm repo.IndexFile). */
export interface IndexFile {
  serverInfo?: Record<string, unknown>;
  apiVersion: string;
  generated: string;
  entries: Record<string, ChartVersion[]>;
  publicKeys?: string[];
  annotations?: Record<string, string>;
}

/** An entry Helm's validation dropped, for a log line. */
export interface DroppedEntry {
  chart: string;
  version?: string;
  reason: string;
}

/** An index could not be loaded; the message is Helm's. */
export class IndexError extends Error {}

const METADATA_KEYS = ['name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type'];
const VERSION_KEYS = new Set([...METADATA_KEYS, 'urls', 'created', 'removed', 'digest', 'checksum', 'engine', 'tillerVersion', 'url']);
const INDEX_KEYS = new Set(['serverInfo', 'apiVersion', 'generated', 'entries', 'publicKeys', 'annotations']);
const DEP_KEYS = new Set(['name', 'version', 'repository', 'condition', 'tags', 'enabled', 'import-values', 'alias']);
const MAINTAINER_KEYS = new Set(['name', 'email', 'url']);

const GO_SPACE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/gu;
const GO_PRINT = /[\p{L}\p{M}\p{N}\p{P}\p{S} ]/u;

/** helm chart sanitizeString: spaces normalised to ' ', non-printable characters removed. */
export function sanitizeString(s: string): string {
  let out = '';
  for (const ch of s.replace(GO_SPACE, ' ')) if (GO_PRINT.test(ch)) out += ch;
  return out;
}

/** An RFC 3339 time as Go's time.Time reads and then writes it (RFC3339Nano); throws IndexError when invalid. */
export function goTime(s: string, field: string): string {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) throw new IndexError(`parsing time ${JSON.stringify(s)} as "2006-01-02T15:04:05Z07:00": cannot parse ${JSON.stringify(s)} (${field})`);
  let frac = m[7] ? trimEnd(m[7], '0') : '';
  if (frac === '.') frac = '';
  const zone = m[8] === '+00:00' || m[8] === '-00:00' ? 'Z' : m[8];
  return `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}${frac}${zone}`;
}

type Raw = Record<string, unknown>;

/** Unknown fields are refused only in YAML input (sigs.k8s.io/yaml UnmarshalStrict); JSON input ignores them. */
let strictMode = false;

function strictKeys(o: Raw, allowed: Set<string>, where: string): void {
  if (!strictMode) return;
  for (const k of Object.keys(o)) {
    if (!allowed.has(k)) throw new IndexError(`error unmarshaling JSON: while decoding JSON: json: unknown field ${JSON.stringify(k)}${where ? ` (${where})` : ''}`);
  }
}

function want(v: unknown, type: 'string' | 'boolean' | 'array' | 'object', field: string): void {
  const ok = type === 'array' ? Array.isArray(v) : type === 'object' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === type;
  if (v !== undefined && v !== null && !ok) {
    throw new IndexError(`json: cannot unmarshal ${Array.isArray(v) ? 'array' : typeof v} into Go struct field ${field} of type ${type === 'array' ? 'slice' : type}`);
  }
}

function strList(v: unknown, field: string): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  want(v, 'array', field);
  return (v as unknown[]).map((x) => {
    want(x, 'string', field);
    return x === null ? '' : (x as string);
  });
}

/** Reads one raw entry into a ChartVersion (types checked like Go's decoder, unknown fields refused). */
function readVersion(raw: Raw, chart: string): ChartVersion {
  strictKeys(raw, VERSION_KEYS, `entry of chart ${chart}`);
  for (const k of ['name', 'home', 'version', 'description', 'icon', 'apiVersion', 'condition', 'tags', 'appVersion', 'kubeVersion', 'type', 'digest', 'checksum', 'engine', 'tillerVersion', 'url']) {
    want(raw[k], 'string', `ChartVersion.${k}`);
  }
  want(raw.deprecated, 'boolean', 'ChartVersion.deprecated');
  want(raw.removed, 'boolean', 'ChartVersion.removed');
  want(raw.annotations, 'object', 'ChartVersion.annotations');
  const out: Raw = {};
  for (const k of METADATA_KEYS) if (raw[k] !== undefined && raw[k] !== null) out[k] = raw[k];
  if (raw.sources !== undefined) out.sources = strList(raw.sources, 'ChartVersion.sources');
  if (raw.keywords !== undefined) out.keywords = strList(raw.keywords, 'ChartVersion.keywords');
  if (raw.maintainers !== undefined && raw.maintainers !== null) {
    want(raw.maintainers, 'array', 'ChartVersion.maintainers');
    out.maintainers = (raw.maintainers as unknown[]).map((m) => {
      if (m === null) return null;
      want(m, 'object', 'ChartVersion.maintainers');
      strictKeys(m as Raw, MAINTAINER_KEYS, 'maintainer');
      return { ...(m as Raw) };
    });
  }
  if (raw.dependencies !== undefined && raw.dependencies !== null) {
    want(raw.dependencies, 'array', 'ChartVersion.dependencies');
    out.dependencies = (raw.dependencies as unknown[]).map((d) => {
      if (d === null) return null;
      want(d, 'object', 'ChartVersion.dependencies');
      strictKeys(d as Raw, DEP_KEYS, 'dependency');
      return { ...(d as Raw) };
    });
  }
  if (raw.annotations) {
    for (const [k, v] of Object.entries(raw.annotations as Raw)) want(v, 'string', `ChartVersion.annotations.${k}`);
  }
  out.name = typeof raw.name === 'string' ? raw.name : '';
  out.version = typeof raw.version === 'string' ? raw.version : '';
  out.urls = raw.urls === undefined || raw.urls === null ? null : strList(raw.urls, 'ChartVersion.urls');
  out.created = typeof raw.created === 'string' ? goTime(raw.created, `entry ${chart}`) : '';
  if (raw.created !== undefined && raw.created !== null && typeof raw.created !== 'string') want(raw.created, 'string', 'ChartVersion.created');
  for (const k of ['removed', 'digest', 'checksum', 'engine', 'tillerVersion', 'url']) if (raw[k] !== undefined && raw[k] !== null) out[k] = raw[k];
  return out as unknown as ChartVersion;
}

const ALIAS_FORMAT = /^[a-zA-Z0-9_-]+$/;

/** helm chart.Metadata.Validate (with sanitisation, mutating `md`); returns the problem or undefined. */
export function validateMetadata(md: ChartMetadata): string | undefined {
  const s = (k: keyof ChartMetadata) => {
    const v = md[k];
    if (typeof v === 'string') (md as Raw)[k] = sanitizeString(v);
  };
  for (const k of ['name', 'description', 'home', 'icon', 'condition', 'tags', 'appVersion', 'kubeVersion'] as const) s(k);
  if (md.sources) md.sources = md.sources.map(sanitizeString);
  if (md.keywords) md.keywords = md.keywords.map(sanitizeString);
  if (!md.apiVersion) return 'validation: chart.metadata.apiVersion is required';
  if (!md.name) return 'validation: chart.metadata.name is required';
  if (md.name === '.' || md.name === '..') return `validation: chart.metadata.name ${JSON.stringify(md.name)} is not allowed`;
  if (md.name.includes('/') || md.name.includes('\\')) return `validation: chart.metadata.name ${JSON.stringify(md.name)} is invalid`;
  if (!md.version) return 'validation: chart.metadata.version is required';
  if (!tryParseVersion(md.version)) return `validation: chart.metadata.version ${JSON.stringify(md.version)} is invalid`;
  if (md.type && md.type !== 'application' && md.type !== 'library') return 'validation: chart.metadata.type must be application or library';
  for (const m of md.maintainers ?? []) {
    if (m === null) return 'validation: maintainers must not contain empty or null nodes';
    for (const k of ['name', 'email', 'url'] as const) if (typeof m[k] === 'string') m[k] = sanitizeString(m[k]!);
  }
  const seen = new Set<string>();
  for (const d of md.dependencies ?? []) {
    if (d === null) return 'validation: dependencies must not contain empty or null nodes';
    d.name = sanitizeString(d.name ?? '');
    if (d.version !== undefined) d.version = sanitizeString(d.version);
    d.repository = sanitizeString(d.repository ?? '');
    if (d.condition !== undefined) d.condition = sanitizeString(d.condition);
    if (d.tags) d.tags = d.tags.map(sanitizeString);
    if (d.alias && !ALIAS_FORMAT.test(d.alias)) return `validation: dependency ${JSON.stringify(d.name)} has disallowed characters in the alias`;
    const key = d.alias || d.name;
    if (seen.has(key)) return `validation: more than one dependency with name or alias ${JSON.stringify(key)}`;
    seen.add(key);
  }
  return undefined;
}

/** helm ChartVersions.Less, reversed by SortEntries: newest first, unparsable versions last. */
function descending(a: ChartVersion, b: ChartVersion): number {
  const va = tryParseVersion(a.version);
  const vb = tryParseVersion(b.version);
  if (!va && !vb) return 0;
  if (!va) return 1;
  if (!vb) return -1;
  return -compareVersions(va, vb);
}

/**
 * source-controller IndexFromBytes: parses (JSON, else strict YAML), requires apiVersion,
 * drops invalid entries (except the "more than one dependency" case Helm tolerates) and
 * sorts each chart's versions newest first. Throws IndexError with Helm's messages.
 */
export function loadIndex(bytes: Uint8Array | string): { index: IndexFile; dropped: DroppedEntry[] } {
  const text = typeof bytes === 'string' ? bytes : Buffer.from(bytes).toString('utf8');
  if (text.length === 0) throw new IndexError('empty index.yaml file');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
    strictMode = false;
  } catch {
    try {
      raw = parseGoYaml(text);
      strictMode = true;
    } catch (err) {
      throw new IndexError(err instanceof GoYamlError ? err.message : String(err));
    }
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new IndexError(`error unmarshaling JSON: json: cannot unmarshal ${Array.isArray(raw) ? 'array' : typeof raw} into Go value of type repo.IndexFile`);
  }
  const r = raw as Raw;
  strictKeys(r, INDEX_KEYS, '');
  want(r.apiVersion, 'string', 'IndexFile.apiVersion');
  want(r.entries, 'object', 'IndexFile.entries');
  if (!r.apiVersion) throw new IndexError('no API version specified');
  const index: IndexFile = {
    ...(r.serverInfo && typeof r.serverInfo === 'object' ? { serverInfo: r.serverInfo as Record<string, unknown> } : {}),
    apiVersion: r.apiVersion as string,
    generated: typeof r.generated === 'string' ? goTime(r.generated, 'generated') : '',
    entries: {},
    ...(Array.isArray(r.publicKeys) && r.publicKeys.length ? { publicKeys: strList(r.publicKeys, 'IndexFile.publicKeys') } : {}),
    ...(r.annotations && typeof r.annotations === 'object' && Object.keys(r.annotations).length ? { annotations: r.annotations as Record<string, string> } : {}),
  };
  const dropped: DroppedEntry[] = [];
  for (const [name, list] of Object.entries((r.entries as Raw | undefined) ?? {})) {
    if (list === null) {
      index.entries[name] = [];
      continue;
    }
    want(list, 'array', `IndexFile.entries.${name}`);
    const kept: ChartVersion[] = [];
    for (const item of list as unknown[]) {
      if (item === null) {
        dropped.push({ chart: name, reason: 'empty entry' });
        continue;
      }
      want(item, 'object', `IndexFile.entries.${name}`);
      const cv = readVersion(item as Raw, name);
      if (!cv.apiVersion) cv.apiVersion = 'v1';
      const problem = validateMetadata(cv);
      if (problem && !problem.startsWith('validation: more than one dependency with name or alias')) {
        dropped.push({ chart: name, version: cv.version, reason: problem });
        continue;
      }
      kept.push(cv);
    }
    index.entries[name] = kept.sort(descending);
  }
  return { index, dropped };
}

function versionStruct(cv: ChartVersion) {
  return goStruct([
    ['name', cv.name, 'omitempty'],
    ['home', cv.home, 'omitempty'],
    ['sources', cv.sources, 'omitempty'],
    ['version', cv.version, 'omitempty'],
    ['description', cv.description, 'omitempty'],
    ['keywords', cv.keywords, 'omitempty'],
    ['maintainers', cv.maintainers?.map((m) => goStruct([['name', m.name, 'omitempty'], ['email', m.email, 'omitempty'], ['url', m.url, 'omitempty']])), 'omitempty'],
    ['icon', cv.icon, 'omitempty'],
    ['apiVersion', cv.apiVersion, 'omitempty'],
    ['condition', cv.condition, 'omitempty'],
    ['tags', cv.tags, 'omitempty'],
    ['appVersion', cv.appVersion, 'omitempty'],
    ['deprecated', cv.deprecated, 'omitempty'],
    ['annotations', cv.annotations, 'omitempty'],
    ['kubeVersion', cv.kubeVersion, 'omitempty'],
    [
      'dependencies',
      cv.dependencies?.map((d) =>
        goStruct([
          ['name', d.name ?? ''],
          ['version', d.version, 'omitempty'],
          ['repository', d.repository ?? ''],
          ['condition', d.condition, 'omitempty'],
          ['tags', d.tags, 'omitempty'],
          ['enabled', d.enabled, 'omitempty'],
          ['import-values', d['import-values'], 'omitempty'],
          ['alias', d.alias, 'omitempty'],
        ]),
      ),
      'omitempty',
    ],
    ['type', cv.type, 'omitempty'],
    ['urls', cv.urls],
    ['created', cv.created || '0001-01-01T00:00:00Z'],
    ['removed', cv.removed, 'omitempty'],
    ['digest', cv.digest, 'omitempty'],
    ['checksum', cv.checksum, 'omitempty'],
    ['engine', cv.engine, 'omitempty'],
    ['tillerVersion', cv.tillerVersion, 'omitempty'],
    ['url', cv.url, 'omitempty'],
  ]);
}

/** The index as source-controller stores it in the artifact: json.MarshalIndent(index, "", "  "). */
export function indexToJson(index: IndexFile): string {
  const entries: Record<string, unknown> = {};
  for (const [name, list] of Object.entries(index.entries)) entries[name] = list.map(versionStruct);
  return goJsonIndent(
    goStruct([
      ['serverInfo', index.serverInfo, 'omitempty'],
      ['apiVersion', index.apiVersion],
      ['generated', index.generated || '0001-01-01T00:00:00Z'],
      ['entries', entries],
      ['publicKeys', index.publicKeys, 'omitempty'],
      ['annotations', index.annotations, 'omitempty'],
    ]),
  );
}

/** Chart version selection failed (ErrReference in source-controller). */
export class ChartVersionError extends Error {}

/**
 * source-controller ChartRepository.GetChartVersion: an exact version string match first;
 * otherwise the highest version (major.minor.patch required) satisfying the constraint,
 * `*` or '' meaning the newest stable one; among equal versions the latest `created` wins.
 */
export function selectChartVersion(index: IndexFile, name: string, version: string): ChartVersion {
  const cvs = index.entries[name];
  if (!cvs) throw new ChartVersionError('no chart name found');
  if (cvs.length === 0) throw new ChartVersionError('no chart version found');
  if (version) {
    const exact = cvs.find((cv) => cv.version === version);
    if (exact) return exact;
  }
  let constraint;
  try {
    constraint = parseConstraint(!version || version === '*' ? '*' : version);
  } catch (err) {
    throw new ChartVersionError(err instanceof SemverError ? err.message : String(err));
  }
  const matched: { v: NonNullable<ReturnType<typeof parseStrictVersion>>; cv: ChartVersion }[] = [];
  for (const cv of cvs) {
    const v = parseStrictVersion(cv.version);
    if (!v || !satisfiesConstraint(v, constraint)) continue;
    matched.push({ v, cv });
  }
  if (matched.length === 0) throw new ChartVersionError(`no '${name}' chart with version matching '${version}' found`);
  matched.sort((a, b) => {
    const d = compareVersions(b.v, a.v);
    if (d) return d;
    return (Date.parse(b.cv.created) || 0) - (Date.parse(a.cv.created) || 0);
  });
  return matched[0].cv;
}
