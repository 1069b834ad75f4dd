/**
 * Inputs from Git, a registry or a chart repository that used to make a backtracking regex
 * run for seconds (or forever). Each test checks the answer on a long input; none asserts a
 * time, but a regression would hang the test.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { compileGoGlob, parsePatterns, sourceIgnoreMatcher } from '../../shared/artifacts/ignore.js';
import { DoublestarPattern } from '../../shared/kinds/artifactgenerator/glob.js';
import { artifactRequests } from '../../shared/kinds/artifactgenerator/pathpattern.js';
import { parseConstraint } from '../../shared/helm/semver.js';
import { goTime } from '../../shared/helm/index-file.js';
import { isEncryptedValue } from '../../shared/sops/cipher.js';
import { pemCertificates } from '../../shared/oci/cosign/legacy-bundle.js';
import { quoteExpression } from '../../shared/cel/errors.js';
import { mentionsRemote, urlHostsIn, urlTokens } from '../../shared/render/remote.js';
import { mergeBootstrap } from '../../shared/reconcile/bootstrap-pair.js';
import { secretLineValue } from '../../shared/kinds/helmrelease/values.js';
import { maskEchoedValues } from '../../shared/apply/mask.js';
import { sprintf } from '../../shared/images/go-template-funcs.js';
import type { KubeObject } from '../../shared/kube/object.js';

describe('glob segments (.sourceignore, spec.ignore, ArtifactGenerator)', () => {
  const stars = '*a*a*a*a*a*a*a*a*b';
  test('many stars against a long name that does not match', () => {
    assert.equal(compileGoGlob(stars)!('a'.repeat(250)), false);
    assert.equal(compileGoGlob(stars)!('a'.repeat(250) + 'b'), true);
    assert.equal(DoublestarPattern.compile(stars).matches('x/' + 'a'.repeat(250)), false);
  });
  test('a .sourceignore line with many stars', () => {
    const m = sourceIgnoreMatcher(parsePatterns(`${stars}\n`));
    assert.equal(m.match(['dir', 'a'.repeat(250)], false), false);
    assert.equal(m.match(['dir', `${'a'.repeat(250)}b`], false), true);
  });
  test('Go filepath.Match semantics kept', () => {
    const g = (p: string, n: string) => compileGoGlob(p)?.(n);
    assert.equal(g('*.yaml', 'a.yaml'), true);
    assert.equal(g('a*b*c', 'aXbYc'), true);
    assert.equal(g('a*b*c', 'aXbYcZ'), false);
    assert.equal(g('*c', 'abcbc'), true);
    assert.equal(g('a?c', 'a/c'), false);
    assert.equal(g('[^a]x', '/x'), false);
    assert.equal(g('[b-a]x', 'bx'), false);
    assert.equal(g('[^b-a]x', 'bx'), true);
    assert.equal(g('\\*x', '*x'), true);
    assert.equal(g('😀?', '😀é'), true);
    assert.equal(g('[a', 'a'), undefined);
  });
});

describe('ArtifactGenerator pathPattern', () => {
  test('adjacent captures against a long directory name', async () => {
    const root = await mkdtemp(path.join(os.tmpdir(), 'redos-pp-'));
    try {
      await mkdir(path.join(root, 'a'.repeat(200)));
      await mkdir(path.join(root, 'abcdefghx'));
      const out = await artifactRequests([{ name: 'n-{v0}', copy: [] } as never], '@src/{v0}{v1}{v2}{v3}{v4}{v5}{v6}{v7}x', new Map([['src', root]]));
      assert.deepEqual(out.map((r) => r.labels), [{ v0: 'a', v1: 'b', v2: 'c', v3: 'd', v4: 'e', v5: 'f', v6: 'g', v7: 'h' }]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe('Helm (Masterminds) constraints', () => {
  test('long runs of whitespace are refused, not backtracked', () => {
    assert.throws(() => parseConstraint(`1${' '.repeat(40000)}!`), /improper constraint/);
    assert.throws(() => parseConstraint(`${'1 , '.repeat(5000)}!`), /improper constraint/);
    assert.throws(() => parseConstraint(`${'1  '.repeat(5000)}!`), /improper constraint/);
    assert.throws(() => parseConstraint(`${'1'.repeat(40000)} - `), /improper constraint/);
  });
  test('valid constraints still parse', () => {
    assert.equal(parseConstraint('>= 1.2, < 2').groups[0]!.length, 2);
    assert.equal(parseConstraint('1.2 - 1.4.5').groups[0]!.length, 2);
    assert.equal(parseConstraint(`${'1 '.repeat(2000)}`).groups[0]!.length, 2000);
  });
});

describe('values from untrusted files and servers', () => {
  test('index.yaml time with a long fraction', () => {
    assert.equal(goTime(`2020-01-01T00:00:00.${'0'.repeat(40000)}1Z`, 'created'), `2020-01-01T00:00:00.${'0'.repeat(40000)}1Z`);
    assert.equal(goTime('2020-01-01T00:00:00.1200Z', 'created'), '2020-01-01T00:00:00.12Z');
  });
  test('sops ENC[] value with repeated separators', () => {
    assert.equal(isEncryptedValue(`ENC[AES256_GCM,data:${',iv:,tag:,type:'.repeat(2000)}`), false);
    assert.equal(isEncryptedValue(`ENC[AES256_GCM,data:${',iv:,tag:,type:'.repeat(2000)}]`), true);
    assert.equal(isEncryptedValue('ENC[AES256_GCM,data:a,iv:b,tag:c,type:str]'), true);
  });
  test('cosign certificate annotation with many BEGIN lines', () => {
    assert.deepEqual(pemCertificates('-----BEGIN CERTIFICATE-----'.repeat(20000)), []);
    const two = pemCertificates('-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN CERTIFICATE-----BAU=-----END CERTIFICATE-----');
    assert.deepEqual(two.map((b) => [...b]), [[1, 2, 3], [4, 5]]);
  });
  test('CEL expression with a long run of spaces in messages', () => {
    assert.equal(quoteExpression(`a${' '.repeat(40000)}b`).length, 240 + 2);
    assert.equal(quoteExpression('a  \n\t b  c'), '"a b  c"');
  });
  test('kustomize plugin strings with a long scheme-like run', () => {
    const long = 'a'.repeat(40000);
    assert.equal(mentionsRemote(long), false);
    assert.deepEqual(urlHostsIn(long), []);
    assert.equal(mentionsRemote(`${long}://example.com/x`), true);
    assert.deepEqual(urlHostsIn(`x 1://a ${long}+b://h.example/p "git+ssh://g.example"`), ['h.example', 'g.example']);
    assert.deepEqual(urlTokens('9a.b://x<y c://'), ['a.b://x', 'c://']);
  });
  test('bootstrap conflict message with a long word', () => {
    const obj = (url: string) => ({ apiVersion: 'v1', kind: 'GitRepository', metadata: { name: 'n' }, spec: { url } }) as KubeObject;
    const long = 'a'.repeat(40000);
    assert.equal(mergeBootstrap(obj(long), obj('x')).conflicts[0], `spec.url: the configuration's "${long}" is used, not Git's "x"`);
    assert.equal(mergeBootstrap(obj('https://u:p@h/x'), obj('x')).conflicts[0], `spec.url: the configuration's "https://***@h/x" is used, not Git's "x"`);
  });
  test('Secret line values with long whitespace', () => {
    assert.equal(secretLineValue(`key: a${' '.repeat(40000)}b  `), `a${' '.repeat(40000)}b`);
    assert.equal(secretLineValue(':'.repeat(40000)), ':'.repeat(39999));
    assert.equal(secretLineValue('password: "abc"\r'), '"abc"');
    assert.equal(secretLineValue('a: x\ry: zzz'), 'zzz');
    assert.equal(secretLineValue('k: ab'), undefined);
  });
  test('API server errors with many "expected " words', () => {
    const text = 'expected '.repeat(40000);
    assert.equal(maskEchoedValues(text), text);
    assert.match(maskEchoedValues('.data: expected string, got &{map[a:b]}'), /expected string, got \*\*\*/);
  });
  test('printf format with a long run of zeros', () => {
    assert.ok(sprintf(`%${'0'.repeat(40000)}`, []) === `%${'0'.repeat(40000)}`);
    assert.equal(sprintf('%05d|%-3s|', [42, 'a'] as never), '00042|a  |');
  });
});
