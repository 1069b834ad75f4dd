/**
 * The two glob dialects source-watcher uses:
 * - Go's `fs.Glob` (path.Match per path segment: `*` and `?` never cross `/`, `**` is just
 *   `*`), for copy sources;
 * - doublestar (`**` as a whole segment spans any number of directories, `{a,b}`
 *   alternatives, `[!x]` classes), for `exclude` patterns and `Extract` sources.
 * Matching is over paths relative to a source root, `/`-separated.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { compileGoGlob } from '../../artifacts/ignore.js';
import { ValidationError } from '../../util/errors.js';

/** True when a path has glob metacharacters (source-watcher containsGlobChars). */
export function hasGlobChars(p: string): boolean {
  return /[*?[\]]/.test(p);
}

function hasMeta(p: string): boolean {
  return /[*?[\\]/.test(p);
}

/** Go's path.Clean for a relative, `/`-separated path ('' and '.' give '.'). */
export function cleanPath(p: string): string {
  const n = path.posix.normalize(p === '' ? '.' : p);
  return n.length > 1 && n.endsWith('/') ? n.slice(0, -1) : n;
}

/** True when a cleaned relative path would leave its root. */
export function escapesRoot(p: string): boolean {
  return p === '..' || p.startsWith('../') || path.posix.isAbsolute(p);
}

async function isDir(abs: string): Promise<boolean> {
  try {
    return (await stat(abs)).isDirectory();
  } catch {
    return false;
  }
}

async function exists(abs: string): Promise<boolean> {
  try {
    await stat(abs);
    return true;
  } catch {
    return false;
  }
}

/**
 * Go's fs.Glob over the directory `root`: the matching paths (relative, `/`-separated),
 * each directory's matches sorted by name. Throws ValidationError for a malformed pattern.
 */
export async function goGlob(root: string, pattern: string): Promise<string[]> {
  for (const seg of pattern.split('/')) {
    if (hasMeta(seg) && !compileGoGlob(seg)) throw new ValidationError(`invalid glob pattern '${pattern}': syntax error in pattern`);
  }
  return globIn(root, pattern);
}

async function globIn(root: string, pattern: string): Promise<string[]> {
  if (!hasMeta(pattern)) return (await exists(path.join(root, pattern))) ? [pattern] : [];
  const slash = pattern.lastIndexOf('/');
  const rawDir = slash < 0 ? '' : pattern.slice(0, slash + 1);
  const file = slash < 0 ? pattern : pattern.slice(slash + 1);
  const dir = rawDir === '' ? '.' : rawDir.length > 1 ? rawDir.slice(0, -1) : rawDir;
  const dirs = hasMeta(dir) ? await globIn(root, dir) : [dir];
  const match = compileGoGlob(file);
  if (!match) return [];
  const out: string[] = [];
  for (const d of dirs) {
    const abs = path.join(root, d);
    if (!(await isDir(abs))) continue;
    const names = (await readdir(abs)).sort();
    for (const n of names) if (match(n)) out.push(d === '.' ? n : `${d}/${n}`);
  }
  return out;
}

/** Expands `{a,b}` alternatives (nested ones too) into plain patterns. */
function expandBraces(p: string): string[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
      if (depth === 0) {
        const body = p.slice(start + 1, i);
        const alts: string[] = [];
        let d = 0;
        let cur = '';
        for (let j = 0; j < body.length; j++) {
          const ch = body[j]!;
          if (ch === '\\') {
            cur += ch + (body[j + 1] ?? '');
            j++;
            continue;
          }
          if (ch === '{') d++;
          if (ch === '}') d--;
          if (ch === ',' && d === 0) {
            alts.push(cur);
            cur = '';
          } else cur += ch;
        }
        alts.push(cur);
        const head = p.slice(0, start);
        const tail = p.slice(i + 1);
        return alts.flatMap((a) => expandBraces(head + a + tail));
      }
    }
  }
  return [p];
}

type SegMatch = (name: string) => boolean;

/** A compiled doublestar pattern. */
export class DoublestarPattern {
  private constructor(private readonly alternatives: Array<Array<SegMatch | '**'>>) {}

  /** Compiles `pattern`; throws ValidationError when it is malformed. */
  static compile(pattern: string): DoublestarPattern {
    const alts = expandBraces(pattern).map((alt) =>
      alt.split('/').map((seg): SegMatch | '**' => {
        if (seg === '**') return '**';
        // doublestar: `**` inside a segment is `*`; `[!x]` is a negated class.
        const m = compileGoGlob(seg.replace(/\*\*+/g, '*').replace(/\[!/g, '[^'));
        if (!m) throw new ValidationError(`invalid pattern '${pattern}'`);
        return m;
      }),
    );
    return new DoublestarPattern(alts);
  }

  /** True when the relative, `/`-separated path matches. */
  matches(p: string): boolean {
    const segs = p.split('/');
    return this.alternatives.some((alt) => matchSegs(alt, 0, segs, 0));
  }
}

function matchSegs(pat: Array<SegMatch | '**'>, i: number, segs: string[], j: number): boolean {
  if (i === pat.length) return j === segs.length;
  const p = pat[i]!;
  if (p === '**') {
    for (let k = j; k <= segs.length; k++) if (matchSegs(pat, i + 1, segs, k)) return true;
    return false;
  }
  return j < segs.length && p(segs[j]!) && matchSegs(pat, i + 1, segs, j + 1);
}

/** doublestar.Glob over `root`: every path (files and directories, walk order) the pattern matches. */
export async function doublestarGlob(root: string, pattern: string): Promise<string[]> {
  const pat = DoublestarPattern.compile(pattern);
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(rel ? path.join(root, rel) : root, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (pat.matches(p)) out.push(p);
      if (e.isDirectory()) await walk(p);
    }
  };
  await walk('');
  return out;
}
