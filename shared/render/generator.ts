/**
 * Flux's kustomization generator (fluxcd/pkg kustomize/kustomize_generator.go), reimplemented.
 *
 * 1. When the build directory has no kustomization file, one is generated listing every
 *    `*.yaml|*.yml` below it (recursively, in Go `filepath.Walk` order: depth first, names
 *    sorted bytewise). A subdirectory holding its own kustomization file becomes one resource
 *    and is not descended into. Every listed file must parse as Kubernetes YAML (each
 *    non-empty document a mapping with apiVersion and kind); empty documents are skipped.
 *    An empty directory gets a placeholder `namespace: _placeholder` (Flux does the same) so
 *    kustomize does not reject it as an empty kustomization.
 * 2. The Kustomization's spec is merged into the (existing or generated) file:
 *    targetNamespace -> namespace, namePrefix, nameSuffix (each overrides when set),
 *    patches appended, components appended (must be local relative paths), images merged by
 *    name (a same-named entry is replaced whole). An existing file with no resources gets
 *    `buildMetadata: [originAnnotations]`, as Flux does, so kustomize builds it.
 *    The merged file is written back under the name it was found with (the generated one is
 *    `kustomization.yaml`), so kustomize never sees two kustomization files.
 *
 * Unlike Flux (which re-marshals the file through kustomize's Go type) the existing file is
 * edited in place with the `yaml` Document API: fields Flux does not touch keep their exact
 * text, which is what kustomize would have read anyway.
 */
import { lstat, readdir, readFile, realpath, rm, stat, writeFile } from '../util/fs-inline.js';
import path from 'node:path';
import { isMap, isScalar, isSeq, parseAllDocuments, parseDocument, Scalar, visit } from 'yaml';
import type { Document, YAMLMap, YAMLSeq } from 'yaml';
import { EnvironmentError, ValidationError } from '../util/errors.js';
import { describeFsError, fsFailure } from './fs-errors.js';
import { noteFileAliasVerdict } from './yaml-scan.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';
import type { KustomizeImage, KustomizePatch, PatchSelector, RenderSpec } from './types.js';

/** kustomize's konfig.RecognizedKustomizationFileNames(), in its order of precedence. */
export const KUSTOMIZATION_FILE_NAMES = ['kustomization.yaml', 'kustomization.yml', 'Kustomization'] as const;
/** kustomize's konfig.DefaultKustomizationFileName(). */
export const DEFAULT_KUSTOMIZATION_FILE = 'kustomization.yaml';

/** Top-level fields of kustomize's types.Kustomization (kustomize v5.7). */
const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'metadata', 'openapi', 'namePrefix', 'nameSuffix', 'namespace', 'commonLabels', 'labels',
  'commonAnnotations', 'patchesStrategicMerge', 'patchesJson6902', 'patches', 'images', 'imageTags', 'replacements',
  'replicas', 'vars', 'sortOptions', 'resources', 'components', 'crds', 'bases', 'configMapGenerator', 'secretGenerator',
  'helmGlobals', 'helmCharts', 'helmChartInflationGenerator', 'generatorOptions', 'configurations', 'generators',
  'transformers', 'validators', 'inventory', 'buildMetadata',
]);

/** Whether prepareKustomization generated the kustomization file or merged into an existing one. */
export type GenerateAction = 'created' | 'unchanged';

/** The kustomization file prepareKustomization wrote. */
export interface PrepareResult {
  /** Absolute path of the kustomization file that was written. */
  file: string;
  /** 'created' when Fluxless generated the file, 'unchanged' when one existed (and was merged into). */
  action: GenerateAction;
}

/** Whether `child` is `parent` or below it (both absolute, normalised). */
export function isWithin(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + path.sep) && !path.isAbsolute(rel));
}

/** Path of `p` relative to `root` for messages (`.` for the root itself). */
export function displayPath(root: string, p: string): string {
  const rel = path.relative(root, p);
  return rel === '' ? '.' : rel.split(path.sep).join('/');
}

/** The first recognised kustomization file (a non-directory) in `dir`, if any. */
export async function findKustomizationFile(dir: string): Promise<string | undefined> {
  for (const name of KUSTOMIZATION_FILE_NAMES) {
    const p = path.join(dir, name);
    try {
      if (!(await stat(p)).isDirectory()) return p;
    } catch {
      // absent (or a dangling symlink): not a kustomization file
    }
  }
  return undefined;
}

