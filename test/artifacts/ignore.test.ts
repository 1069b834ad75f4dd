import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Pattern, compileGoGlob, parsePatterns, sourceIgnoreMatcher, type MatchResult } from '../../shared/artifacts/ignore.js';

const p = (s: string) => s.split('/');

describe('Flux gitignore pattern semantics (go-git derived matcher)', () => {
  // [pattern, domain, path, isDir, expected]
  const cases: [string, string[], string, boolean, MatchResult][] = [
    ['!vul?ano', [], 'value/vulkano/tail', false, 'include'],
    ['value', ['head', 'middle', 'tail'], 'head/middle', false, 'none'],
    ['value', ['head', 'middle', 'tail'], 'head/middle/tail', false, 'none'],
    ['value', ['head', 'middle', 'tail'], 'head/middle/_tail_/value', false, 'none'],
    ['middle/', ['value', 'volcano'], 'value/volcano/middle/tail', false, 'exclude'],
    ['volcano/', ['value', 'volcano'], 'value/volcano/tail', true, 'none'],
    ['value', [], 'value/tail', false, 'exclude'],
    ['value', [], 'head/value/tail', false, 'exclude'],
    ['value', [], 'head/value', false, 'exclude'],
    ['value/', [], 'value/tail', false, 'exclude'],
    ['value/', [], 'head/value', true, 'exclude'],
    ['value/', [], 'head/value', false, 'none'],
    ['value', [], 'head/val/tail', false, 'none'],
    ['val', [], 'head/value/tail', false, 'none'],
    ['v*o', [], 'value/vulkano/tail', false, 'exclude'],
    ['v[ou]l[kc]ano', [], 'value/volcano', false, 'exclude'],
    ['v[ou]l[', [], 'value/vol[', false, 'none'],
    ['/value/vul?ano', [], 'value/vulkano/tail', false, 'exclude'],
    ['middle/tail/', ['value', 'volcano'], 'value/volcano/middle/tail', true, 'exclude'],
    ['volcano/tail', ['value', 'volcano'], 'value/volcano/tail', false, 'none'],
    ['value/vul?ano', [], 'value/vulkano/tail', false, 'exclude'],
    ['value/vulkano', [], 'value/volcano', false, 'none'],
    ['value/vul?ano', [], 'value', false, 'none'],
    ['/value/volcano', [], 'value/value/volcano', false, 'none'],
    ['**/*lue/vol?ano', [], 'value/volcano/tail', false, 'exclude'],
    ['**/*lue/vol?ano', [], 'head/value/volcano/tail', false, 'exclude'],
    ['**/*lue/vol?ano', [], 'head/value/Volcano/tail', false, 'none'],
    ['**/*lue/vol?ano/', [], 'head/value/volcano', true, 'exclude'],
    ['**/*lue/vol?ano/', [], 'head/value/volcano', false, 'none'],
    ['/*lue/vol?ano/**', [], 'value/volcano/tail/moretail', false, 'exclude'],
    // Unlike git, `dir/**` also matches the directory itself.
    ['/*lue/vol?ano/**', [], 'value/volcano', false, 'exclude'],
    ['/*lue/**/vol?ano', [], 'value/volcano', false, 'exclude'],
    ['/*lue/**/vol?ano', [], 'value/middle1/middle2/volcano', false, 'exclude'],
    ['/*lue/**/vol?ano/', [], 'value/middle1/middle2/volcano', false, 'none'],
    ['/*lue/**/vol?ano/', [], 'value/middle1/middle2/volcano/tail', false, 'exclude'],
    ['/*lue/**foo/vol?ano', [], 'value/foo/volcano/tail', false, 'none'],
    ['**/head/v[ou]l[kc]ano', [], 'value/head/volcano', false, 'exclude'],
    ['/value/**/v[ou]l[', [], 'value/head/vol[', false, 'none'],
    ['**/android/**/GeneratedPluginRegistrant.java', [], 'packages/flutter_tools/lib/src/android/gradle.dart', false, 'none'],
    // Go's filepath.Match: `^` negates a class, `!` is an ordinary character.
    ['[^a]bc', [], 'xbc', false, 'exclude'],
    ['[^a]bc', [], 'abc', false, 'none'],
    ['[!a]bc', [], '!bc', false, 'exclude'],
    ['[!a]bc', [], 'xbc', false, 'none'],
    ['\\*.yaml', [], '*.yaml', false, 'exclude'],
    ['\\*.yaml', [], 'a.yaml', false, 'none'],
    ['*', [], '.hidden', false, 'exclude'],
    // Trailing spaces are trimmed unless escaped.
    ['foo   ', [], 'foo', false, 'exclude'],
    ['foo\\ ', [], 'foo ', false, 'exclude'],
    ['foo\\ ', [], 'foo', false, 'none'],
  ];
  for (const [pattern, domain, path, isDir, expected] of cases) {
    test(`${JSON.stringify(pattern)} domain=${domain.join('/') || '-'} ${path}${isDir ? '/' : ''} -> ${expected}`, () => {
      assert.equal(new Pattern(pattern, domain).match(p(path), isDir), expected);
    });
  }
});

