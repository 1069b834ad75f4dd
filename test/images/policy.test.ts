/**
 * ImagePolicy tag selection as image-reflector-controller's internal/policy: semver with
 * fluxcd/pkg version parsing, alphabetical and numerical orders, filterTags with extract,
 * and Flux's error messages.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePolicy, compileTagFilter, latestTag, policyChoice, PolicyError } from '../../shared/images/policy.js';
import { expandGoTemplate } from '../../shared/util/go-regexp.js';
import { parseGoFloat } from '../../shared/images/go-float.js';
import { sortTagsDescending } from '../../shared/images/tags.js';

const semver = (range: string) => compilePolicy({ kind: 'semver', range });
const alpha = (order = '') => compilePolicy({ kind: 'alphabetical', order });
const numeric = (order = '') => compilePolicy({ kind: 'numerical', order });

describe('semver', () => {
  test('1.10.0 beats 1.9.3 (versions, not strings)', () => {
    assert.equal(latestTag(sortTagsDescending(['1.9.3', '1.10.0', '1.2.0']), semver('>=1.0.0')), '1.10.0');
  });

  test('two-part tags are skipped, prereleases need a range that names one, the v is kept', () => {
    assert.equal(latestTag(['1.2', 'v1.3.0', '1.4.0-rc.1', 'latest'], semver('>=1.0.0')), 'v1.3.0');
    assert.equal(latestTag(['1.3.0', '1.4.0-rc.1'], semver('>=1.4.0-rc.0')), '1.4.0-rc.1');
  });

  test('leading zeros are not versions (Masterminds StrictNewVersion)', () => {
    assert.equal(latestTag(['01.2.3', '1.0.0'], semver('*')), '1.0.0');
  });

  test('equal versions: the first in input order wins', () => {
    assert.equal(latestTag(['v1.0.0', '1.0.0'], semver('1.x')), 'v1.0.0');
    assert.equal(latestTag(['1.0.0+b', '1.0.0+a'], semver('1.x')), '1.0.0+b');
  });

  test('ranges: OR groups, tildes, exclusions', () => {
    const tags = ['1.1.0', '1.2.5', '2.0.1', '3.0.0'];
    assert.equal(latestTag(tags, semver('~1.2')), '1.2.5');
    assert.equal(latestTag(tags, semver('<2.0.0 || >=3.0.0')), '3.0.0');
    assert.equal(latestTag(tags, semver('>=1.0.0, !=3.0.0')), '2.0.1');
  });

  test("no match and empty lists have Flux's messages", () => {
    assert.throws(() => latestTag(['1.0.0'], semver('>=2')), { message: 'unable to determine latest version from provided list' });
    assert.throws(() => latestTag([], semver('>=2')), { message: 'version list argument cannot be empty' });
  });

  test('an invalid range is an invalid policy', () => {
    assert.throws(() => semver('>=x.y.z'), (e: unknown) => e instanceof PolicyError && e.invalid && /^invalid policy: improper constraint/.test(e.message));
  });
});

describe('alphabetical', () => {
  test('asc picks the greatest string, desc the smallest', () => {
    assert.equal(latestTag(['2024-01-02', '2024-01-10'], alpha()), '2024-01-10');
    assert.equal(latestTag(['2024-01-02', '2024-01-10'], alpha('desc')), '2024-01-02');
    assert.equal(latestTag(['a', 'Z', 'b'], alpha('ASC')), 'b');
  });

  test('an unknown order is refused with the upper-cased value', () => {
    assert.throws(() => alpha('up'), { message: "invalid policy: invalid order argument provided: 'UP', must be one of: ASC, DESC" });
  });
});

describe('numerical', () => {
  test('asc picks the largest, desc the smallest; Go float syntax counts', () => {
    assert.equal(latestTag(['2', '10', '9'], numeric()), '10');
    assert.equal(latestTag(['2', '10', '9'], numeric('desc')), '2');
    assert.equal(latestTag(['999', '1e3'], numeric()), '1e3');
    assert.equal(latestTag(['5', 'inf'], numeric()), 'inf');
  });

  test('one non-numeric tag fails the whole policy', () => {
    assert.throws(() => latestTag(['1', 'latest', '2'], numeric()), (e: unknown) => e instanceof PolicyError && !e.invalid && e.message === "failed to parse invalid numeric value 'latest'");
  });

  test('equal values: the later tag wins', () => {
    assert.equal(latestTag(['1.0', '1', '01'], numeric()), '01');
  });

  test('Go ParseFloat edge cases', () => {
    assert.equal(parseGoFloat('0x1p-2'), 0.25);
    assert.equal(parseGoFloat('1_000'), 1000);
    assert.equal(parseGoFloat('Infinity'), Infinity);
    assert.ok(Number.isNaN(parseGoFloat('NaN')));
    assert.equal(parseGoFloat('1e400'), undefined);
    assert.equal(parseGoFloat('0x10'), undefined);
    assert.equal(parseGoFloat('1.2.3'), undefined);
    assert.equal(parseGoFloat(''), undefined);
  });
});

describe('filterTags', () => {
  test('extract orders the extracted values and returns the original tag', () => {
    const filter = compileTagFilter({ pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)', extract: '$ts' });
    const tags = ['main-abc123-1700000002', 'main-def456-1700000010', 'v1.0.0', 'main-999999-1700000009'];
    assert.equal(latestTag(tags, numeric(), filter), 'main-def456-1700000010');
  });

  test('the pattern matches anywhere unless anchored', () => {
    const filter = compileTagFilter({ pattern: 'rc', extract: '' });
    assert.deepEqual([...filter.apply(['1.0.0', '1.1.0-rc.1', 'prc']).keys()], ['1.1.0-rc.1', 'prc']);
  });

  test('tags that extract alike collapse into the later one', () => {
    const filter = compileTagFilter({ pattern: '^(\\d+)-', extract: '$1' });
    assert.deepEqual([...filter.apply(['1-a', '1-b', '2-c']).entries()], [['1', '1-b'], ['2', '2-c']]);
  });

  test('Regexp.Expand: names, braces, numbers, $$ and unknown groups', () => {
    const m = /(?<a>x)(y)/.exec('xy')!;
    assert.equal(expandGoTemplate('${a}-$2-$$-$nope-${1}z-$', m), 'x-y-$--xz-$');
    assert.equal(expandGoTemplate('$1x', m), '');
  });

  test('an invalid pattern is an invalid policy', () => {
    assert.throws(() => compileTagFilter({ pattern: '(', extract: '' }), (e: unknown) => e instanceof PolicyError && e.invalid && /^failed to filter tags: invalid regular expression pattern '\('/.test(e.message));
  });

  test('filter that keeps nothing: empty list', () => {
    const filter = compileTagFilter({ pattern: '^nothing$', extract: '' });
    assert.throws(() => latestTag(['1.0.0'], semver('*'), filter), { message: 'version list argument cannot be empty' });
  });
});

describe('policy choice', () => {
  test('semver first, then alphabetical, then numerical; none set is invalid', () => {
    assert.deepEqual(policyChoice({ numerical: {}, semver: { range: '1.x' } }), { kind: 'semver', range: '1.x' });
    assert.deepEqual(policyChoice({ numerical: { order: 'desc' }, alphabetical: {} }), { kind: 'alphabetical', order: '' });
    assert.throws(() => policyChoice({}), { message: 'invalid policy: given ImagePolicyChoice object is invalid' });
  });
});
