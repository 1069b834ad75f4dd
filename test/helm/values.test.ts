import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseInto, parseIntoString, replacePathLiteralValue, replacePathValue } from '../../shared/helm/strvals.js';
import { encodeGoYaml, parseGoYaml, readValues } from '../../shared/helm/goyaml.js';
import { composeValues, mergeMaps, valuesDigest, ValuesReferenceError, type ValuesReference, type ValuesSource } from '../../shared/helm/values.js';

function src(configMaps: Record<string, Record<string, string>>, secrets: Record<string, Record<string, string>> = {}): ValuesSource & { reads: string[] } {
  const reads: string[] = [];
  return {
    reads,
    async configMap(ns, name) {
      reads.push(`ConfigMap/${ns}/${name}`);
      return configMaps[name];
    },
    async secret(ns, name) {
      reads.push(`Secret/${ns}/${name}`);
      const s = secrets[name];
      return s ? Object.fromEntries(Object.entries(s).map(([k, v]) => [k, Buffer.from(v)])) : undefined;
    },
  };
}

const ref = (r: Partial<ValuesReference> & Pick<ValuesReference, 'kind' | 'name'>): ValuesReference => ({ valuesKey: 'values.yaml', optional: false, literal: false, ...r });

describe('strvals (--set)', () => {
  test('paths, indexes, typed values', () => {
    const v: Record<string, unknown> = {};
    parseInto('a.b[1].c=5,d=true,e=null,f=0123,g=-7,h={x,y}', v);
    assert.deepEqual(v, { a: { b: [null, { c: 5 }] }, d: true, e: null, f: '0123', g: -7, h: ['x', 'y'] });
  });

  test('string mode, escapes and errors', () => {
    const v: Record<string, unknown> = {};
    parseIntoString('a\\.b=1,c=true', v);
    assert.deepEqual(v, { 'a.b': '1', c: 'true' });
    assert.throws(() => parseInto('a', {}), /key "a" has no value/);
    assert.throws(() => parseInto('a=1,b,', {}), /cannot end with ,/);
    assert.throws(() => parseInto('a.b=1', { a: 'x' }), /interface conversion/);
  });

  test('Flux ReplacePathValue: quotes force strings; a comma starts another key', () => {
    const v: Record<string, unknown> = {};
    replacePathValue(v, 'image.tag', '"1.10"');
    replacePathValue(v, 'replicas', '3');
    assert.deepEqual(v, { image: { tag: '1.10' }, replicas: 3 });
    assert.throws(() => replacePathValue({}, 'x', 'a,b'), /key "b" has no value/);
  });

  test('Flux ReplacePathLiteralValue keeps the value verbatim', () => {
    const v: Record<string, unknown> = {};
    replacePathLiteralValue(v, 'config', 'a,b[0]={c}\\d');
    assert.deepEqual(v, { config: 'a,b[0]={c}\\d' });
  });
});

