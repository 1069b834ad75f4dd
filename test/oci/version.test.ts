import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConstraint, parseVersion, pickSemverTag } from '../../shared/oci/version.js';
import { GoRegexp } from '../../shared/util/go-regexp.js';
import { HELM_CHART_CONTENT } from '../../shared/oci/media-types.js';

describe('versions (fluxcd/pkg ParseVersion + Masterminds constraints)', () => {
  test('three parts, optional v, no leading zeros', () => {
    assert.ok(parseVersion('1.2.3'));
    assert.ok(parseVersion('v1.2.3-rc.1+b5'));
    for (const t of ['1.2', 'vv1.2.3', '01.2.3', '1.2.3.4', 'latest', ' 1.2.3', '1.2.3-01']) assert.equal(parseVersion(t), undefined, t);
  });

  test('highest match wins; pre-releases only for a range that names one', () => {
    const tags = ['1.2', 'v1.3.0', '1.4.0-rc.1', '1.0.0', 'latest', '0.9.9'];
    assert.equal(pickSemverTag(tags, parseConstraint('>=1.0.0')), 'v1.3.0');
    assert.equal(pickSemverTag(tags, parseConstraint('>=1.0.0-0')), '1.4.0-rc.1');
    assert.equal(pickSemverTag(tags, parseConstraint('~1.0')), '1.0.0');
    assert.equal(pickSemverTag(tags, parseConstraint('>=2.0.0 || <1.0.0')), '0.9.9');
    assert.equal(pickSemverTag(tags, parseConstraint('>= 1.0.0, < 1.3.0')), '1.0.0');
    assert.equal(pickSemverTag(tags, parseConstraint('>5')), undefined);
  });

  test('semverFilter keeps only matching tags', () => {
    const tags = ['1.0.0-dev.1', '1.1.0', '1.2.0-dev.2'];
    assert.equal(pickSemverTag(tags, parseConstraint('>=1.0.0-0'), { filter: GoRegexp.compile('.*-dev.*') }), '1.2.0-dev.2');
    assert.equal(GoRegexp.compile('(?i)^V(?P<n>[0-9]+)').exec('v12')?.groups?.n, '12');
  });

  test('Helm chart layer: `_` in a tag is read as `+`, otherwise the tag is skipped', () => {
    const tags = ['1.9.0', '2.0.0_b1'];
    assert.equal(pickSemverTag(tags, parseConstraint('*'), { layerMediaType: HELM_CHART_CONTENT }), '2.0.0_b1');
    assert.equal(pickSemverTag(tags, parseConstraint('*')), '1.9.0');
  });

  test('bad constraints are errors', () => {
    assert.throws(() => parseConstraint('>= foo'), /improper constraint/);
    assert.throws(() => parseConstraint(''), /empty/);
  });
});
