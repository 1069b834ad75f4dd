import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  AliasBudget,
  YMap,
  YamlSyntaxError,
  allowedAliasRatio,
  analyseYaml,
  exceedsAliasBudget,
  fieldValues,
  foldKey,
  mayHaveAliases,
  stringsOf,
} from '../../shared/render/yaml-analysis.js';
import { aliasBomb, manyAliases } from './helpers.js';

describe("go-yaml's alias budget", () => {
  test('the allowed alias ratio falls from 99% to 10% between 400k and 4M decodes', () => {
    assert.equal(allowedAliasRatio(1000), 0.99);
    assert.equal(allowedAliasRatio(400_000), 0.99);
    assert.ok(Math.abs(allowedAliasRatio(2_200_000) - 0.545) < 1e-9);
    assert.equal(allowedAliasRatio(4_000_000), 0.1);
    assert.equal(allowedAliasRatio(40_000_000), 0.1);
  });

  test('small documents and few aliases are always allowed', () => {
    assert.equal(exceedsAliasBudget(1000, 999), false, 'at most 1000 decodes');
    assert.equal(exceedsAliasBudget(100_000, 100), false, 'at most 100 alias decodes');
    assert.equal(exceedsAliasBudget(2000, 1990), true);
    assert.equal(exceedsAliasBudget(2000, 1970), false);
    assert.equal(exceedsAliasBudget(Infinity, Infinity), true);
  });

  test('decodes are counted as go-yaml counts them', () => {
    // document, mapping, key a, sequence + 2 items, key b, the alias, and the 3 nodes it expands to
    const a = analyseYaml('a: &x [1, 2]\nb: *x\n');
    assert.equal(a.decodes, 11);
    assert.equal(a.aliasDecodes, 3);
    assert.equal(a.excessive, false);
  });

  test('the incremental counter fails where go-yaml fails', () => {
    const b = new AliasBudget();
    let failedAt = 0;
    for (let i = 1; i <= 2000 && !failedAt; i++) {
      if (i > 10) b.enter(); // everything after the first 10 nodes comes from one alias
      if (b.decode()) failedAt = i;
      if (i > 10) b.leave();
    }
    assert.equal(failedAt, 1001, 'the first decode past 1000 with a ratio above 99%');
  });

  test('billion laughs is excessive from the fourth level of ten; the usual uses of aliases are not', () => {
    assert.equal(analyseYaml(aliasBomb('x', 3, 10)).excessive, false);
    assert.equal(analyseYaml(aliasBomb('x', 4, 10)).excessive, true);
    const huge = analyseYaml(aliasBomb('x', 60, 10));
    assert.equal(huge.excessive, true, 'counted, never expanded');
    assert.equal(analyseYaml(manyAliases(150)).excessive, false);
    assert.equal(analyseYaml(manyAliases(5000)).excessive, false);
  });

  test('a file of many documents is judged as a whole too', () => {
    const doc = aliasBomb('x', 3, 10);
    assert.equal(analyseYaml(doc).excessive, false);
    assert.equal(analyseYaml(Array(3000).fill(doc).join('---\n')).excessive, true);
  });

  test('an alias inside its own anchor is excessive; an unknown anchor is not counted', () => {
    assert.equal(analyseYaml('a: &x [1, *x]\n').excessive, true);
    assert.equal(analyseYaml('a: *nowhere\n').excessive, false);
  });

  test('YAML that does not parse or nests too deeply is a YamlSyntaxError with the line', () => {
    assert.throws(() => analyseYaml('a: [b\nc: d\n'), (err: Error) => err instanceof YamlSyntaxError && /^line \d+: /.test(err.message));
    assert.throws(() => analyseYaml(`${'['.repeat(1500)}${']'.repeat(1500)}`), YamlSyntaxError);
  });

  test('mayHaveAliases only lets files with both an anchor and an alias through', () => {
    assert.equal(mayHaveAliases('verbs: ["*"]\nquery: "a&b"\n'), false);
    assert.equal(mayHaveAliases('a: &x 1\n'), false);
    assert.equal(mayHaveAliases('a: &x 1\nb: *x\n'), true);
    assert.equal(mayHaveAliases('&x [1]\n---\n[*x]\n'), true);
  });
});

describe('the analysis tree reads fields as kustomize decodes them', () => {
  const tree = (text: string) => analyseYaml(text, { tree: true }).docs[0]!;
  const resources = (text: string) => stringsOf(fieldValues(tree(text), 'resources'));

  test('field names match case-insensitively, with the Unicode runes Go folds to ASCII', () => {
    assert.equal(foldKey('reſources'), 'RESOURCES');
    assert.equal(foldKey('\u212Aind'), 'KIND');
    assert.equal(foldKey('résources'), 'RéSOURCES');
    assert.deepEqual(resources('Resources: [a]\nRESOURCES: [b]\nreſources: [c]\nrésources: [d]\n'), ['a', 'b', 'c']);
  });

  test('duplicates, merges and aliases all count', () => {
    assert.deepEqual(resources('resources: [a]\nresources: [b]\n'), ['a', 'b']);
    assert.deepEqual(resources('<<: {resources: [a]}\n'), ['a']);
    assert.deepEqual(resources('x: &m {resources: [a]}\ny: &n {resources: [b]}\n<<: [*m, *n]\n'), ['a', 'b']);
    assert.deepEqual(resources('x: &r [a, b]\nresources: *r\n'), ['a', 'b']);
    assert.deepEqual(resources('"<<": {resources: [quoted-key-is-not-a-merge]}\n'), []);
  });

  test('scalars are the text as written; !!binary is decoded', () => {
    assert.deepEqual(resources('resources: [0755, yes, ~, "q", !!str s]\n'), ['0755', 'yes', '~', 'q', 's']);
    assert.deepEqual(resources(`resources: [!!binary ${Buffer.from('../../x').toString('base64')}]\n`), ['../../x']);
  });

  test('aliases share their anchor: a bomb has a tree as small as its text', () => {
    const t = tree(aliasBomb('x', 40, 10));
    assert.ok(t instanceof YMap);
    const x = fieldValues(t, 'x')[0] as YMap;
    const [, l39] = x.entries[39]!;
    const [, l38] = x.entries[38]!;
    assert.ok(Array.isArray(l39) && l39.every((item) => item === l38), 'each alias is the anchored value itself');
  });
});
