import { trimEnd } from '../util/trim.js';
/**
 * Ignore rules for artifacts, with Flux's semantics (fluxcd/pkg `sourceignore`, whose matcher
 * comes from go-git's gitignore package). This is deliberately not git's own algorithm (nor
 * the `ignore` npm package, which follows git): Flux differs in ways users rely on:
 *
 * - The last matching pattern wins, for every path on its own. A negation can re-include a
 *   file under an excluded directory (`vendor/` then `!vendor/keep.yaml` keeps the file).
 * - `dir/**` matches `dir` itself too; `**` inside a segment (`a**`) never matches.
 * - Segments are matched with Go's filepath.Match: `*`, `?`, `[a-z]`, `[^a-z]` (`^` negates,
 *   `!` does not), `\` escapes; a malformed pattern never matches.
 * - A pattern without `/` matches any path component (`*.yaml` also drops everything inside a
 *   directory called `x.yaml`); a pattern with `/` is anchored at its file's directory.
 * - Patterns from a `.sourceignore` apply only below that file's directory ("domain").
 * - Lines starting with `#` and blank lines are skipped; trailing spaces are trimmed unless
 *   escaped as `\ `; a trailing `/` limits the pattern to directories.
 */

/** How one ignore pattern judges a path: no match, excluded, or re-included by a negation. */
export type MatchResult = 'none' | 'exclude' | 'include';

/** `.git/,.gitignore,.gitmodules,.gitattributes`: always excluded. */
export const EXCLUDE_VCS = ['.git/', '.gitignore', '.gitmodules', '.gitattributes'];
/** Excluded only when the user gave no patterns at all (no .sourceignore, no spec.ignore). */
export const EXCLUDE_DEFAULTS = [
  ...'*.jpg,*.jpeg,*.gif,*.png,*.wmv,*.flv,*.tar.gz,*.zip'.split(','),
  ...'.github/,.circleci/,.travis.yml,.gitlab-ci.yml,appveyor.yml,.drone.yml,cloudbuild.yaml,codeship-services.yml,codeship-steps.yml'.split(','),
  ...'**/.goreleaser.yml,**/.sops.yaml,**/.flux.yaml'.split(','),
];
/** Name of the per-directory ignore file Flux honours in a source (`.sourceignore`). */
export const IGNORE_FILE = '.sourceignore';

type SegmentMatcher = (name: string) => boolean;

/** One gitignore-style line of a .sourceignore or spec.ignore, scoped to the directory it came from. */
export class Pattern {
  readonly source: string;
  readonly domain: readonly string[];
  readonly inclusion: boolean;
  readonly dirOnly: boolean;
  private readonly isGlob: boolean;
  private readonly matchers: (SegmentMatcher | '**' | '' | 'bad')[];

  constructor(line: string, domain: readonly string[] = []) {
    this.source = line;
    this.domain = [...domain];
    let p = line;
    this.inclusion = p.startsWith('!');
    if (this.inclusion) p = p.slice(1);
    if (!p.endsWith('\\ ')) p = trimEnd(p, ' ');
    this.dirOnly = p.endsWith('/');
    if (this.dirOnly) p = p.slice(0, -1);
    this.isGlob = p.includes('/');
    this.matchers = p.split('/').map((s) => {
      if (s === '' || s === '**') return s;
      if (s.includes('**')) return 'bad';
      return compileGoGlob(s) ?? 'bad';
    });
  }

  /** Matches a path given as components relative to the archive root. */
  match(path: readonly string[], isDir: boolean): MatchResult {
    const d = this.domain;
    if (path.length <= d.length) return 'none';
    for (let i = 0; i < d.length; i++) if (path[i] !== d[i]) return 'none';
    const rel = d.length === 0 ? path : path.slice(d.length);
    const ok = this.isGlob ? this.globMatch(rel, isDir) : this.simpleNameMatch(rel, isDir);
    if (!ok) return 'none';
    return this.inclusion ? 'include' : 'exclude';
  }

