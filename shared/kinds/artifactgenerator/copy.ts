/**
 * An ArtifactGenerator output's copy operations, with source-watcher's cp-like semantics
 * (internal/builder/builder.go), applied in order into a staging directory (later
 * operations overwrite earlier ones):
 * - a plain path: a file goes to `to` (or into it when `to` ends with `/` or is a
 *   directory already); a directory is copied as a subdirectory `to/<dir name>`;
 * - a glob (Go fs.Glob, one level per segment): each match keeps its path under `to`,
 *   except `<dir>/**`, whose matches are copied relative to `<dir>`; no match is an error;
 * - `exclude` (doublestar) patterns are matched against the path from the source root and
 *   from the glob's literal prefix; a pattern without `/` matches a base name at any depth;
 * - `Merge`: a YAML file that exists in the staging directory is deep-merged (maps merge,
 *   lists are replaced); `Extract`: `.tar.gz`/`.tgz` files are unpacked into `to`.
 * Nothing is read outside a source root or written outside the staging directory.
 */
import type { Stats } from 'node:fs';
import { chmod, copyFile, cp, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { extractArtifact } from '../../artifacts/extract.js';
import { ValidationError, errorMessage } from '../../util/errors.js';
import { DoublestarPattern, cleanPath, doublestarGlob, escapesRoot, goGlob, hasGlobChars } from './glob.js';
import { mergeYamlFiles } from './merge.js';
import type { CopyOperation } from './spec.js';

/** Thrown for a copy operation that cannot be done; the message names the operation. */
export class CopyError extends ValidationError {}

interface Op {
  op: CopyOperation;
  srcRoot: string;
  staging: string;
  excludes: DoublestarPattern[];
  /** The excludes as written, for the base-name rule. */
  excludeText: string[];
}

/** Runs the copy operations of one output into `staging`; `sources` maps alias -> extracted root. */
export async function applyCopyOperations(ops: readonly CopyOperation[], sources: ReadonlyMap<string, string>, staging: string): Promise<void> {
  for (const op of ops) {
    try {
      await applyOne(op, sources, staging);
    } catch (err) {
      throw new CopyError(`failed to apply copy operation from '${op.from}' to '${op.to}': ${errorMessage(err)}`, { cause: err });
    }
  }
}

function parseFrom(from: string): { alias: string; pattern: string } {
  const i = from.indexOf('/');
  if (!from.startsWith('@') || i < 0) throw new Error("source format must be '@alias/pattern'");
  return { alias: from.slice(1, i), pattern: from.slice(i + 1) };
}

async function applyOne(op: CopyOperation, sources: ReadonlyMap<string, string>, staging: string): Promise<void> {
  const { alias, pattern } = parseFrom(op.from);
  if (!op.to.startsWith('@artifact/')) throw new Error("destination must start with '@artifact/'");
  const dest = cleanPath(op.to.slice('@artifact/'.length));
  if (escapesRoot(dest)) throw new Error(`destination '${op.to}' leaves the artifact`);
  const srcRoot = sources.get(alias);
  if (!srcRoot) throw new Error(`source alias '${alias}' not found`);
  const excludes = op.exclude.map((e) => {
    try {
      return DoublestarPattern.compile(e);
    } catch {
      throw new Error(`invalid exclude pattern '${e}'`);
    }
  });
  const ctx: Op = { op, srcRoot, staging, excludes, excludeText: op.exclude };
  const destSlash = op.to.endsWith('/');

  if (!hasGlobChars(pattern)) return singleSource(ctx, cleanPath(pattern), dest, destSlash);

  if (pattern.split('/').some((s) => s === '..')) throw new Error(`pattern '${pattern}' leaves the source`);
  let matches: string[];
  try {
    matches = op.strategy === 'Extract' ? await doublestarGlob(srcRoot, pattern) : await goGlob(srcRoot, pattern);
  } catch (err) {
    throw new Error(`invalid glob pattern '${pattern}': ${errorMessage(err)}`);
  }
  if (!matches.length) throw new Error(`no files match pattern '${pattern}' in source '${alias}'`);
  const base = selectionRoot(pattern);
  const kept = matches.filter((m) => m !== '.' && m !== '..' && !excluded(ctx, m, base));
  if (!kept.length) throw new Error(`all files matching pattern '${pattern}' in source '${alias}' were excluded`);
  for (const m of kept) {
    if (op.strategy === 'Extract') {
      if (!isTarball(m)) continue;
      await extract(ctx, m, dest);
      continue;
    }
    await copyPath(ctx, m, globDestination(pattern, m, dest), base);
  }
}

/** The literal prefix of a pattern before its first glob segment ('.' when it starts with one). */
function selectionRoot(pattern: string): string {
  const parts: string[] = [];
  for (const p of cleanPath(pattern).split('/')) {
    if (hasGlobChars(p)) break;
    parts.push(p);
  }
  return parts.length ? parts.join('/') : '.';
}

/** `dir/**` matches go relative to `dir`; any other glob keeps the matched path. */
function globDestination(pattern: string, match: string, dest: string): string {
  if (pattern.endsWith('/**')) {
    const prefix = pattern.slice(0, -3);
    if (match.startsWith(`${prefix}/`)) return cleanPath(path.posix.join(dest, match.slice(prefix.length + 1)));
  }
  return cleanPath(path.posix.join(dest, match));
}

function matchesAny(ctx: Op, p: string): boolean {
  const baseName = path.posix.basename(p);
  return ctx.excludes.some((e, i) => e.matches(p) || (!ctx.excludeText[i]!.includes('/') && e.matches(baseName)));
}

/** source-watcher shouldExcludePath: against the path from the alias root, then from `base`. */
function excluded(ctx: Op, p: string, base: string): boolean {
  if (!ctx.excludes.length) return false;
  if (matchesAny(ctx, p)) return true;
  const b = cleanPath(base);
  if (b === '.') return false;
  const rel = path.posix.relative(b, cleanPath(p));
  if (!rel || rel === '.' || escapesRoot(rel) || rel === p) return false;
  return matchesAny(ctx, rel);
}

async function statOf(abs: string): Promise<Stats | undefined> {
  try {
    return await stat(abs);
  } catch {
    return undefined;
  }
}

/** A plain (non-glob) source: a file or a directory, cp-like. */
async function singleSource(ctx: Op, src: string, dest: string, destSlash: boolean): Promise<void> {
  if (escapesRoot(src)) throw new Error(`source '${src}' leaves the source root`);
  const info = await statOf(path.join(ctx.srcRoot, src));
  if (!info) throw new Error(`source '${src}' does not exist`);
  if (info.isDirectory()) {
    if (ctx.op.strategy === 'Extract') throw new Error(`extract strategy is not supported for directories, got '${src}'`);
    const target = cleanPath(path.posix.join(dest, path.posix.basename(src)));
    return copyPath(ctx, src, target, src);
  }
  if (excluded(ctx, src, '.')) return;
  if (ctx.op.strategy === 'Extract') {
    if (!isTarball(src)) throw new Error(`extract strategy requires tarball file (.tar.gz or .tgz), got '${src}'`);
    return extract(ctx, src, dest);
  }
  let target = dest;
  if (destSlash || (await statOf(path.join(ctx.staging, dest)))?.isDirectory()) target = cleanPath(path.posix.join(dest, path.posix.basename(src)));
  return copyPath(ctx, src, target, '.');
}

/** Copies a file (merging when asked) or a directory tree (excluding what matches). */
async function copyPath(ctx: Op, src: string, dest: string, excludeBase: string): Promise<void> {
  if (escapesRoot(dest)) throw new Error(`destination '${dest}' leaves the artifact`);
  const abs = path.join(ctx.srcRoot, src);
  const info = await statOf(abs);
  if (!info) throw new Error(`source '${src}' does not exist`);
  if (info.isDirectory()) return copyTree(ctx, src, dest, excludeBase);
  if (!info.isFile()) return;
  const out = path.join(ctx.staging, dest);
  if (ctx.op.strategy === 'Merge' && (await statOf(out))?.isFile()) {
    await writeFile(out, await mergeYamlFiles(await readFile(out, 'utf8'), await readFile(abs, 'utf8'), dest));
    return;
  }
  await writeCopy(abs, out, info.mode);
}

async function writeCopy(abs: string, out: string, mode: number): Promise<void> {
  await mkdir(path.dirname(out), { recursive: true });
  await copyFile(abs, out);
  // Keep the execute bit (the archive normalises modes to 0600/0700).
  if (mode & 0o111) await chmod(out, 0o755);
}

async function copyTree(ctx: Op, src: string, dest: string, excludeBase: string): Promise<void> {
  await mkdir(path.join(ctx.staging, dest), { recursive: true });
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(path.join(ctx.srcRoot, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = rel === '.' ? e.name : `${rel}/${e.name}`;
      if (excluded(ctx, p, excludeBase)) continue;
      const target = path.join(ctx.staging, dest, path.posix.relative(src, p));
      if (e.isDirectory()) {
        await mkdir(target, { recursive: true });
        await walk(p);
      } else if (e.isFile()) {
        await writeCopy(path.join(ctx.srcRoot, p), target, (await stat(path.join(ctx.srcRoot, p))).mode);
      }
    }
  };
  await walk(src);
}

function isTarball(p: string): boolean {
  const l = p.toLowerCase();
  return l.endsWith('.tar.gz') || l.endsWith('.tgz');
}

let extractSeq = 0;

/** Unpacks a tarball (safely: no links, no paths out) into `dest`, over what is there. */
async function extract(ctx: Op, src: string, dest: string): Promise<void> {
  const out = path.join(ctx.staging, dest);
  const tmp = `${ctx.staging}.extract-${process.pid}-${++extractSeq}`;
  await mkdir(out, { recursive: true });
  try {
    await extractArtifact(await readFile(path.join(ctx.srcRoot, src)), tmp);
    await cp(tmp, out, { recursive: true, force: true });
  } catch (err) {
    throw new Error(`failed to extract tarball '${src}' to '${dest}': ${errorMessage(err)}`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}
