/**
 * Go regular expressions (RE2 syntax), as Flux users write them in `filterTags.pattern`,
 * `semverFilter`, `matchOIDCIdentity`, `exclusionList`, sops' `encrypted_regex` and the
 * Sprig `regex*` functions, evaluated with Go's semantics by re2js (a port of RE2/Go's
 * regexp): the same syntax (`(?P<name>`, flags anywhere, `\Q..\E`, `\A`, `\z`, POSIX and
 * Unicode classes), the same refusals (backreferences, lookaround) with Go's error messages,
 * linear time on any input, and Go's rules for successive and empty matches.
 */
import { RE2JS } from 're2js';

/** A pattern Go's `regexp.Compile` refuses; the message is Go's (`error parsing regexp: ...`). */
export class GoRegexpSyntaxError extends Error {}

/** One match: index 0 the whole match, then each group (undefined when it took no part), and named groups. */
export interface GoMatch {
  readonly [group: number]: string | undefined;
  /** Groups plus one. */
  readonly length: number;
  /** Where the match starts in the input (UTF-16 units). */
  readonly index: number;
  /** Named groups, when the pattern has any. */
  readonly groups?: Readonly<Record<string, string | undefined>>;
}

const cache = new Map<string, GoRegexp | GoRegexpSyntaxError>();
const CACHE_LIMIT = 1000;

/** A compiled Go regular expression. Matching is unanchored, as Go's `MatchString`. */
export class GoRegexp {
  private constructor(
    /** The pattern as written. */
    readonly source: string,
    private readonly re: RE2JS,
  ) {}

  /** Compiles `pattern` (cached per process); throws GoRegexpSyntaxError with Go's message. */
  static compile(pattern: string): GoRegexp {
    let hit = cache.get(pattern);
    if (!hit) {
      try {
        hit = new GoRegexp(pattern, RE2JS.compile(pattern));
      } catch (err) {
        hit = new GoRegexpSyntaxError(err instanceof Error ? err.message : String(err));
      }
      if (cache.size >= CACHE_LIMIT) cache.clear();
      cache.set(pattern, hit);
    }
    if (hit instanceof GoRegexpSyntaxError) throw hit;
    return hit;
  }

  /** Go's `MatchString`: whether the pattern matches anywhere in `text`. */
  test(text: string): boolean {
    return this.re.test(text);
  }

  /** Go's `FindStringSubmatch`: the leftmost match with its groups, or null. */
  exec(text: string): GoMatch | null {
    return this.re.exec(text) as GoMatch | null;
  }

  /**
   * Go's `FindAllStringSubmatch(text, n)`: successive non-overlapping matches, at most `n`
   * when `n >= 0`; an empty match right after a previous match is not reported (Go's rule).
   */
  findAll(text: string, n = -1): GoMatch[] {
    const out: GoMatch[] = [];
    if (n === 0) return out;
    let prevEnd = -1;
    for (const m of this.re.matchAll(text) as Iterable<GoMatch>) {
      const start = m.index;
      const end = start + (m[0]?.length ?? 0);
      const skip = start === end && start === prevEnd;
      prevEnd = end;
      if (skip) continue;
      out.push(m);
      if (n > 0 && out.length >= n) break;
    }
    return out;
  }

  /** Go's `ReplaceAllStringFunc` over full matches: each match replaced by `replace(match)`. */
  replaceAll(text: string, replace: (m: GoMatch) => string): string {
    let out = '';
    let last = 0;
    for (const m of this.findAll(text)) {
      out += text.slice(last, m.index) + replace(m);
      last = m.index + (m[0]?.length ?? 0);
    }
    return out + text.slice(last);
  }

  /** Go's `Split(text, n)`: the text between matches; `n < 0` all, `n == 0` none, `n > 0` at most n parts. */
  split(text: string, n: number): string[] {
    if (n === 0) return [];
    if (this.source.length > 0 && text.length === 0) return [''];
    const parts: string[] = [];
    let beg = 0;
    let end = 0;
    for (const m of this.findAll(text, n)) {
      if (n > 0 && parts.length === n - 1) break;
      end = m.index;
      const mEnd = m.index + (m[0]?.length ?? 0);
      if (mEnd !== 0) parts.push(text.slice(beg, end));
      beg = mEnd;
    }
    if (end !== text.length) parts.push(text.slice(beg));
    return parts;
  }
}

/**
 * Go's `Regexp.Expand` of a template over a match: `$name` / `${name}` (letters, digits,
 * `_`; a number is a group index), `$$` is a `$`; unknown groups expand to nothing; a `$`
 * that starts no valid name is kept as is.
 */
export function expandGoTemplate(template: string, m: GoMatch): string {
  let out = '';
  let i = 0;
  while (i < template.length) {
    const d = template.indexOf('$', i);
    if (d < 0) {
      out += template.slice(i);
      break;
    }
    out += template.slice(i, d);
    const rest = template.slice(d + 1);
    if (rest.startsWith('$')) {
      out += '$';
      i = d + 2;
      continue;
    }
    const brace = /^\{([A-Za-z0-9_]+)\}/.exec(rest);
    const bare = /^[A-Za-z0-9_]+/.exec(rest);
    const name = brace ? brace[1] : bare?.[0];
    if (!name) {
      out += '$';
      i = d + 1;
      continue;
    }
    out += groupValue(m, name);
    i = d + 1 + (brace ? brace[0].length : name.length);
  }
  return out;
}

function groupValue(m: GoMatch, name: string): string {
  if (/^[0-9]+$/.test(name)) {
    const n = Number(name);
    return n < m.length ? (m[n] ?? '') : '';
  }
  return m.groups?.[name] ?? '';
}
