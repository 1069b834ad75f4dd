/**
 * The ArtifactGenerator API (`source.extensions.fluxcd.io/v1beta1`, fluxcd/source-watcher),
 * parsed and validated as the CRD schema and the controller's validateSpec do: sources with
 * unique aliases, output artifacts with unique names (DNS subdomains unless `pathPattern`),
 * `revision`/`originRevision` naming a known alias, copy operations `@alias/<glob>` ->
 * `@artifact/<path>`. Every error names the field; nothing unknown is silently ignored.
 */
import type { KubeObject, ObjectKey } from '../../kube/object.js';
import { ValidationError } from '../../util/errors.js';

/** The API group and version. */
export const AG_GROUP = 'source.extensions.fluxcd.io';
/** The served version. */
export const AG_API_VERSION = `${AG_GROUP}/v1beta1`;

/** Source kinds an ArtifactGenerator may read. */
export const AG_SOURCE_KINDS = ['Bucket', 'GitRepository', 'OCIRepository', 'HelmChart', 'ExternalArtifact'] as const;

/** `spec.sources[]`. */
export interface GeneratorSource {
  alias: string;
  kind: (typeof AG_SOURCE_KINDS)[number];
  name: string;
  namespace: string;
}

/** How a copy writes a file that exists already, or unpacks tarballs. */
export type CopyStrategy = 'Overwrite' | 'Merge' | 'Extract';

/** `spec.artifacts[].copy[]`. */
export interface CopyOperation {
  from: string;
  to: string;
  exclude: string[];
  strategy: CopyStrategy;
}

/** `spec.artifacts[]`. */
export interface OutputArtifact {
  name: string;
  /** `@alias`: use that source's revision instead of `latest@<digest>`. */
  revision?: string;
  /** `@alias`: set `org.opencontainers.image.revision` from that source. */
  originRevision?: string;
  copy: CopyOperation[];
}

/** A parsed ArtifactGenerator. */
export interface ArtifactGeneratorSpec {
  namespace: string;
  name: string;
  generation: number;
  /** `source.extensions.fluxcd.io/reconcile: disabled` (case-insensitive). */
  disabled: boolean;
  sources: GeneratorSource[];
  artifacts: OutputArtifact[];
  pathPattern?: string;
  commonMetadata?: { labels: Record<string, string>; annotations: Record<string, string> };
}

/** Annotation that pauses a generator. */
export const RECONCILE_ANNOTATION = `${AG_GROUP}/reconcile`;

const ALIAS = /^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ALIAS_REF = /^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)$/;
const FROM = /^@([a-z0-9]([a-z0-9_-]*[a-z0-9])?)\/(.*)$/;
const TO = /^@(artifact)\/(.*)$/;

/** True for a Kubernetes object name (DNS subdomain, 253 characters at most). */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/** The key of a source's record. */
export function sourceKey(s: GeneratorSource): ObjectKey {
  return { kind: s.kind, namespace: s.namespace, name: s.name };
}

function fail(id: string, field: string, msg: string): never {
  throw new ValidationError(`ArtifactGenerator ${id}: ${field}: ${msg}`);
}

function str(v: unknown, id: string, field: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) fail(id, field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') fail(id, field, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function list(v: unknown, id: string, field: string, min: number, max: number): unknown[] {
  if (v === undefined || v === null) v = [];
  if (!Array.isArray(v)) fail(id, field, 'must be a list');
  if (v.length < min) fail(id, field, min === 1 ? 'needs at least one entry' : `needs at least ${min} entries`);
  if (v.length > max) fail(id, field, `has ${v.length} entries; at most ${max} are allowed`);
  return v;
}

function obj(v: unknown, id: string, field: string, allowed: readonly string[]): Record<string, unknown> {
  if (!v || typeof v !== 'object' || Array.isArray(v)) fail(id, field, 'must be an object');
  for (const k of Object.keys(v)) if (!allowed.includes(k)) fail(id, `${field}.${k}`, 'unknown or unsupported field');
  return v as Record<string, unknown>;
}

function strMap(v: unknown, id: string, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(id, field, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') fail(id, `${field}.${k}`, `must be a string, got ${JSON.stringify(val)}`);
    out[k] = val;
  }
  return out;
}