  private simpleNameMatch(path: readonly string[], isDir: boolean): boolean {
    const m = this.matchers[0]!;
    // A single-segment pattern "**" is an ordinary glob for Go: it matches any name.
    const fn: SegmentMatcher | undefined = m === '**' ? () => true : m === '' ? (n) => n === '' : m === 'bad' ? undefined : m;
    if (!fn) return false;
    for (let i = 0; i < path.length; i++) {
      if (!fn(path[i]!)) continue;
      if (this.dirOnly && !isDir && i === path.length - 1) return false;
      return true;
    }
    return false;
  }

  private globMatch(pathIn: readonly string[], isDir: boolean): boolean {
    let path = pathIn;
    let matched = false;
    let canTraverse = false;
    const n = this.matchers.length;
    for (let i = 0; i < n; i++) {
      const m = this.matchers[i]!;
      if (m === '') {
        canTraverse = false;
        continue;
      }
      if (m === '**') {
        if (i === n - 1) break;
        canTraverse = true;
        continue;
      }
      if (m === 'bad') return false;
      if (path.length === 0) return false;
      if (canTraverse) {
        canTraverse = false;
        while (path.length > 0) {
          const e = path[0]!;
          path = path.slice(1);
          if (m(e)) {
            matched = true;
            break;
          } else if (path.length === 0) {
            matched = false;
          }
        }
      } else {
        if (!m(path[0]!)) return false;
        matched = true;
        path = path.slice(1);
      }
    }
    if (matched && this.dirOnly && !isDir && path.length === 0) matched = false;
    return matched;
  }
}

/** Parses ignore-file text (or spec.ignore) into patterns scoped to `domain`. */
export function parsePatterns(text: string, domain: readonly string[] = []): Pattern[] {
  const out: Pattern[] = [];
  for (let line of text.split('\n')) {
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line.startsWith('#') || line.trim().length === 0) continue;
    out.push(new Pattern(line, domain));
  }
  return out;
}

/** An ordered list of ignore patterns that decides whether a path is left out of an artifact (last match wins). */
export class Matcher {
  readonly patterns: readonly Pattern[];
  /** No pattern re-includes anything: an excluded directory's whole subtree is excluded. */
  readonly excludesOnly: boolean;

  constructor(patterns: readonly Pattern[]) {
    this.patterns = patterns;
    this.excludesOnly = patterns.every((p) => !p.inclusion);
  }

  /** True when the path is excluded (the last pattern that matches decides). */
  match(path: readonly string[], isDir: boolean): boolean {
    for (let i = this.patterns.length - 1; i >= 0; i--) {
      const r = this.patterns[i]!.match(path, isDir);
      if (r !== 'none') return r === 'exclude';
    }
    return false;
  }
}

/**
 * The matcher Flux builds for an archive: VCS patterns plus the user's patterns (from
 * .sourceignore files, then spec.ignore), or VCS plus defaults when the user gave none.
 */
export function sourceIgnoreMatcher(userPatterns: readonly Pattern[]): Matcher {
  const vcs = EXCLUDE_VCS.map((p) => new Pattern(p));
  if (userPatterns.length > 0) return new Matcher([...vcs, ...userPatterns]);
  return new Matcher([...vcs, ...EXCLUDE_DEFAULTS.map((p) => new Pattern(p))]);
}

/** One item of a compiled glob segment: a literal code point, `?`, or a class. */
type GlobItem =
  | { t: 'lit'; cp: number }
  | { t: 'any' }
  | { t: 'cls'; negate: boolean; ranges: [number, number][] };

/** Stars split a compiled segment into chunks: `star` says a `*` comes before the chunk. */
interface GlobChunk {
  star: boolean;
  items: GlobItem[];
}

const SLASH = 0x2f;

/**
 * Compiles one path segment of a Go filepath.Match pattern into a predicate, or returns
 * undefined when Go would report ErrBadPattern (then the pattern never matches).
 *
 * Matching follows Go's algorithm (each chunk after a star is tried at the leftmost position
 * that fits), which is O(pattern x name). A backtracking regex (`^[^/]*a[^/]*a...$`) was
 * exponential in the number of stars: `*a*a*a*a*a*a*a*a*b` against 60 `a`s took 18 s.
 */