/**
 * Throws when `file` (a kustomization file) resolves, through symlinks, outside `root`:
 * Fluxless must neither read nor (when merging) write anything outside the artifact.
 */
export async function assertInside(root: string, file: string): Promise<void> {
  let real: string;
  try {
    real = await realpath(file);
  } catch (err) {
    throw new ValidationError(`cannot read ${displayPath(root, file)}: ${describeFsError(err)}`, { cause: err });
  }
  if (!isWithin(root, real)) {
    throw new ValidationError(`${displayPath(root, file)} is a symlink pointing outside the source artifact`);
  }
}

/** Compares names by their UTF-8 bytes (Go's string order, as Flux's generator lists files). */
export function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * Checks that `content` is Kubernetes YAML: every non-empty document a mapping with
 * apiVersion and kind (items of a `*List` too). Returns a problem description, or undefined.
 */
export function kubernetesYamlProblem(content: string): string | undefined {
  return kubernetesYamlCheck(content).problem;
}

/**
 * What kubernetesYamlCheck found: the problem, or (none found) the documents it parsed, as
 * `parseAllDocuments(content, { uniqueKeys: false })` returns them, unchanged; no documents
 * for a stream of only comments.
 */
export interface KubernetesYamlCheck {
  problem?: string;
  documents?: readonly Document.Parsed[];
}

/** kubernetesYamlProblem, also giving the parsed documents, so a caller that builds from them parses the file once. */
export function kubernetesYamlCheck(content: string): KubernetesYamlCheck {
  // The yaml package's own duplicate-key check is quadratic in the size of a mapping; parse
  // without it and check duplicates in linear time (duplicateKeyProblem), with its message.
  const deep = yamlNestingProblem(content);
  if (deep) return { problem: deep };
  const docs = parseAllDocuments(content, { uniqueKeys: false });
  if (!Array.isArray(docs)) return {}; // only comments / empty stream
  for (let i = 0; i < docs.length; i++) {
    const doc = docs[i];
    const where = docs.length > 1 ? `document ${i + 1}: ` : '';
    if (doc.errors.length) return { problem: `${where}${doc.errors[0].message.split('\n')[0]}` };
    const duplicate = duplicateKeyProblem(doc, content);
    if (duplicate) return { problem: `${where}${duplicate}` };
    const c = doc.contents;
    if (c === null || (isScalar(c) && (c.value === null || c.value === undefined))) continue; // empty doc
    if (!isMap(c)) return { problem: `${where}not a mapping (a Kubernetes object needs apiVersion, kind and metadata)` };
    const problem = objectProblem(c);
    if (problem) return { problem: `${where}${problem}` };
    const kind: unknown = c.get('kind');
    const items: unknown = c.get('items');
    if (typeof kind === 'string' && kind.endsWith('List') && isSeq(items)) {
      for (let j = 0; j < items.items.length; j++) {
        const it = items.items[j];
        const p = isMap(it) ? objectProblem(it) : 'not a mapping';
        if (p) return { problem: `${where}items[${j}]: ${p}` };
      }
    }
  }
  return { documents: docs };
}

/** The yaml package's "Map keys must be unique" error for the first repeated scalar key, found in linear time. */
function duplicateKeyProblem(doc: Document, content: string): string | undefined {
  let problem: string | undefined;
  visit(doc, {
    Map(_key, map) {
      const seen = new Set<unknown>();
      for (const pair of map.items) {
        const k = pair.key;
        if (!isScalar(k)) continue;
        const id = k.value;
        if (seen.has(id)) {
          const offset = k.range?.[0] ?? 0;
          const before = content.slice(0, offset);
          const line = before.split('\n').length;
          const column = offset - before.lastIndexOf('\n');
          problem = `Map keys must be unique at line ${line}, column ${column}:`;
          return visit.BREAK;
        }
        seen.add(id);
      }
      return undefined;
    },
  });
  return problem;
}

function objectProblem(m: YAMLMap): string | undefined {
  const missing = ['apiVersion', 'kind'].filter((k) => {
    const v = m.get(k);
    return typeof v !== 'string' || v === '';
  });
  return missing.length ? `missing ${missing.join(' and ')}` : undefined;
}

/**
 * Lists the resources Flux would put into a generated kustomization for `dir` (paths
 * relative to `dir`, `./`-prefixed), validating each YAML file. Symlinks are not followed
 * into directories (as Go's filepath.Walk); a symlinked YAML file must resolve inside `root`.
 */