describe('Go filepath.Match segments', () => {
  test('malformed patterns never match', () => {
    for (const bad of ['[', '[]', '[a', 'a[', '[-a]', '[a-]', 'x\\']) assert.equal(compileGoGlob(bad), undefined, bad);
  });
  test('ranges, escapes and reversed ranges', () => {
    assert.equal(compileGoGlob('[a-c]x')!('bx'), true);
    assert.equal(compileGoGlob('[a-c]x')!('dx'), false);
    assert.equal(compileGoGlob('[\\]]')!(']'), true);
    assert.equal(compileGoGlob('[z-a]')!('m'), false);
    assert.equal(compileGoGlob('?')!('é'), true, 'one code point');
    assert.equal(compileGoGlob('a.b')!('axb'), false, 'dot is literal');
  });
});

describe('parsePatterns and the Flux matcher', () => {
  test('comments and blank lines are skipped, CRLF handled, " #x" is a pattern', () => {
    const ps = parsePatterns('# comment\r\n\r\n   \n*.txt\r\n #notcomment\n');
    assert.deepEqual(ps.map((x) => x.source), ['*.txt', ' #notcomment']);
  });

  test('without user patterns the defaults apply; with any, only VCS ones', () => {
    const none = sourceIgnoreMatcher([]);
    assert.equal(none.match(p('img/logo.png'), false), true);
    assert.equal(none.match(p('.github'), true), true);
    assert.equal(none.match(p('a/b/.sops.yaml'), false), true);
    assert.equal(none.match(p('.git'), true), true);
    assert.equal(none.match(p('a/.gitignore'), false), true);
    assert.equal(none.match(p('deploy/app.yaml'), false), false);

    const some = sourceIgnoreMatcher(parsePatterns('*.txt'));
    assert.equal(some.match(p('img/logo.png'), false), false, 'defaults dropped once the user gives patterns');
    assert.equal(some.match(p('.github'), true), false);
    assert.equal(some.match(p('.git'), true), true, 'VCS patterns always apply');
    assert.equal(some.match(p('notes.txt'), false), true);
  });

  test('last matching pattern wins, and a negation re-includes a file under an excluded dir', () => {
    const m = sourceIgnoreMatcher(parsePatterns('vendor/\n!vendor/keep.yaml\n'));
    assert.equal(m.match(p('vendor'), true), true);
    assert.equal(m.match(p('vendor/other.yaml'), false), true);
    assert.equal(m.match(p('vendor/keep.yaml'), false), false);
    assert.equal(m.excludesOnly, false);
  });

  test('the documented "exclude all but one dir" recipe works', () => {
    const m = sourceIgnoreMatcher(parsePatterns('/*\n!/deploy\n'));
    assert.equal(m.match(p('src'), true), true);
    assert.equal(m.match(p('README.md'), false), true);
    assert.equal(m.match(p('deploy'), true), false);
    assert.equal(m.match(p('deploy/app/kustomization.yaml'), false), false);
  });
});