export function compileGoGlob(pattern: string): SegmentMatcher | undefined {
  // Fast path: no special characters.
  if (!/[*?[\\]/.test(pattern)) return (name) => name === pattern;
  const chars = Array.from(pattern);
  const chunks: GlobChunk[] = [{ star: false, items: [] }];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    const cur = chunks[chunks.length - 1]!;
    if (c === '*') {
      if (cur.items.length === 0 && (cur.star || chunks.length === 1)) cur.star = true;
      else chunks.push({ star: true, items: [] });
    } else if (c === '?') {
      cur.items.push({ t: 'any' });
    } else if (c === '\\') {
      i++;
      if (i >= chars.length) return undefined;
      cur.items.push({ t: 'lit', cp: chars[i]!.codePointAt(0)! });
    } else if (c === '[') {
      i++;
      let negate = false;
      if (chars[i] === '^') {
        negate = true;
        i++;
      }
      const ranges: [number, number][] = [];
      let count = 0;
      let closed = false;
      while (i < chars.length) {
        if (chars[i] === ']' && count > 0) {
          closed = true;
          break;
        }
        const lo = classChar(chars, i);
        if (!lo) return undefined;
        i = lo.next;
        let hi = lo;
        if (chars[i] === '-') {
          const h = classChar(chars, i + 1);
          if (!h) return undefined;
          hi = h;
          i = h.next;
        }
        count++;
        // Reversed ranges (z-a) match nothing in Go, but are not an error.
        if (lo.cp <= hi.cp) ranges.push([lo.cp, hi.cp]);
      }
      if (!closed) return undefined;
      cur.items.push({ t: 'cls', negate, ranges });
    } else {
      cur.items.push({ t: 'lit', cp: c.codePointAt(0)! });
    }
  }
  return (name) => globMatch(chunks, name);
}

function itemMatches(item: GlobItem, cp: number): boolean {
  if (item.t === 'lit') return cp === item.cp;
  if (item.t === 'any') return cp !== SLASH;
  let inRange = false;
  for (const [lo, hi] of item.ranges) {
    if (lo <= cp && cp <= hi) {
      inRange = true;
      break;
    }
  }
  // A negated class never matches `/` (as `[^/...]`); an empty positive class matches nothing.
  return item.negate ? !inRange && cp !== SLASH : inRange;
}

/** Where `items` ends when it matches `name` at `at`, or -1. */
function matchChunkAt(items: GlobItem[], name: number[], at: number): number {
  if (at + items.length > name.length) return -1;
  for (let k = 0; k < items.length; k++) if (!itemMatches(items[k]!, name[at + k]!)) return -1;
  return at + items.length;
}

/** Go's filepath.Match loop over chunks (a star never spans `/`). */
function globMatch(chunks: GlobChunk[], nameText: string): boolean {
  const name = Array.from(nameText, (ch) => ch.codePointAt(0)!);
  let pos = 0;
  for (let c = 0; c < chunks.length; c++) {
    const { star, items } = chunks[c]!;
    const last = c === chunks.length - 1;
    if (star && items.length === 0) {
      // A trailing star: the rest of the name, if it has no `/`.
      for (let k = pos; k < name.length; k++) if (name[k] === SLASH) return false;
      return true;
    }
    const end = matchChunkAt(items, name, pos);
    if (end >= 0 && (!last || end === name.length)) {
      pos = end;
      continue;
    }
    if (!star) return false;
    let found = -1;
    for (let k = pos; k < name.length && name[k] !== SLASH; k++) {
      const e = matchChunkAt(items, name, k + 1);
      if (e < 0 || (last && e !== name.length)) continue;
      found = e;
      break;
    }
    if (found < 0) return false;
    pos = found;
  }
  return pos === name.length;
}

/** One (possibly escaped) character inside a class; `-` and `]` unescaped are errors (Go). */
function classChar(chars: string[], i: number): { cp: number; next: number } | undefined {
  let c = chars[i];
  if (c === undefined || c === '-' || c === ']') return undefined;
  if (c === '\\') {
    i++;
    c = chars[i];
    if (c === undefined) return undefined;
  }
  return { cp: c.codePointAt(0)!, next: i + 1 };
}