export async function scanResources(root: string, dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (current: string): Promise<void> => {
    let names: string[];
    try {
      names = (await readdir(current)).sort(byteOrder);
    } catch (err) {
      throw fsFailure('cannot list', displayPath(root, current), err);
    }
    for (const name of names) {
      const p = path.join(current, name);
      let st: Awaited<ReturnType<typeof lstat>>;
      try {
        st = await lstat(p);
      } catch (err) {
        throw fsFailure('cannot read', displayPath(root, p), err);
      }
      if (st.isDirectory()) {
        if (await findKustomizationFile(p)) {
          out.push('./' + displayPath(dir, p));
          continue;
        }
        await walk(p);
        continue;
      }
      const ext = path.extname(name);
      if (ext !== '.yaml' && ext !== '.yml') continue;
      let content: string;
      try {
        if (st.isSymbolicLink()) {
          const real = await realpath(p);
          if (!isWithin(root, real)) {
            throw new ValidationError(
              `${displayPath(root, p)} is a symlink pointing outside the source artifact; Fluxless does not read files outside the artifact`,
            );
          }
        }
        content = await readFile(p, 'utf8');
        // The pre-scan of references.ts will want this file's alias verdict: give it now.
        if (!st.isSymbolicLink()) noteFileAliasVerdict(st, content);
      } catch (err) {
        if (err instanceof ValidationError) throw err;
        throw new ValidationError(`failed to read ${displayPath(root, p)}: ${describeFsError(err)}`, { cause: err });
      }
      const problem = kubernetesYamlProblem(content);
      if (problem) {
        throw new ValidationError(`failed to decode Kubernetes YAML from ${displayPath(root, p)}: ${problem}`, {
          hint: 'every .yaml/.yml file under spec.path must be a Kubernetes manifest; move other YAML files elsewhere or add a kustomization.yaml that lists the manifests',
        });
      }
      out.push('./' + displayPath(dir, p));
    }
  };
  await walk(dir);
  return out;
}

function str(value: string): Scalar {
  const s = new Scalar(value);
  // Multi-line values (inline patches) read best as block literals; everything else is
  // quoted so kustomize's YAML 1.1 reader never turns "on", "0755" or "yes" into non-strings.
  s.type = value.includes('\n') ? 'BLOCK_LITERAL' : 'QUOTE_DOUBLE';
  return s;
}

function selectorNode(doc: Document, t: PatchSelector): YAMLMap {
  const m = doc.createNode({}) as YAMLMap;
  for (const k of ['group', 'version', 'kind', 'name', 'namespace', 'labelSelector', 'annotationSelector'] as const) {
    const v = t[k];
    if (v) m.set(k, str(v));
  }
  return m;
}

function patchNode(doc: Document, p: KustomizePatch): YAMLMap {
  const m = doc.createNode({}) as YAMLMap;
  m.set('patch', str(p.patch ?? ''));
  if (p.target) m.set('target', selectorNode(doc, p.target));
  return m;
}

function imageNode(doc: Document, img: KustomizeImage): YAMLMap {
  const m = doc.createNode({}) as YAMLMap;
  m.set('name', str(img.name));
  if (img.newName) m.set('newName', str(img.newName));
  if (img.newTag) m.set('newTag', str(img.newTag));
  if (img.digest) m.set('digest', str(img.digest));
  return m;
}

/** The sequence at `key`, created when absent. Errors when the field is not a list. */
function seqAt(doc: Document, map: YAMLMap, key: string, file: string): YAMLSeq {
  const cur = map.get(key, true);
  if (cur === undefined || cur === null || (isScalar(cur) && cur.value === null)) {
    const seq = doc.createNode([]) as YAMLSeq;
    map.set(key, seq);
    return seq;
  }
  if (!isSeq(cur)) throw new ValidationError(`${file}: field ${key} must be a list`);
  return cur;
}

/**
 * Flux's `IsLocalRelativePath`: true for paths like `foo`, `./foo`, `file://foo`; false for
 * absolute paths and anything that looks like a remote (URL, git, host-prefixed) reference.
 */
export function isLocalRelativePath(p: string): boolean {
  let s = p;
  if (s.startsWith('file://')) s = s.slice('file://'.length);
  if (s === '' || path.isAbsolute(s) || s.startsWith('/')) return false;
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(s)) return false; // https:, ssh:, gh:, git::, C:...
  if (s.startsWith('git@')) return false;
  const first = s.split('/')[0];
  if (s.includes('/') && first.includes('.') && first !== '.' && first !== '..') return false; // github.com/org/repo
  return true;
}

