/**
 * Go (RE2) regular expressions, as Alert `inclusionList` / `exclusionList` entries are
 * written, evaluated in JavaScript with Go's `regexp.Match` semantics (unanchored search).
 * The common syntax is the same; leading flag groups, `(?P<name>`, `\A`, `\z`, `\Q...\E`
 * and POSIX classes are translated. What RE2 refuses (backreferences, lookaround) or what
 * cannot be translated faithfully does not compile: such an entry is skipped and reported,
 * as notification-controller does with one that fails `regexp.Compile`.
 */

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F', digit: '0-9', graph: '!-~',
  lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ', upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

const cache = new Map<string, RegExp | Error>();

/** Compiles a Go regexp to a JS RegExp; throws an Error saying why it cannot. */
export function compileGoRegexp(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit instanceof Error) throw hit;
  if (hit) return hit;
  let out: RegExp | Error;
  try {
    out = translate(pattern);
  } catch (err) {
    out = err instanceof Error ? err : new Error(String(err));
  }
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, out);
  if (out instanceof Error) throw out;
  return out;
}

function translate(pattern: string): RegExp {
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    if (lead[1].includes('U')) throw new Error('the U (ungreedy) flag is not supported');
    flags += [...new Set(lead[1].split(''))].join('');
    src = src.slice(lead[0].length);
  }
  if (/\(\?[imsU-]+[:)]/.test(src)) throw new Error('inline flag groups are not supported');
  // RE2 has no backreferences or lookaround: Go's regexp.Compile refuses them.
  if (/\\[1-9]/.test(src) || /\(\?[=!]|\(\?<[=!]/.test(src)) throw new Error('invalid or unsupported Perl syntax');
  src = src.replace(/\\Q([\s\S]*?)(\\E|$)/g, (_m, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  src = src.replace(/\(\?P</g, '(?<');
  src = src.replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => {
    const cls = POSIX[name];
    if (!cls) return m;
    if (neg) throw new Error('negated POSIX classes are not supported');
    return cls;
  });
  if (flags.includes('m') && /\\A|\\z/.test(src)) throw new Error('\\A or \\z with the m flag is not supported');
  src = src.replace(/\\A/g, '^').replace(/\\z/g, '$');
  return new RegExp(src, flags);
}

/** Go's regexp.MatchString for an already compiled pattern. */
export function goMatch(re: RegExp, text: string): boolean {
  re.lastIndex = 0;
  return re.test(text);
}
