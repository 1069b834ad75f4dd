/**
 * sops' `encrypted_regex` and friends: Go regular expressions, evaluated as sops does with
 * `regexp.Match` (unanchored search), with Go's own syntax and semantics (util/go-regexp).
 */
import { GoRegexp } from '../util/go-regexp.js';
import { SopsError } from './errors.js';

/** Go `regexp.Match(pattern, []byte(text))`; a pattern Go refuses is a SopsError naming the field. */
export function goRegexpMatch(pattern: string, text: string, field: string): boolean {
  let re: GoRegexp;
  try {
    re = GoRegexp.compile(pattern);
  } catch (err) {
    throw new SopsError('SopsUnsupported', `${field} '${pattern}' is not a valid Go regular expression: ${(err as Error).message}`, {
      cause: err,
      hint: 'fix the expression in the file\'s sops metadata (RE2 syntax) and re-encrypt the file with sops',
    });
  }
  return re.test(text);
}
