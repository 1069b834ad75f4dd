/**
 * Builds the directory tree one Kustomization needs out of a cached, extracted artifact:
 * the subtree of spec.path, of spec.components, and of every directory the kustomization
 * graph references from there (resources, bases, components, generators, transformers,
 * validators), plus single files referenced from outside a kustomization's directory (so
 * kustomize reports them exactly as it would on the whole artifact). Files are hard links
 * into an extracted cache entry (copies across filesystems), or written from an artifact the
 * cache holds in memory: a fleet of N Kustomizations on one artifact reads it once and writes
 * a handful of files per Kustomization.
 *
 * The result is the artifact as far as the build can see: render/build.ts then works on it
 * unchanged (generator, containment checks, kustomize). The generator replaces the
 * kustomization file rather than writing through the link, so the cache stays pristine.
 * References are read as kustomize reads them (kustomization-file.ts: case-insensitive
 * fields, merges, aliases). References that do not exist or look remote, and kustomization
 * files that cannot be analysed, are left for the build to report: the build's own check
 * (references.ts) refuses such a file, naming it, if the build reaches it.
 */
import { mkdir } from '../util/fs-inline.js';
import path from 'node:path';
import { diskTree, type ArtifactTree, type TreeEntry } from '../artifacts/tree.js';
import { specPathRelative } from './build-path.js';
import { fsFailure } from './fs-errors.js';
import { KUSTOMIZATION_FILE_NAMES, displayPath, isWithin } from './generator.js';
import { readKustomization, type KustomizationFile } from './kustomization-file.js';
import { classifyReference } from './remote.js';

/** What materializeBuildTree linked. */
export interface MaterializeResult {
  /** Subtrees linked, relative to the artifact root ('.' for all of it). */
  dirs: string[];
  files: number;
}

/** Directory and file references of the kustomization file in `dir`, resolved. */
async function references(tree: ArtifactTree, dir: string, names: Set<string>): Promise<{ dirs: string[]; files: string[] }> {
  const out = { dirs: [] as string[], files: [] as string[] };
  const kname = KUSTOMIZATION_FILE_NAMES.find((n) => names.has(n));
  if (!kname) return out;
  let k: KustomizationFile;
  try {
    k = readKustomization(await tree.readText(path.join(dir, kname)), kname);
  } catch {
    return out; // unreadable or not analysable: the build refuses it if it gets there
  }
  const local = (v: string) => v !== '' && !v.includes('\n') && classifyReference(v).kind === 'local';
  for (const { value } of [...k.dirRefs, ...k.pluginRefs]) {
    if (!local(value)) continue;
    const target = path.resolve(dir, value);
    if (await tree.isDir(target)) out.dirs.push(target);
    else if (await tree.isFile(target)) out.files.push(target);
  }
  for (const { value } of [...k.yamlFiles, ...k.dataFiles]) {
    if (!local(value)) continue;
    const target = path.resolve(dir, value);
    if (await tree.isFile(target)) out.files.push(target);
  }
  return out;
}

/**
 * Links into `dest` what a build of `specPath` (plus `components`, relative to it) reads
 * from the artifact `from`: an extracted directory (its files are hard-linked) or an
 * ArtifactTree (an artifact held in memory: its files are written). Nothing outside the
 * artifact is ever linked.
 */
export async function materializeBuildTree(from: string | ArtifactTree, specPath: string, components: readonly string[], dest: string): Promise<MaterializeResult> {
  const tree = typeof from === 'string' ? diskTree(from) : from;
  const src = tree.root;
  await mkdir(dest, { recursive: true });
  const start = path.join(src, specPathRelative(specPath));
  // Outside the artifact or missing: link nothing; the build reports the path.
  if (!isWithin(src, start)) return { dirs: [], files: 0 };
  if (!(await tree.isDir(start))) {
    // A file: link it, so the build says "is a file" rather than "not found".
    if (!(await tree.isFile(start))) return { dirs: [], files: 0 };
    const to = path.join(dest, path.relative(src, start));
    await mkdir(path.dirname(to), { recursive: true });
    await tree.copyTo(start, to);
    return { dirs: [], files: 1 };
  }

  const subtrees: string[] = [];
  const subtreeSet = new Set<string>();
  /** The outermost subtree holding `d` (`d` itself included), found through its ancestors: O(depth), not O(subtrees). */
  const outermost = (d: string, self: boolean): string | undefined => {
    let found: string | undefined;
    for (let p = self ? d : path.dirname(d); ; p = path.dirname(p)) {
      if (subtreeSet.has(p)) found = p;
      if (p === src || p === path.dirname(p) || !isWithin(src, p)) break;
    }
    return found;
  };
  const singles = new Set<string>();
  const listed = new Map<string, { files: string[]; dirs: string[] }>(); // subtree root -> what is below it
  const queue = [start, ...components.map((c) => path.resolve(start, c.replace(/^file:\/\//, '')))];
  const queued = new Set<string>(queue);
  // An index, not shift(): a fan-out of many references would make shift() quadratic.
  for (let qi = 0; qi < queue.length; qi++) {
    const d = queue[qi]!;
    if (!isWithin(src, d) || outermost(d, true) !== undefined || !(await tree.isDir(d))) continue;
    subtrees.push(d);
    subtreeSet.add(d);
    const files: string[] = [];
    const dirs: string[] = [];
    // Walk the subtree: list its files and follow every kustomization file's references.
    const walk = async (dir: string): Promise<void> => {
      let entries: TreeEntry[];
      try {
        entries = await tree.list(dir);
      } catch (err) {
        throw fsFailure('cannot list', displayPath(src, dir), err);
      }
      const names = new Set(entries.filter((e) => e.isFile).map((e) => e.name));
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory) {
          dirs.push(p);
          await walk(p);
        } else if (e.isFile) files.push(p);
      }
      const refs = await references(tree, dir, names);
      for (const r of refs.dirs) {
        if (queued.has(r)) continue; // each directory once, however often it is referenced
        queued.add(r);
        queue.push(r);
      }
      for (const f of refs.files) if (isWithin(src, f)) singles.add(f);
    };
    await walk(d);
    listed.set(d, { files, dirs });
  }

  // Subtrees inside another subtree are linked with it.
  const roots = subtrees.filter((t) => outermost(t, false) === undefined);
  const insideOf = new Map<string, { files: string[]; dirs: string[] }[]>(roots.map((r) => [r, []]));
  for (const t of subtrees) insideOf.get(outermost(t, true)!)!.push(listed.get(t)!);
  let count = 0;
  const linkOne = async (from: string, makeParent = false): Promise<void> => {
    const to = path.join(dest, path.relative(src, from));
    if (makeParent) await mkdir(path.dirname(to), { recursive: true });
    try {
      await tree.copyTo(from, to);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return;
      throw fsFailure('cannot link', displayPath(src, from), err);
    }
    count++;
  };
  for (const r of roots) {
    const inside = insideOf.get(r)!;
    // Directories first (the empty ones too: kustomize may reference them), then the files.
    for (const dir of new Set([r, ...inside.flatMap((l) => l.dirs)])) await mkdir(path.join(dest, path.relative(src, dir)), { recursive: true });
    const files = [...new Set(inside.flatMap((l) => l.files))];
    for (let i = 0; i < files.length; i += 32) await Promise.all(files.slice(i, i + 32).map((f) => linkOne(f)));
  }
  for (const f of singles) if (outermost(f, false) === undefined) await linkOne(f, true);
  return { dirs: roots.map((r) => path.relative(src, r) || '.'), files: count };
}
