/**
 * Patterns Flux users write are Go regular expressions; where Go and JavaScript disagree,
 * Fluxless answers as Flux does: ImagePolicy `filterTags`, Sprig's `regex*` in setter
 * templates, an Alert's `exclusionList`, sops' `encrypted_regex`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compileTagFilter, PolicyError } from '../../shared/images/policy.js';
import { GoRegexp } from '../../shared/util/go-regexp.js';
import { goRegexpMatch } from '../../shared/sops/go-regexp.js';

const kept = (pattern: string, tags: string[], extract = '') => [...compileTagFilter({ pattern, extract }).apply(tags).keys()];

describe('Go regular expressions in filterTags', () => {
  test('RE2 syntax JavaScript lacks: \\Q..\\E, \\A, \\z, POSIX and Unicode classes, flags after ^', () => {
    assert.deepEqual(kept('^\\Qv1.0\\E-[0-9]+$', ['v1.0-3', 'v1x0-3']), ['v1.0-3']);
    assert.deepEqual(kept('\\Amain-[[:xdigit:]]+\\z', ['main-abc123', 'main-abc123\n', 'xmain-ab']), ['main-abc123']);
    assert.deepEqual(kept('^\\pL+-\\d+$', ['été-1', 'ete-1', '1-1']), ['été-1', 'ete-1']);
    assert.deepEqual(kept('^(?i)RELEASE-(?P<n>[0-9]+)$', ['release-1', 'Release-2', 'pre-release-3'], '$n'), ['1', '2']);
    assert.deepEqual(kept('^[[:^digit:]]+$', ['abc', 'a1']), ['abc']);
  });

  test('classes mean what they mean in Go: \\s is ASCII space, . is one code point', () => {
    assert.deepEqual(kept('^a\\sb$', ['a b', 'a\u00a0b']), ['a b']);
    assert.deepEqual(kept('^x.y$', ['x😀y']), ['x😀y']);
  });

  test('what Go refuses is refused with Go\'s message', () => {
    for (const [pattern, why] of [['(a)\\1', 'invalid escape sequence: `\\1`'], ['a(?=b)', 'invalid or unsupported Perl syntax: `(?=`'], ['[z-a]', 'invalid character class range: `z-a`']]) {
      assert.throws(() => compileTagFilter({ pattern, extract: '' }), (err: unknown) => {
        assert.ok(err instanceof PolicyError);
        assert.equal(err.message, `failed to filter tags: invalid regular expression pattern '${pattern}': error parsing regexp: ${why}`);
        return true;
      });
    }
  });
});

describe('Go regexp matching rules', () => {
  test('FindAll, ReplaceAll and Split skip an empty match right after a match, as Go does', () => {
    const re = GoRegexp.compile('a*');
    assert.deepEqual(re.findAll('baaac').map((m) => m[0]), ['', 'aaa', '']);
    assert.equal(re.replaceAll('baaac', () => '-'), '-b-c-');
    assert.deepEqual(GoRegexp.compile(',').split('a,b,,', -1), ['a', 'b', '', '']);
    assert.deepEqual(GoRegexp.compile(',').split('a,b,c', 2), ['a', 'b,c']);
    assert.deepEqual(GoRegexp.compile('').split('abc', -1), ['a', 'b', 'c']);
    assert.deepEqual(GoRegexp.compile('x').split('', -1), ['']);
  });

  test('sops rules use the same engine and name the field of a pattern Go refuses', () => {
    assert.equal(goRegexpMatch('^(?i)DATA$', 'data', 'encrypted_regex'), true);
    assert.equal(goRegexpMatch('^[[:alpha:]]+$', 'data', 'encrypted_regex'), true);
    assert.throws(() => goRegexpMatch('(?<=a)b', 'ab', 'encrypted_regex'), /encrypted_regex '\(\?<=a\)b' is not a valid Go regular expression: error parsing regexp/);
  });
});
