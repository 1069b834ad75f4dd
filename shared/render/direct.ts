/**
 * A build without kustomize for the commonest Flux case: a plain directory of YAML (no
 * kustomization file of its own) whose Kustomization sets nothing kustomize would transform
 * but, optionally, `targetNamespace`. Flux generates `resources: [every file]` (plus
 * `namespace:`) for it; `kubectl kustomize` then only parses, sets namespaces and sorts. This
 * does the same in-process, with the output `kubectl kustomize` gives:
 *
 *  - every object goes through kustomize's YAML -> JSON round trip, so every mapping comes
 *    out with its keys in byte order, and a scalar is read as go-yaml reads it. Only YAML on
 *    which go-yaml (YAML 1.1 flavoured) and the `yaml` package (1.2 core, used to read
 *    kustomize's output) agree is built here: plain scalars that are canonical numbers,
 *    true/false, null or unambiguous strings; quoted and block scalars; no anchors, aliases,
 *    tags, merge keys or non-string keys. Anything else (`010`, `2024-01-01`, `0x1F`, `1_000`,
 *    `.inf`, ...) is left to kustomize;
 *  - `namespace:` sets metadata.namespace on every type kustomize's schema does not know as
 *    cluster-scoped (namespace-scope.ts); kinds the transformer or kustomize's reference
 *    rewriting touch in other fields (Namespace, RoleBinding, ClusterRoleBinding, webhook
 *    configurations, APIService, CustomResourceDefinition) and `*List` documents are left to
 *    kustomize;
 *  - objects are sorted in kustomize's legacy order (the default of `kubectl kustomize`):
 *    kind priority (Namespace, ResourceQuota, ... first, webhooks last), then
 *    group/version/kind, then namespace and name.
 *
 * Whenever anything is outside that subset (a symlinked or unreadable file, duplicate
 * objects, a missing name, kustomize-internal annotations, ...), `directBuild` returns
 * undefined and the caller runs kustomize, so errors stay exactly kustomize's.
 * FLUXLESS_KUSTOMIZE_DIRECT=0 turns the direct build off.
 */
import { lstat, readFile } from '../util/fs-inline.js';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, parseDocument, Scalar, visit } from 'yaml';
import type { Document, Node as YamlNode } from 'yaml';
import { DEFAULT_MAX_OUTPUT_BYTES } from './kustomize-run.js';
import { isNamespacedForKustomize } from './namespace-scope.js';
import type { KubeObject, RenderSpec } from './types.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** Counters of direct builds, by outcome (benchmarks and tests read them). */
export const directBuildStats: { direct: number; declined: number; reasons: Record<string, number> } = { direct: 0, declined: 0, reasons: {} };

/** False when FLUXLESS_KUSTOMIZE_DIRECT=0 (always run kustomize). */
export function directBuildEnabled(env: Record<string, string | undefined> = process.env): boolean {
  return env.FLUXLESS_KUSTOMIZE_DIRECT !== '0';
}

/** True when the spec asks kustomize for nothing but (optionally) a target namespace. */
export function directBuildSpec(spec: RenderSpec): boolean {
  return !spec.namePrefix && !spec.nameSuffix && !spec.patches?.length && !spec.images?.length && !spec.components?.length;
}

/** Kinds kustomize changes beyond metadata.namespace (or whose references it rewrites). */
const KUSTOMIZE_SPECIAL_KINDS = new Set([
  'Namespace',
  'RoleBinding',
  'ClusterRoleBinding',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'APIService',
  'CustomResourceDefinition',
]);

/** Annotation prefixes kustomize reads or strips (kyaml's internal ones, kustomize's behaviour hints). */
const KUSTOMIZE_ANNOTATION = /(^|\.)(config\.kubernetes\.io|kustomize\.config\.k8s\.io|config\.k8s\.io)\//;

/** kustomize's legacy sort: kinds first, in this order. */
const ORDER_FIRST = [
  'Namespace', 'ResourceQuota', 'StorageClass', 'CustomResourceDefinition', 'ServiceAccount', 'PodSecurityPolicy', 'Role', 'ClusterRole',
  'RoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'Secret', 'Endpoints', 'Service', 'LimitRange', 'PriorityClass', 'PersistentVolume',
  'PersistentVolumeClaim', 'Deployment', 'StatefulSet', 'CronJob', 'PodDisruptionBudget',
];
/** kustomize's legacy sort: kinds last, in this order. */
const ORDER_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];
const TYPE_ORDER = new Map<string, number>([...ORDER_FIRST.map((k, i): [string, number] => [k, i - ORDER_FIRST.length]), ...ORDER_LAST.map((k, i): [string, number] => [k, i + 1])]);

