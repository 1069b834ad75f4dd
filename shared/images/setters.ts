/**
 * The `Setters` update strategy of ImageUpdateAutomation, after image-automation-controller's
 * internal/update (kyaml setters): a YAML scalar whose line comment is the JSON
 * `{"$imagepolicy": "<ns>:<policy>[:tag|:name|:digest]"}` (leading `#`s stripped; for a
 * sequence item also a one-line comment directly above it) gets the policy's latest image,
 * tag, name or digest.
 *
 * Unlike kyaml, which re-serialises every document it changed, the new value is written into
 * the original text in place: every other byte of the file (comments, key order, quoting,
 * indentation, line endings) stays as it was. The value is quoted as kyaml would quote it
 * (yaml-scalars.ts). Which files are read follows Flux's ScreeningLocalReader: under the
 * update path, `*.yaml`, `*.yml` and `Kustomization` files that contain `"$imagepolicy"`;
 * files that do not parse are skipped. Symbolic links are never followed (kyaml would read
 * and write through them, out of the checkout). Only files with a changed value are written.
 */
import { lstat, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isPair, isScalar, isSeq, parseAllDocuments, type Document, type Node, type Scalar } from 'yaml';
import { ValidationError } from '../util/errors.js';
import { formatScalar, type ScalarStyle } from './yaml-scalars.js';
import { yamlNestingProblem } from '../util/yaml-depth.js';

/** The marker's JSON key (Flux's constants.SetterShortHand). */
export const SETTER_SHORT_HAND = '$imagepolicy';
/** Files without this text (with the quotes) are not even parsed. */
const TOKEN = JSON.stringify(SETTER_SHORT_HAND);

/** An ImagePolicy's `status.latestRef`. */
export interface ImageRef {
  name: string;
  tag: string;
  digest?: string;
}

/** A policy the setters may use: `<namespace>:<name>` and its latest image. */
export interface SetterPolicy {
  namespace: string;
  name: string;
  latestRef: ImageRef;
}

/** kyaml's ResourceIdentifier of the document a change was made in. */
export interface ObjectIdentifier {
  apiVersion: string;
  kind: string;
  name: string;
  namespace: string;
}

/** One value a setter changed (Flux's update.Change). */
export interface Change {
  oldValue: string;
  newValue: string;
  /** `<ns>:<policy>[:suffix]` */
  setter: string;
}

/** The changes made to one object. */
export interface ObjectChanges {
  id: ObjectIdentifier;
  changes: Change[];
}

/** What an update did (Flux's update.Result), plus the files written. */
export interface UpdateResult {
  /** File (relative to the update path, `/`-separated) -> its changed objects, in file order. */
  fileChanges: Map<string, ObjectChanges[]>;
  /** Files rewritten, relative to the checkout root (what to commit). */
  written: string[];
  /** Files that contain the marker token but are not valid YAML (skipped, as Flux does). */
  problemFiles: string[];
}

/** `name:tag[@digest]`, as ImageRef.String(). */
export function imageRefString(r: ImageRef): string {
  return `${r.name}:${r.tag}${r.digest ? `@${r.digest}` : ''}`;
}

/** The setter names of the policies and the value each one writes. */
export function setterValues(policies: readonly SetterPolicy[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const p of policies) {
    const base = `${p.namespace}:${p.name}`;
    out.set(base, imageRefString(p.latestRef));
    out.set(`${base}:tag`, p.latestRef.tag);
    out.set(`${base}:name`, p.latestRef.name);
    out.set(`${base}:digest`, p.latestRef.digest ?? '');
  }
  return out;
}