/**
 * Ensures `dir` has a kustomization file (generating one if needed) and merges the spec
 * fields into it. `root` is the artifact root (symlink-resolved); `dir` lies within it.
 */
export async function prepareKustomization(root: string, dir: string, spec: RenderSpec): Promise<PrepareResult> {
  let file = await findKustomizationFile(dir);
  let action: GenerateAction = 'unchanged';
  let text: string;
  if (file) {
    await assertInside(root, file);
    text = await readFile(file, 'utf8');
  } else {
    action = 'created';
    file = path.join(dir, DEFAULT_KUSTOMIZATION_FILE);
    const resources = await scanResources(root, dir);
    const gen: Record<string, unknown> = { apiVersion: 'kustomize.config.k8s.io/v1beta1', kind: 'Kustomization' };
    if (resources.length) gen.resources = resources;
    else gen.namespace = '_placeholder';
    const d: Document = parseDocument('{}', { version: '1.1' });
    d.contents = d.createNode(gen) as YAMLMap;
    text = d.toString();
  }
  const shown = displayPath(root, file);

  const deep = yamlNestingProblem(text);
  if (deep) throw new ValidationError(`failed to parse ${shown}: ${deep}`);
  const doc: Document = parseDocument(text, { version: '1.1', intAsBigInt: true, uniqueKeys: false });
  if (doc.errors.length) {
    throw new ValidationError(`failed to parse ${shown}: ${doc.errors[0].message}`, { cause: doc.errors[0] });
  }
  if (doc.contents === null || (isScalar(doc.contents) && doc.contents.value === null)) {
    doc.contents = doc.createNode({}) as YAMLMap;
  }
  if (!isMap(doc.contents)) throw new ValidationError(`${shown} must be a YAML mapping (a kustomize Kustomization)`);
  const kus = doc.contents;

  if (action === 'unchanged') {
    // Flux round-trips the file through kustomize's Go type, which silently drops unknown
    // top-level fields (kustomize itself would reject them). Do the same.
    for (const pair of [...kus.items]) {
      const key: unknown = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== 'string' || !KUSTOMIZATION_FIELDS.has(key)) kus.items.splice(kus.items.indexOf(pair), 1);
    }
    const res = kus.get('resources', true);
    const empty = res === undefined || res === null || (isScalar(res) && res.value === null) || (isSeq(res) && res.items.length === 0);
    if (empty) kus.set('buildMetadata', doc.createNode(['originAnnotations']));
  }

  if (spec.targetNamespace) kus.set('namespace', str(spec.targetNamespace));
  if (spec.namePrefix) kus.set('namePrefix', str(spec.namePrefix));
  if (spec.nameSuffix) kus.set('nameSuffix', str(spec.nameSuffix));

  if (spec.patches?.length) {
    const seq = seqAt(doc, kus, 'patches', shown);
    for (const p of spec.patches) seq.add(patchNode(doc, p));
  }

  if (spec.components?.length) {
    const add: string[] = [];
    for (const c of spec.components) {
      if (!isLocalRelativePath(c)) {
        throw new ValidationError(`spec.components: component path '${c}' must be local and relative to spec.path`);
      }
      if (spec.ignoreMissingComponents && !(await exists(path.join(dir, c.replace(/^file:\/\//, ''))))) continue;
      add.push(c);
    }
    if (add.length) {
      const seq = seqAt(doc, kus, 'components', shown);
      for (const c of add) seq.add(str(c));
    }
  }

  if (spec.images?.length) {
    const seq = seqAt(doc, kus, 'images', shown);
    for (const img of spec.images) {
      const node = imageNode(doc, img);
      const idx = seq.items.findIndex((it) => isMap(it) && it.get('name') === img.name);
      if (idx >= 0) seq.items[idx] = node;
      else seq.add(node);
    }
  }

  try {
    // Replace, never write through: the file may be a hard link into the artifact cache.
    await rm(file, { force: true });
    await writeFile(file, doc.toString({ lineWidth: 0 }), { flag: 'wx' });
  } catch (err) {
    throw new EnvironmentError(`cannot write ${shown}: ${describeFsError(err)}`, { cause: err });
  }
  return { file, action };
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}