const API_VERSION = /^(?:[a-z0-9]([a-z0-9.-]*[a-z0-9])?\/)?[a-z0-9]+$/;
const INT = /^-?(0|[1-9][0-9]*)$/;
const FLOAT = /^-?(0|[1-9][0-9]*)(\.[0-9]+([eE][-+]?[0-9]+)?|[eE][-+]?[0-9]+)$/;
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const BOOLS = new Set(['true', 'True', 'TRUE', 'false', 'False', 'FALSE']);
const SPECIAL_FLOAT = /^[-+]?\.(inf|Inf|INF|nan|NaN|NAN)$/;
/** Plain scalars that some YAML resolver (go-yaml's included) reads as a number or a time. */
const NUMBERISH = [
  /^[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?$/, // 1_000, 010, 1., +1
  /^[-+]?\.[0-9]/, // .5
  /^[-+]?0[xXoObB]/, // 0x1F, 0o17, 0b101
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}/, // 2024-01-02, timestamps
  /^[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?$/, // 1:30 (YAML 1.1 sexagesimal)
];
// Control characters go-yaml refuses (tab, LF and CR are fine); a BOM is left to kustomize too.
// eslint-disable-next-line no-control-regex
const FORBIDDEN_CHARS = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\ufeff]/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

class Declined extends Error {}

function decline(reason: string): never {
  throw new Declined(reason);
}

/**
 * A plain scalar both parsers read alike: a canonical integer (|n| < 2^53, no sign, no
 * leading zero), a plain decimal float, true/false, null, or a string that no YAML 1.1 or
 * 1.2 resolver reads as anything else.
 */
function checkPlain(value: string, isKey: boolean): void {
  if (isKey) {
    if (NULLS.has(value) || BOOLS.has(value) || value === '<<' || /^[-+]?\.?[0-9]/.test(value) || SPECIAL_FLOAT.test(value)) decline('a mapping key that is not plainly a string');
    return;
  }
  if (NULLS.has(value) || BOOLS.has(value)) return;
  if (INT.test(value)) {
    if (value === '-0' || !Number.isSafeInteger(Number(value))) decline('an integer outside the exactly representable range');
    return;
  }
  if (FLOAT.test(value)) {
    const n = Number(value);
    if (!Number.isFinite(n) || n === 0 && value.startsWith('-')) decline('a float kustomize would rewrite');
    return;
  }
  // Octal, hex, binary, underscores, timestamps, sexagesimal, signed or dotted numbers:
  // go-yaml and the yaml package disagree on some; leave them all to kustomize. Other
  // strings that start with a digit (`1Gi`, `500m`, `1.27.3`) are strings to both.
  if (NUMBERISH.some((re) => re.test(value)) || SPECIAL_FLOAT.test(value)) decline('a plain scalar kustomize may read as a number or time');
}

/** Throws Declined for an anchor or an explicit tag on a node. */
function checkNode(node: YamlNode): void {
  const n = node as YamlNode & { anchor?: string; tag?: string };
  if (n.anchor || n.tag) decline('YAML anchors or tags');
}

/** Throws Declined when the document holds YAML outside the subset both parsers agree on. */
function checkDocument(doc: Document): void {
  if (doc.errors.length || doc.warnings.length) decline('YAML errors or warnings');
  visit(doc, {
    Alias() {
      decline('YAML aliases');
    },
    Seq(_key, seq) {
      checkNode(seq);
      return undefined;
    },
    Map(_key, map) {
      checkNode(map);
      const seen = new Set<string>();
      for (const pair of map.items) {
        const k = pair.key;
        if (!isScalar(k) || typeof k.value !== 'string') decline('a mapping key that is not a string');
        checkNode(k);
        if (k.type === Scalar.PLAIN) checkPlain(k.value, true);
        if (seen.has(k.value)) decline('a repeated mapping key');
        seen.add(k.value);
      }
      return undefined;
    },
    Scalar(key, node) {
      if (key === 'key') return undefined;
      checkNode(node);
      if (node.type === Scalar.PLAIN) checkPlain(node.source ?? String(node.value), false);
      return undefined;
    },
  });
}

function byteCompare(a: string, b: string): number {
  return a === b ? 0 : Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The value with every mapping's keys in byte order (kustomize's JSON round trip). */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v === null || typeof v !== 'object') return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort(byteCompare)) out[k] = sortKeys((v as Record<string, unknown>)[k]);
  return out;
}