describe('go-yaml v2 (sigs.k8s.io/yaml) semantics', () => {
  test('YAML 1.1 scalars when reading values', () => {
    assert.deepEqual(readValues('a: yes\nb: "yes"\nc: 0x1F\nd: 017\ne: 2001-12-14\nf: 1:20\ng: ~\nh: 1_000\n'), {
      a: true,
      b: 'yes',
      c: 31,
      d: 15,
      e: '2001-12-14',
      f: '1:20',
      g: null,
      h: 1000,
    });
    assert.deepEqual(readValues('base: &b {x: 1}\nd:\n  <<: *b\n  w: 2\n'), { base: { x: 1 }, d: { x: 1, w: 2 } });
    // A plain `y` key is the boolean true in YAML 1.1, so sigs.k8s.io/yaml names it "true".
    assert.deepEqual(readValues('y: 1\n'), { true: 1 });
    assert.deepEqual(readValues(''), {});
    assert.throws(() => readValues('- a\n'), /cannot unmarshal array/);
    assert.throws(() => parseGoYaml('a: [1'), /error converting YAML to JSON/);
  });

  // Expected bytes produced by go-yaml v2.4.0's encoder on the same values (keys sorted as
  // chartutil.SortMapSlice does), the input of fluxcd/pkg chartutil.DigestValues.
  test('encoder output matches go-yaml v2 byte for byte', () => {
    assert.equal(
      encodeGoYaml({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x: y' } }, { sortKeys: true }),
      "a:\n  c: 'x: y'\n  d:\n  - \"y\": 2\n    z: 1\nb: 1\n",
    );
    const long = Array(20).fill('word').join(' ');
    assert.equal(
      encodeGoYaml({ long, ann: { a: 'yes', b: '', c: 'line1\nline2\n' }, big: 1234567.5, e: {}, l: [], n: null, tag: '1.25' }, { sortKeys: true }),
      'ann:\n  a: "yes"\n  b: ""\n  c: |\n    line1\n    line2\nbig: 1.2345675e+06\ne: {}\nl: []\nlong: word word word word word word word word word word word word word word word word\n  word word word word\n"n": null\ntag: "1.25"\n',
    );
  });
});

describe('values composition (fluxcd/pkg chartutil)', () => {
  test('mergeMaps merges maps and replaces lists and scalars', () => {
    assert.deepEqual(mergeMaps({ a: { b: 1, c: [1, 2] }, d: 1 }, { a: { c: [3] }, d: { e: 1 } }), { a: { b: 1, c: [3] }, d: { e: 1 } });
  });

  test('refs in order, spec.values on top, each object read once', async () => {
    const s = src({ base: { 'values.yaml': 'a: 1\nb: {c: 1, d: 1}\nlist: [1, 2]\n', other: 'b: {d: 2}\n' } });
    const out = await composeValues(s, 'ns', { b: { c: 9 }, list: [3] }, [ref({ kind: 'ConfigMap', name: 'base' }), ref({ kind: 'ConfigMap', name: 'base', valuesKey: 'other' })]);
    assert.deepEqual(out.values, { a: 1, b: { c: 9, d: 2 }, list: [3] });
    assert.deepEqual(s.reads, ['ConfigMap/ns/base']);
  });

  test('targetPath wins over spec.values when the parent exists there (shared maps)', async () => {
    const s = src({}, { sec: { tag: 'from-secret', pw: '"s3cr3t"' } });
    const out = await composeValues(s, 'ns', { image: { tag: 'from-values' } }, [ref({ kind: 'Secret', name: 'sec', valuesKey: 'tag', targetPath: 'image.tag' })]);
    assert.equal((out.values.image as Record<string, unknown>).tag, 'from-secret');
  });

  test('a later root ref overwrites a targetPath whose parent is not in spec.values', async () => {
    const s = src({ cm: { 'values.yaml': 'db:\n  host: root-ref\n' } }, { sec: { host: 'target' } });
    const out = await composeValues(s, 'ns', { other: 1 }, [ref({ kind: 'Secret', name: 'sec', valuesKey: 'host', targetPath: 'db.host' }), ref({ kind: 'ConfigMap', name: 'cm' })]);
    assert.deepEqual(out.values.db, { host: 'root-ref' });
  });

  test('optional references are skipped; required ones fail with Flux’s message', async () => {
    const s = src({ cm: { other: 'x: 1' } });
    const out = await composeValues(s, 'ns', undefined, [ref({ kind: 'ConfigMap', name: 'gone', optional: true }), ref({ kind: 'ConfigMap', name: 'cm', optional: true })]);
    assert.deepEqual(out.values, {});
    assert.equal(out.skipped.length, 2);
    await assert.rejects(composeValues(s, 'ns', undefined, [ref({ kind: 'Secret', name: 'gone' })]), (err: unknown) => {
      assert.ok(err instanceof ValuesReferenceError);
      assert.equal(err.message, `could not resolve Secret chart values reference 'ns/gone' with key 'values.yaml': secrets "gone" not found`);
      assert.equal(err.reason, 'ResourceNotFound');
      return true;
    });
    await assert.rejects(composeValues(s, 'ns', undefined, [ref({ kind: 'ConfigMap', name: 'cm' })]), /with key 'values.yaml': key not found/);
  });

  test('values that are not a YAML map fail naming object and key', async () => {
    const s = src({ cm: { 'values.yaml': '- not\n- a map\n' } });
    await assert.rejects(composeValues(s, 'ns', undefined, [ref({ kind: 'ConfigMap', name: 'cm' })]), /could not resolve ConfigMap chart values reference 'ns\/cm' with key 'values.yaml': .*cannot unmarshal array/);
  });

  test('composing never mutates the caller’s spec.values', async () => {
    const values = { image: { tag: 'v' } };
    await composeValues(src({}, { s: { t: 'x' } }), 'ns', values, [ref({ kind: 'Secret', name: 's', valuesKey: 't', targetPath: 'image.tag' })]);
    assert.deepEqual(values, { image: { tag: 'v' } });
  });

  // Golden digests: fluxcd/pkg chartutil.DigestValues(digest.SHA256, v) on the same values.
  test('values digest equals Flux’s', () => {
    assert.equal(valuesDigest({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 'x: y' } }), 'sha256:3f3edb6e1aecad9a45488e82d887f3682d0be4cb1caa429b38c82d71d6e06d70');
    assert.equal(valuesDigest({}), 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(valuesDigest(undefined), valuesDigest({}));
    assert.notEqual(valuesDigest({ a: 'yes' }), valuesDigest({ a: true }));
  });
});
