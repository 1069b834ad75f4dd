import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { compareVersions, formatVersion, parseConstraint, parseStrictVersion, parseVersion, satisfies, tryParseConstraint, withMetadata } from '../../shared/helm/semver.js';

const ok = (c: string, v: string) => satisfies(parseVersion(v), parseConstraint(c));

describe('Masterminds versions', () => {
  test('coerces short and v-prefixed versions, rejects bad pre-releases', () => {
    assert.equal(formatVersion(parseVersion('v1.2')), '1.2.0');
    assert.equal(formatVersion(parseVersion('1')), '1.0.0');
    assert.throws(() => parseVersion('1.2.3-01'), /starts with 0/);
    assert.throws(() => parseVersion('1.2.3+a..b'), /invalid semantic version/);
    assert.throws(() => parseVersion('one'), /invalid semantic version/);
  });

  test('fluxcd/pkg ParseVersion needs three parts', () => {
    assert.equal(parseStrictVersion('1.2'), undefined);
    assert.ok(parseStrictVersion('v2025.02.03-rc.1'));
  });

  test('pre-release ordering follows semver, build metadata is ignored', () => {
    const order = ['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta', '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0'];
    for (let i = 1; i < order.length; i++) assert.equal(compareVersions(parseVersion(order[i - 1]), parseVersion(order[i])), -1, `${order[i - 1]} < ${order[i]}`);
    assert.equal(compareVersions(parseVersion('1.0.0+a'), parseVersion('1.0.0+b')), 0);
  });

  test('SetMetadata replaces build metadata and keeps the v prefix in the original', () => {
    const v = withMetadata(parseVersion('v6.0.3+old'), '4e5cbb7b97d0');
    assert.equal(formatVersion(v), '6.0.3+4e5cbb7b97d0');
    assert.equal(v.original, 'v6.0.3+4e5cbb7b97d0');
    assert.throws(() => withMetadata(parseVersion('1.0.0'), 'a_b'));
  });
});

describe('Masterminds constraints', () => {
  test('ranges, carets, tildes, wildcards, hyphens, ORs', () => {
    assert.ok(ok('>=1.2.0, <2.0.0', '1.9.9'));
    assert.ok(!ok('>=1.2.0 <2.0.0', '2.0.0'));
    assert.ok(ok('^1.2', '1.9.0'));
    assert.ok(!ok('^1.2', '2.0.0'));
    assert.ok(ok('^0.2.3', '0.2.9'));
    assert.ok(!ok('^0.2.3', '0.3.0'));
    assert.ok(ok('~1.2.3', '1.2.9'));
    assert.ok(!ok('~1.2.3', '1.3.0'));
    assert.ok(ok('1.2.x', '1.2.7'));
    assert.ok(ok('1.2 - 1.4.5', '1.4.5'));
    assert.ok(!ok('1.2 - 1.4.5', '1.4.6'));
    assert.ok(ok('<1.0 || >=3', '3.1.0'));
    assert.ok(ok('!=1.2.3', '1.2.4'));
    assert.ok(!ok('!=1.2.x', '1.2.4'));
    assert.ok(ok('>1.1', '1.2.0'));
    assert.ok(!ok('>1.1', '1.1.5'));
    assert.ok(ok('<=1.1', '1.1.9'));
  });

  test('pre-releases only match groups that mention one', () => {
    assert.ok(!ok('*', '2.0.0-rc.1'));
    assert.ok(!ok('>=1.0.0', '2.0.0-rc.1'));
    assert.ok(ok('>=1.0.0-0', '2.0.0-rc.1'));
    // A pre-release below 0.5 matches neither group: '<0.5' has no pre-release part.
    assert.ok(!ok('>=1.0.0-0 || <0.5', '0.1.0-rc.1'));
    assert.ok(ok('>=1.0.0-0 || <0.5', '1.0.1-rc.1'));
  });

  test('invalid constraints are reported with Masterminds text', () => {
    assert.match(String(tryParseConstraint('>=1.0.0 ~~ 2')), /improper constraint/);
    assert.match(String(tryParseConstraint('')), /improper constraint: ""/);
  });
});