interface Gvk {
  group: string;
  version: string;
  kind: string;
}

function gvkOf(o: KubeObject): Gvk {
  const i = o.apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: o.apiVersion, kind: o.kind } : { group: o.apiVersion.slice(0, i), version: o.apiVersion.slice(i + 1), kind: o.kind };
}

function gvkSortString(g: Gvk): string {
  return [g.group || '~G', g.version || '~V', g.kind || '~K'].join('_');
}

/** kustomize's legacy order (SortOrderTransformer's legacyIDSorter). */
export function legacyCompare(a: KubeObject, b: KubeObject): number {
  const ga = gvkOf(a);
  const gb = gvkOf(b);
  if (ga.group !== gb.group || ga.version !== gb.version || ga.kind !== gb.kind) {
    const ia = TYPE_ORDER.get(ga.kind) ?? 0;
    const ib = TYPE_ORDER.get(gb.kind) ?? 0;
    if (ia !== ib) return ia - ib;
    const c = byteCompare(gvkSortString(ga), gvkSortString(gb));
    return ga.kind === 'Namespace' && gb.kind === 'Namespace' && (ga.group === '' || gb.group === '') ? -c : c;
  }
  const id = (o: KubeObject) => `${o.metadata.namespace || '~X'}|${o.metadata.name || '~N'}`;
  return byteCompare(id(a), id(b));
}

/** The objects of one resource file, or Declined. */
function objectsOfFile(text: string, documents?: readonly Document.Parsed[]): KubeObject[] {
  if (FORBIDDEN_CHARS.test(text)) decline('control characters or a byte order mark');
  if (/^%/m.test(text)) decline('YAML directives');
  if (!documents && yamlNestingProblem(text)) decline('YAML nested too deep to read here');
  const out: KubeObject[] = [];
  for (const doc of documents ?? parseAllDocuments(text, { uniqueKeys: false })) {
    checkDocument(doc);
    const c = doc.contents;
    if (c === null || (isScalar(c) && (c.value === null || c.value === undefined))) continue;
    if (!isMap(c)) decline('a document that is not a mapping');
    out.push(sortKeys(doc.toJS()) as KubeObject);
  }
  return out;
}

/** Throws Declined unless the object is one kustomize only parses (and namespaces). */
function checkObject(o: KubeObject): void {
  if (typeof o.apiVersion !== 'string' || !API_VERSION.test(o.apiVersion)) decline('an unusual apiVersion');
  if (typeof o.kind !== 'string' || !/^[A-Za-z][A-Za-z0-9]*$/.test(o.kind)) decline('an unusual kind');
  if (KUSTOMIZE_SPECIAL_KINDS.has(o.kind) || o.kind.endsWith('List')) decline(`kind ${o.kind}`);
  const meta = o.metadata as unknown;
  if (!meta || typeof meta !== 'object' || Array.isArray(meta)) decline('no metadata');
  if (typeof o.metadata.name !== 'string' || o.metadata.name === '') decline('no metadata.name');
  if (o.metadata.namespace !== undefined && typeof o.metadata.namespace !== 'string') decline('a metadata.namespace that is not a string');
  for (const field of ['annotations', 'labels'] as const) {
    const m = o.metadata[field] as unknown;
    if (m === undefined) continue;
    if (m === null || typeof m !== 'object' || Array.isArray(m)) decline(`metadata.${field} that is not a mapping`);
    if (field === 'annotations' && Object.keys(m).some((k) => KUSTOMIZE_ANNOTATION.test(k))) decline('kustomize annotations');
  }
}

