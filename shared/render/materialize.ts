/**
 * Builds the directory tree one Kustomization needs out of a cached, extracted artifact:
 * the subtree of spec.path, of spec.components, and of every directory the kustomization
 * graph references from there (resources, bases, components, generators, transformers,
 * validators), plus single files referenced from outside a kustomization's directory (so
 * kustomize reports them exactly as it would on the whole artifact). Files are hard links
 * into the cache (copies across filesystems): a fleet of N Kustomizations on one artifact
 * extracts it once and links a handful of files per Kustomization.
 *
 * The result is the artifact as far as the build can see: render/build.ts then works on it
 * unchanged (generator, containment checks, kustomize). The generator replaces the
 * kustomization file rather than writing through the link, so the cache stays pristine.
 * References are read as kustomize reads them (kustomization-file.ts: case-insensitive
 * fields, merges, aliases). References that do not exist or look remote, and kustomization
 * files that cannot be analysed, are left for the build to report: the build's own check
 * (references.ts) refuses such a file, naming it, if the build reaches it.
 */
import type { Dirent } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, stat } from '../util/fs-inline.js';
import path from 'node:path';
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

async function isDir(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isDirectory(), () => false);
}

async function isFile(p: string): Promise<boolean> {
  return stat(p).then((s) => s.isFile(), () => false);
}

/** Directory and file references of the kustomization file in `dir`, resolved. */
async function references(dir: string, names: Set<string>): Promise<{ dirs: string[]; files: string[] }> {
  const out = { dirs: [] as string[], files: [] as string[] };
  const kname = KUSTOMIZATION_FILE_NAMES.find((n) => names.has(n));
  if (!kname) return out;
  let k: KustomizationFile;
  try {
    k = readKustomization(await readFile(path.join(dir, kname), 'utf8'), kname);
  } catch {
    return out; // unreadable or not analysable: the build refuses it if it gets there
  }
  const local = (v: string) => v !== '' && !v.includes('\n') && classifyReference(v).kind === 'local';
  for (const { value } of [...k.dirRefs, ...k.pluginRefs]) {
    if (!local(value)) continue;
    const target = path.resolve(dir, value);
    if (await isDir(target)) out.dirs.push(target);
    else if (await isFile(target)) out.files.push(target);
  }
  for (const { value } of [...k.yamlFiles, ...k.dataFiles]) {
    if (!local(value)) continue;
    const target = path.resolve(dir, value);
    if (await isFile(target)) out.files.push(target);
  }
  return out;
}

/**
 * Links into `dest` what a build of `specPath` (plus `components`, relative to it) reads
 * from the extracted artifact at `src`. Nothing outside `src` is ever linked.
 */
export async function materializeBuildTree(src: string, specPath: string, components: readonly string[], dest: string): Promise<MaterializeResult> {
  await mkdir(dest, { recursive: true });
  const rel = path.posix.normalize((specPath ?? '').replace(/\\/g, '/').replace(/^\/+/, '') || '.');
  const start = path.join(src, rel);
  // Outside the artifact or missing: link nothing; the build reports the path.
  if (!isWithin(src, start)) return { dirs: [], files: 0 };
  if (!(await isDir(start))) {
    // A file: link it, so the build says "is a file" rather than "not found".
    if (!(await isFile(start))) return { dirs: [], files: 0 };
    const to = path.join(dest, path.relative(src, start));
    await mkdir(path.dirname(to), { recursive: true });
    await link(start, to).catch(() => copyFile(start, to));
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
    if (!isWithin(src, d) || outermost(d, true) !== undefined || !(await isDir(d))) continue;
    subtrees.push(d);
    subtreeSet.add(d);
    const files: string[] = [];
    const dirs: string[] = [];
    // Walk the subtree: list its files and follow every kustomization file's references.
    const walk = async (dir: string): Promise<void> => {
      let entries: Dirent[];
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        throw fsFailure('cannot list', displayPath(src, dir), err);
      }
      const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
      for (const e of entries) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          dirs.push(p);
          await walk(p);
        } else if (e.isFile()) files.push(p);
      }
      const refs = await references(dir, names);
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
      await link(from, to);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return;
      if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw fsFailure('cannot link', displayPath(src, from), err);
      try {
        await copyFile(from, to);
      } catch (e) {
        throw fsFailure('cannot copy', displayPath(src, from), e);
      }
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