/** Parses and validates an ArtifactGenerator; throws ValidationError naming the field. */
export function parseArtifactGenerator(o: KubeObject): ArtifactGeneratorSpec {
  const ns = o.metadata?.namespace ?? 'default';
  const name = o.metadata?.name;
  if (!name) throw new ValidationError('ArtifactGenerator without metadata.name');
  const id = `${ns}/${name}`;
  if (o.apiVersion !== AG_API_VERSION) fail(id, 'apiVersion', `'${o.apiVersion}' is not supported; use ${AG_API_VERSION}`);
  const spec = obj(o.spec ?? {}, id, 'spec', ['sources', 'artifacts', 'pathPattern', 'commonMetadata']);

  const aliases = new Set<string>();
  const sources = list(spec.sources, id, 'spec.sources', 1, 1000).map((s, i): GeneratorSource => {
    const f = `spec.sources[${i}]`;
    const so = obj(s, id, f, ['alias', 'kind', 'name', 'namespace']);
    const alias = str(so.alias, id, `${f}.alias`, true)!;
    if (alias.length > 63 || !ALIAS.test(alias)) fail(id, `${f}.alias`, `'${alias}' must be lower case alphanumeric characters, '_' or '-', starting and ending with an alphanumeric character`);
    if (aliases.has(alias)) fail(id, `${f}.alias`, `duplicate source alias '${alias}' found`);
    aliases.add(alias);
    const kind = str(so.kind, id, `${f}.kind`, true)!;
    if (!(AG_SOURCE_KINDS as readonly string[]).includes(kind)) fail(id, `${f}.kind`, `'${kind}' must be one of ${AG_SOURCE_KINDS.join(', ')}`);
    const srcName = str(so.name, id, `${f}.name`, true)!;
    if (srcName.length > 253 || !DNS_LABEL.test(srcName)) fail(id, `${f}.name`, `'${srcName}' is not a valid object name`);
    const srcNs = str(so.namespace, id, `${f}.namespace`);
    if (srcNs !== undefined && (srcNs.length > 63 || !DNS_LABEL.test(srcNs))) fail(id, `${f}.namespace`, `'${srcNs}' is not a valid namespace`);
    return { alias, kind: kind as GeneratorSource['kind'], name: srcName, namespace: srcNs || ns };
  });

  const pathPattern = str(spec.pathPattern, id, 'spec.pathPattern') || undefined;
  if (pathPattern !== undefined) {
    if (pathPattern.length > 1024) fail(id, 'spec.pathPattern', 'is longer than 1024 characters');
    const m = FROM.exec(pathPattern);
    if (!m) fail(id, 'spec.pathPattern', `'${pathPattern}' must have the form @<alias>/<pattern>, e.g. @repo/apps/{app}`);
    if (!aliases.has(m[1]!)) fail(id, 'spec.pathPattern', `source alias '${m[1]}' not found`);
  }

  const names = new Set<string>();
  const aliasRef = (v: unknown, f: string): string | undefined => {
    const r = str(v, id, f);
    if (r === undefined || r === '') return undefined;
    const m = ALIAS_REF.exec(r);
    if (!m) fail(id, f, `'${r}' must have the form @<alias>`);
    return m[1];
  };
  const artifacts = list(spec.artifacts, id, 'spec.artifacts', 1, 1000).map((a, i): OutputArtifact => {
    const f = `spec.artifacts[${i}]`;
    const ao = obj(a, id, f, ['name', 'revision', 'originRevision', 'copy']);
    const aname = str(ao.name, id, `${f}.name`, true)!;
    if (!aname || aname.length > 253) fail(id, `${f}.name`, 'must be 1 to 253 characters');
    if (names.has(aname)) fail(id, `${f}.name`, `duplicate artifact name '${aname}' found`);
    names.add(aname);
    if (!pathPattern && !isDnsSubdomain(aname)) fail(id, `${f}.name`, `artifact name "${aname}" is not a valid Kubernetes object name (lower case alphanumeric characters, '-' or '.')`);
    const revision = aliasRef(ao.revision, `${f}.revision`);
    if (revision !== undefined && !aliases.has(revision)) fail(id, `${f}.revision`, `artifact ${aname} revision source alias '${revision}' not found`);
    const originRevision = aliasRef(ao.originRevision, `${f}.originRevision`);
    const copy = list(ao.copy, id, `${f}.copy`, 1, Number.MAX_SAFE_INTEGER).map((c, j): CopyOperation => {
      const cf = `${f}.copy[${j}]`;
      const co = obj(c, id, cf, ['from', 'to', 'exclude', 'strategy']);
      const from = str(co.from, id, `${cf}.from`, true)!;
      const fm = FROM.exec(from);
      if (!fm || from.length > 1024) fail(id, `${cf}.from`, `'${from}' must have the form @<alias>/<glob>, e.g. @repo/apps/**`);
      if (!aliases.has(fm[1]!)) fail(id, `${cf}.from`, `source alias '${fm[1]}' not found`);
      const to = str(co.to, id, `${cf}.to`, true)!;
      if (!TO.test(to) || to.length > 1024) fail(id, `${cf}.to`, `'${to}' must have the form @artifact/<path>, e.g. @artifact/ or @artifact/apps/`);
      const exclude = list(co.exclude, id, `${cf}.exclude`, 0, 100).map((e, k) => str(e, id, `${cf}.exclude[${k}]`, true)!);
      const strategy = (str(co.strategy, id, `${cf}.strategy`) || 'Overwrite') as CopyStrategy;
      if (!['Overwrite', 'Merge', 'Extract'].includes(strategy)) fail(id, `${cf}.strategy`, `'${strategy}' must be Overwrite, Merge or Extract`);
      return { from, to, exclude, strategy };
    });
    return { name: aname, revision: revision && `@${revision}`, originRevision: originRevision && `@${originRevision}`, copy };
  });

  const cm = spec.commonMetadata === undefined || spec.commonMetadata === null ? undefined : obj(spec.commonMetadata, id, 'spec.commonMetadata', ['labels', 'annotations']);
  const disabled = (o.metadata.annotations?.[RECONCILE_ANNOTATION] ?? '').toLowerCase() === 'disabled';
  return {
    namespace: ns,
    name,
    generation: Number(o.metadata.generation ?? 1),
    disabled,
    sources,
    artifacts,
    pathPattern,
    commonMetadata: cm ? { labels: strMap(cm.labels, id, 'spec.commonMetadata.labels'), annotations: strMap(cm.annotations, id, 'spec.commonMetadata.annotations') } : undefined,
  };
}