/** The id kustomize refuses to see twice (group, kind, namespace, name). */
function idOf(o: KubeObject): string {
  return `${gvkOf(o).group}/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}

/** The resource paths of the kustomization file Flux's generator wrote, or Declined. */
function generatedResources(text: string): string[] {
  const doc = parseDocument(text);
  if (doc.errors.length || !isMap(doc.contents)) decline('an unreadable generated kustomization');
  const fields = doc.contents.items.map((p) => (isPair(p) && isScalar(p.key) ? String(p.key.value) : ''));
  if (fields.some((f) => !['apiVersion', 'kind', 'resources', 'namespace'].includes(f))) decline('kustomization fields beyond resources and namespace');
  const res = doc.contents.get('resources', true);
  if (!isSeq(res) || res.items.length === 0) decline('no resources');
  return res.items.map((it) => {
    if (!isScalar(it) || typeof it.value !== 'string') decline('an unusual resource entry');
    return it.value;
  });
}

/**
 * Builds `dir` (holding the kustomization file Flux's generator wrote, with no transformer
 * but `namespace`) as `kubectl kustomize` would, or returns undefined when kustomize must
 * run (see the module comment). `namespace` is the Kustomization's targetNamespace.
 */
export async function directBuild(dir: string, kustomizationFile: string, namespace?: string, maxInputBytes = DEFAULT_MAX_OUTPUT_BYTES): Promise<KubeObject[] | undefined> {
  return counted(async () => {
    const resources = generatedResources(await readFile(kustomizationFile, 'utf8'));
    let bytes = 0;
    const files: Uint8Array[] = [];
    for (const rel of resources) {
      const file = path.resolve(dir, rel);
      const st = await lstat(file).catch(() => undefined);
      if (!st?.isFile()) decline('a resource that is not a regular file (a directory or a symlink)');
      // Never more in memory than kustomize may print: a larger tree is kustomize's to refuse.
      bytes += st.size;
      if (bytes > maxInputBytes) decline('more input than the output limit');
      files.push(await readFile(file));
    }
    return objectsOfFiles(files, namespace);
  });
}

/**
 * directBuild of resource files already read, in the generated kustomization's order (the
 * caller has checked what directBuild checks on disk: regular files, the input limit), or
 * undefined when kustomize must run. `namespace` is the Kustomization's targetNamespace.
 */
export async function directBuildFiles(files: readonly (Uint8Array | ResourceFile)[], namespace?: string, maxInputBytes = DEFAULT_MAX_OUTPUT_BYTES): Promise<KubeObject[] | undefined> {
  return counted(async () => {
    if (files.reduce((n, f) => n + (f instanceof Uint8Array ? f : f.data).byteLength, 0) > maxInputBytes) decline('more input than the output limit');
    if (files.length === 0) decline('no resources');
    return objectsOfFiles(files, namespace);
  });
}

/**
 * A resource file of directBuildFiles with the documents its caller already parsed (by
 * kubernetesYamlCheck: `parseAllDocuments(text, { uniqueKeys: false })`, so the same
 * documents this build would parse); they are used only when `text` is exactly the file's
 * strict UTF-8 decoding.
 */
export interface ResourceFile {
  data: Uint8Array;
  parsed?: { text: string; documents: readonly Document.Parsed[] };
}

/** Runs a direct build, counting it in directBuildStats; a Declined build is undefined. */
async function counted(build: () => Promise<KubeObject[]>): Promise<KubeObject[] | undefined> {
  try {
    const objects = await build();
    directBuildStats.direct++;
    return objects;
  } catch (err) {
    if (!(err instanceof Declined)) throw err;
    directBuildStats.declined++;
    directBuildStats.reasons[err.message] = (directBuildStats.reasons[err.message] ?? 0) + 1;
    return undefined;
  }
}

/** The objects of the resource files, checked, namespaced and sorted as kustomize outputs them; throws Declined. */
function objectsOfFiles(files: readonly (Uint8Array | ResourceFile)[], namespace: string | undefined): KubeObject[] {
  const objects: KubeObject[] = [];
  for (const f of files) {
    const data = f instanceof Uint8Array ? f : f.data;
    let text: string;
    try {
      text = utf8.decode(data);
    } catch {
      decline('a file that is not UTF-8');
    }
    // The caller's documents stand only for the very text decoded here (a BOM, for one, is not in it).
    const parsed = f instanceof Uint8Array ? undefined : f.parsed;
    objects.push(...objectsOfFile(text, parsed?.text === text ? parsed.documents : undefined));
  }
  const ids = new Set<string>();
  for (let i = 0; i < objects.length; i++) {
    let o = objects[i]!;
    checkObject(o);
    const before = idOf(o);
    // What kustomize's namespace transformer does to a plain object (metadata.namespace only).
    if (namespace !== undefined && isNamespacedForKustomize(o.apiVersion, o.kind)) {
      o = objects[i] = { ...o, metadata: sortKeys({ ...o.metadata, namespace }) as KubeObject['metadata'] };
    }
    const after = idOf(o);
    // kustomize refuses repeated ids (before and after the namespace change): let it say so.
    if (ids.has(before) || ids.has(after)) decline('objects with the same id');
    ids.add(before);
    ids.add(after);
  }
  objects.sort(legacyCompare);
  return objects;
}