/** The setter a comment names, when it is the `{"$imagepolicy": ...}` JSON (all values strings). */
export function setterOfComment(comment: string): string | undefined {
  const text = comment.replace(/^#+/, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const values = Object.values(parsed as Record<string, unknown>);
  if (!values.every((v) => typeof v === 'string')) return undefined;
  const name = (parsed as Record<string, string>)[SETTER_SHORT_HAND];
  return name ? name : undefined;
}

interface Edit {
  start: number;
  end: number;
  text: string;
}

/** The result of rewriting one file's text. */
export interface TextUpdate {
  text: string;
  /** Changes per document, in order; `id` is undefined for a document that is not a mapping (kyaml cannot identify it). */
  changes: Array<{ id?: ObjectIdentifier; change: Change }>;
  /** True when at least one value changed (the file must be written). */
  changed: boolean;
}

function lineEnd(text: string, from: number): number {
  const i = text.indexOf('\n', from);
  return i < 0 ? text.length : i;
}

/** The comment on the rest of the line after `pos` (`#...`, preceded by blanks), else undefined. */
function trailingComment(text: string, pos: number): string | undefined {
  const rest = text.slice(pos, lineEnd(text, pos)).replace(/\r$/, '');
  const m = /^[ \t]*(#.*)$/.exec(rest);
  if (!m) return undefined;
  // A comment needs a blank before it (an empty value may sit right before its comment).
  if (!/^[ \t]/.test(rest) && pos > 0 && text[pos - 1] !== ' ' && text[pos - 1] !== '\t') return undefined;
  return m[1].trimEnd();
}

/** The single comment line directly above the sequence item starting at `itemStart` (its `- `), if any. */
function headComment(text: string, itemStart: number): string | undefined {
  const lineStart = text.lastIndexOf('\n', itemStart - 1) + 1;
  if (!/^[ \t]*-[ \t]+$/.test(text.slice(lineStart, itemStart))) return undefined;
  if (lineStart === 0) return undefined;
  const prevStart = text.lastIndexOf('\n', lineStart - 2) + 1;
  const prev = text.slice(prevStart, lineStart - 1).replace(/\r$/, '');
  const m = /^[ \t]*(#.*)$/.exec(prev);
  if (!m) return undefined;
  if (prevStart > 0) {
    const beforeStart = text.lastIndexOf('\n', prevStart - 2) + 1;
    if (/^[ \t]*#/.test(text.slice(beforeStart, prevStart - 1))) return undefined; // a multi-line head comment is not JSON
  }
  return m[1].trimEnd();
}

function scalarStyle(s: Scalar): ScalarStyle | undefined {
  switch (s.type) {
    case 'PLAIN':
      return 'plain';
    case 'QUOTE_SINGLE':
      return 'single';
    case 'QUOTE_DOUBLE':
      return 'double';
    default:
      return undefined; // block scalars are not edited
  }
}

/** A scalar's string as go-yaml reads it: the source text of a plain scalar, the decoded value of a quoted one. */
function stringAt(doc: Document, text: string, pathIn: string[]): string {
  const v = doc.getIn(pathIn, true);
  if (!isScalar(v) || v.value === null || v.value === undefined) return '';
  if (v.type === 'PLAIN' && v.range) return text.slice(v.range[0], v.range[1]);
  return String(v.value);
}

function identify(doc: Document, text: string): ObjectIdentifier | undefined {
  if (!isMap(doc.contents)) return undefined;
  return {
    apiVersion: stringAt(doc, text, ['apiVersion']),
    kind: stringAt(doc, text, ['kind']),
    name: stringAt(doc, text, ['metadata', 'name']),
    namespace: stringAt(doc, text, ['metadata', 'namespace']),
  };
}

/**
 * Applies the setters to one file's text. Returns undefined when the text is not valid YAML
 * (the file is skipped, as Flux skips files kyaml cannot read).
 */
export function applySettersToText(text: string, setters: ReadonlyMap<string, string>): TextUpdate | undefined {
  if (yamlNestingProblem(text)) return undefined;
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  const list = Array.isArray(docs) ? docs : [docs];
  if (list.some((d) => d.errors.length > 0)) return undefined;
  const edits: Edit[] = [];
  const changes: TextUpdate['changes'] = [];
  let changed = false;

  const visitScalar = (s: Scalar, id: ObjectIdentifier | undefined, seqItem: boolean) => {
    const style = scalarStyle(s);
    const r = s.range;
    if (!style || !r) return;
    const raw = text.slice(r[0], r[1]);
    if (raw.includes('\n')) return; // multi-line scalars are left alone
    const comment = trailingComment(text, r[1]) ?? (seqItem ? headComment(text, r[0]) : undefined);
    if (!comment) return;
    const name = setterOfComment(comment);
    if (!name) return;
    const value = setters.get(name);
    if (value === undefined) return;
    const old = style === 'plain' ? raw : String(s.value ?? '');
    if (old === value) return;
    const wasNull = style === 'plain' && (raw === '' || raw === '~' || /^(null|Null|NULL)$/.test(raw));
    let out = formatScalar(value, style, wasNull);
    // An empty value right before its comment: keep a blank between the new value and the `#`.
    if (raw === '' && text[r[1]] === '#') out += ' ';
    edits.push({ start: r[0], end: r[1], text: out });
    changes.push({ id, change: { oldValue: old, newValue: value, setter: name } });
    changed = true;
  };

  const walk = (node: unknown, id: ObjectIdentifier | undefined, seqItem: boolean): void => {
    if (isScalar(node)) return visitScalar(node, id, seqItem);
    if (isMap(node)) {
      if (node.flow) return;
      for (const item of node.items) if (isPair(item)) walk(item.value, id, false);
      return;
    }
    if (isSeq(node)) {
      if (node.flow) return;
      for (const item of node.items) walk(item, id, true);
    }
  };

  for (const doc of list) walk(doc.contents as Node | null, identify(doc, text), false);
  if (!changed) return { text, changes, changed };
  edits.sort((a, b) => b.start - a.start);
  let out = text;
  for (const e of edits) out = out.slice(0, e.start) + e.text + out.slice(e.end);
  return { text: out, changes, changed };
}

function idKey(id: ObjectIdentifier): string {
  return JSON.stringify([id.apiVersion, id.kind, id.namespace, id.name]);
}

function inside(root: string, p: string): boolean {
  const rel = path.relative(root, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolves `update.path` under the checkout like securejoin: the result never leaves the
 * checkout (symbolic links resolved, `..` refused). Throws ValidationError naming the field.
 */
export async function manifestPath(checkout: string, updatePath: string | undefined): Promise<string> {
  const root = await realpath(checkout);
  if (!updatePath) return root;
  const joined = path.resolve(root, updatePath.replace(/^\/+/, ''));
  if (!inside(root, joined)) {
    throw new ValidationError(`spec.update.path '${updatePath}' points outside the repository`, { hint: 'use a path relative to the repository root, e.g. ./clusters/production' });
  }
  let real: string;
  try {
    real = await realpath(joined);
  } catch (err) {
    throw new ValidationError(`walking path for files: spec.update.path '${updatePath}' does not exist in the repository`, { cause: err, hint: 'check spec.update.path' });
  }
  if (!inside(root, real)) throw new ValidationError(`spec.update.path '${updatePath}' resolves outside the repository (through a symbolic link)`);
  return real;
}

async function candidateFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name === '.git') continue;
      out.push(...(await candidateFiles(p)));
    } else if (e.isFile()) {
      const ext = path.extname(e.name);
      if (ext === '.yaml' || ext === '.yml' || e.name === 'Kustomization') out.push(p);
    }
  }
  return out;
}

/**
 * Applies the setters of `policies` to the files under `updatePath` of the checkout at
 * `checkout`, writing back only the files that changed. Returns the changes (Flux's Result)
 * and the files written.
 */
export async function applySetters(checkout: string, updatePath: string | undefined, policies: readonly SetterPolicy[]): Promise<UpdateResult> {
  const root = await realpath(checkout);
  const base = await manifestPath(checkout, updatePath);
  const info = await lstat(base);
  const relBase = info.isDirectory() ? base : path.dirname(base);
  const files = info.isDirectory() ? await candidateFiles(base) : [base];
  const setters = setterValues(policies);
  const result: UpdateResult = { fileChanges: new Map(), written: [], problemFiles: [] };
  for (const file of files) {
    const bytes = await readFile(file);
    if (!bytes.includes(TOKEN)) continue;
    const rel = path.relative(relBase, file).split(path.sep).join('/');
    const upd = applySettersToText(bytes.toString('utf8'), setters);
    if (!upd) {
      result.problemFiles.push(rel);
      continue;
    }
    if (!upd.changed) continue;
    await writeFile(file, upd.text);
    result.written.push(path.relative(root, file).split(path.sep).join('/'));
    const objects = new Map<string, ObjectChanges>();
    for (const { id, change } of upd.changes) {
      if (!id) continue; // kyaml cannot read the metadata of a non-mapping document: no change is recorded
      const k = idKey(id);
      let o = objects.get(k);
      if (!o) objects.set(k, (o = { id, changes: [] }));
      o.changes.push(change);
    }
    if (objects.size) result.fileChanges.set(rel, [...objects.values()]);
  }
  return result;
}

/** Every change across files, deduplicated (Flux's Result.Changes()). */
export function allChanges(fileChanges: ReadonlyMap<string, ObjectChanges[]>): Change[] {
  const seen = new Set<string>();
  const out: Change[] = [];
  for (const objs of fileChanges.values()) {
    for (const o of objs) {
      for (const c of o.changes) {
        const k = JSON.stringify([c.oldValue, c.newValue, c.setter]);
        if (seen.has(k)) continue;
        seen.add(k);
        out.push(c);
      }
    }
  }
  return out;
}

/** Changes per object across files (Flux's Result.Objects()). */
export function objectChanges(fileChanges: ReadonlyMap<string, ObjectChanges[]>): ObjectChanges[] {
  const out = new Map<string, ObjectChanges>();
  for (const objs of fileChanges.values()) {
    for (const o of objs) {
      const k = idKey(o.id);
      const cur = out.get(k);
      if (cur) cur.changes.push(...o.changes);
      else out.set(k, { id: o.id, changes: [...o.changes] });
    }
  }
  return [...out.values()];
}
