/**
 * Go (RE2) regular expressions, as `encrypted_regex` and friends are written, translated to
 * JavaScript. sops evaluates them with `regexp.Match` (unanchored search). The common RE2
 * syntax is the same in both; the translation handles leading flag groups, named groups,
 * `\A`, `\z`, `\Q...\E` and POSIX classes, and refuses what it cannot translate faithfully.
 */
import { SopsError } from './errors.js';

const POSIX: Record<string, string> = {
  alnum: '0-9A-Za-z', alpha: 'A-Za-z', ascii: '\\x00-\\x7F', blank: '\\t ', cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9', graph: '!-~', lower: 'a-z', print: ' -~', punct: '!-\\/:-@\\[-`{-~', space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z', word: '0-9A-Za-z_', xdigit: '0-9A-Fa-f',
};

const cache = new Map<string, RegExp>();

function translate(pattern: string, field: string): RegExp {
  let src = pattern;
  let flags = '';
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    if (lead[1].includes('U')) throw unsupported(pattern, field, 'the U (ungreedy) flag');
    flags = [...new Set(lead[1].split(''))].join('');
    src = src.slice(lead[0].length);
  }
  if (/\(\?[imsU-]+[:)]/.test(src)) throw unsupported(pattern, field, 'inline flag groups');
  src = src.replace(/\\Q([\s\S]*?)(\\E|$)/g, (_m, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'));
  src = src.replace(/\(\?P</g, '(?<');
  src = src.replace(/\[:(\^?)([a-z]+):\]/g, (m, neg: string, name: string) => {
    const cls = POSIX[name];
    if (!cls) return m;
    if (neg) throw unsupported(pattern, field, 'negated POSIX classes');
    return cls;
  });
  if (flags.includes('m') && /\\A|\\z/.test(src)) throw unsupported(pattern, field, '\\A or \\z with the m flag');
  src = src.replace(/\\A/g, '^').replace(/\\z/g, '$');
  try {
    return new RegExp(src, flags);
  } catch (err) {
    throw new SopsError('SopsUnsupported', `${field} '${pattern}' is not a regular expression Fluxless can evaluate`, { cause: err });
  }
}

function unsupported(pattern: string, field: string, what: string): SopsError {
  return new SopsError('SopsUnsupported', `${field} '${pattern}' uses ${what}, which Fluxless cannot evaluate`, {
    hint: 'rewrite the expression with plain RE2 syntax and re-encrypt the file with sops',
  });
}

/** Go `regexp.Match(pattern, []byte(text))`, with the pattern compiled once per process. */
export function goRegexpMatch(pattern: string, text: string, field: string): boolean {
  let re = cache.get(pattern);
  if (!re) {
    re = translate(pattern, field);
    if (cache.size > 256) cache.clear();
    cache.set(pattern, re);
  }
  re.lastIndex = 0;
  return re.test(text);
}
