import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseSemverConstraint, parseTagVersion, pickSemverTag } from '../../shared/sources/git-semver.js';

const pick = (range: string, tags: string[]) => pickSemverTag(tags, parseSemverConstraint(range));

describe('semver tag selection (Masterminds constraints, Flux tag parsing)', () => {
  const tags = ['v1.0.0', 'v1.2.0', 'v1.10.0', '1.3.0', 'v2.0.0', 'v2.1.0-rc.1', 'latest', 'v1.4', 'vv1.5.0', 'release-1.6.0', 'v01.7.0'];

  test('comma means AND, and numeric (not lexical) ordering picks the highest', () => {
    assert.equal(pick('>=1.0.0, <2.0.0', tags), 'v1.10.0');
    assert.equal(pick('>=1.0.0 <2.0.0', tags), 'v1.10.0');
    assert.equal(pick('>= 1.0.0, < 1.5', tags), '1.3.0');
  });

  test('|| means OR', () => {
    assert.equal(pick('~1.2 || ~1.3', tags), '1.3.0');
    assert.equal(pick('<1.1.0 || >=2.0.0', tags), 'v2.0.0');
  });

  test('tilde, caret, x-ranges, hyphen ranges and Masterminds-only operators', () => {
    assert.equal(pick('~1.2', tags), 'v1.2.0');
    assert.equal(pick('~>1.2', tags), 'v1.2.0');
    assert.equal(pick('^1.0', tags), 'v1.10.0');
    assert.equal(pick('1.x', tags), 'v1.10.0');
    assert.equal(pick('*', tags), 'v2.0.0');
    assert.equal(pick('1.0.0 - 1.3.0', tags), '1.3.0');
    assert.equal(pick('=>1.2.0, =<1.2.0', tags), 'v1.2.0');
    assert.equal(pick('1.x, != 1.10.0', tags), '1.3.0');
    assert.equal(pick('v1.2.0', tags), 'v1.2.0');
  });

  test('tags that are not strict semver (optionally with one leading v) are ignored', () => {
    assert.equal(parseTagVersion('v1.4'), undefined);
    assert.equal(parseTagVersion('vv1.5.0'), undefined);
    assert.equal(parseTagVersion('release-1.6.0'), undefined);
    assert.equal(parseTagVersion('v01.7.0'), undefined);
    assert.equal(parseTagVersion('latest'), undefined);
    assert.equal(parseTagVersion('v1.2.3')?.version, '1.2.3');
    assert.equal(parseTagVersion('1.2.3-rc.1+build.5')?.version, '1.2.3-rc.1');
    assert.equal(pick('>=1.4.0 <1.8.0', tags), undefined);
  });

  test('pre-releases match only groups that mention a pre-release', () => {
    assert.equal(pick('>=2.0.0-0', tags), 'v2.1.0-rc.1');
    assert.equal(pick('>=2.0.0', tags), 'v2.0.0');
    // Masterminds: the whole AND group allows pre-releases once one comparator has one.
    assert.equal(pick('>=2.0.0-0, <3.0.0', tags), 'v2.1.0-rc.1');
    assert.equal(pick('>=2.0.0-0 <3.0.0 || >=1.0.0 <2.0.0', ['v1.5.0', 'v2.0.0-beta']), 'v2.0.0-beta');
    assert.equal(pick('>=1.0.0 <3.0.0', ['v1.5.0', 'v2.0.0-beta']), 'v1.5.0');
  });

  test('versions equal but for build metadata are ordered by the metadata', () => {
    assert.equal(pick('1.0.0', ['v1.0.0+build.1', 'v1.0.0+build.2']), 'v1.0.0+build.2');
  });

  test('invalid constraints are rejected with a message', () => {
    assert.throws(() => parseSemverConstraint(''), /empty/);
    assert.throws(() => parseSemverConstraint('>=abc'), /invalid comparator '>=abc'/);
    assert.throws(() => parseSemverConstraint('1.0 ||'), /empty constraint group/);
    assert.throws(() => parseSemverConstraint('==1.0.0'), /invalid comparator/);
    assert.throws(() => parseSemverConstraint('1 '.repeat(300)), /longer than 512/);
  });
});
