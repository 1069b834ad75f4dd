import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { kubernetesYamlProblem } from '../../shared/render/generator.js';
import { parseManifests } from '../../shared/render/manifests.js';
import { materializeBuildTree } from '../../shared/render/materialize.js';
import { analyseYaml, YamlSyntaxError } from '../../shared/render/yaml-analysis.js';
import { GoYamlError, parseGoYaml } from '../../shared/helm/goyaml.js';
import { MAX_YAML_NESTING, yamlNestingProblem } from '../../shared/util/yaml-depth.js';
import { configMap, tempTree } from './helpers.js';
import { applySettersToText } from '../../shared/images/setters.js';
import { parseYamlBranches } from '../../shared/sops/store-yaml.js';
import { parseSubstitutedYaml, YamlRoundTripError } from '../../shared/render/substitute-yaml.js';
import { loadYamlMap } from '../../shared/kinds/artifactgenerator/merge.js';

const flow = (d: number) => '['.repeat(d) + ']'.repeat(d);
const cm = (value: string) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: ${value}\n`;

describe('deeply nested YAML is refused before the yaml package recurses on it', () => {
  test('flow, flow mapping, block and compact nesting past the limit; quoted and block scalars are not nesting', () => {
    const deep = {
      flow: `a: ${flow(100_000)}`,
      flowMap: 'a: ' + '{a: '.repeat(20_000) + '1' + '}'.repeat(20_000),
      block: Array.from({ length: 2000 }, (_, i) => ' '.repeat(i) + 'a:').join('\n') + ' 1\n',
      compact: '- '.repeat(5000) + 'x\n',
      secondDocument: `a: 1\n---\nb: ${flow(1000)}\n`,
    };
    for (const [name, text] of Object.entries(deep)) assert.match(yamlNestingProblem(text) ?? '', /nested more than \d+ levels deep/, name);
    const fine = {
      atLimit: `a: ${flow(MAX_YAML_NESTING - 1)}`,
      quoted: `a: "${'['.repeat(100_000)}"`,
      blockScalar: `a: |\n  ${'['.repeat(100_000)}\n`,
      comment: `# ${'{'.repeat(100_000)}\na: 1\n`,
    };
    for (const [name, text] of Object.entries(fine)) assert.equal(yamlNestingProblem(text), undefined, name);
    // What is accepted composes without exhausting the stack.
    assert.equal(parseAllDocuments(fine.atLimit)[0]?.errors.length, 0);
  });

  test('every entry point says so: generator, reference scan, kustomize output, Helm values', () => {
    const text = cm(flow(50_000));
    assert.match(kubernetesYamlProblem(text) ?? '', /nested more than/);
    assert.throws(() => analyseYaml(text), (e: unknown) => e instanceof YamlSyntaxError && /nested more than/.test(e.message));
    assert.throws(() => parseManifests(text), /failed to parse kustomize output: YAML nested more than/);
    assert.throws(() => parseGoYaml(`a: ${flow(50_000)}`), (e: unknown) => e instanceof GoYamlError && /nested more than/.test(e.message));
    assert.equal(kubernetesYamlProblem(cm(flow(20))), undefined);
  });
});

describe('Helm YAML (parseGoYaml) keeps go-yaml alias budget', () => {
  /** `levels` levels of 10 aliases each: 10^levels strings from a few hundred bytes. */
  const bomb = (levels: number) => {
    let s = 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]\n';
    for (let i = 1; i < levels; i++) s += `a${i}: &a${i} [${Array(10).fill(`*a${i - 1}`).join(',')}]\n`;
    return s;
  };
  test('a billion laughs in values.yaml, Chart.yaml or index.yaml is "document contains excessive aliasing"', () => {
    for (const levels of [5, 9, 40]) {
      assert.throws(() => parseGoYaml(bomb(levels)), (e: unknown) => e instanceof GoYamlError && e.message === 'error converting YAML to JSON: yaml: document contains excessive aliasing');
    }
  });
  test('aliases within the budget still expand, merge keys too', () => {
    const v = parseGoYaml(bomb(2) + 'base: &b {x: 1}\nm:\n  <<: *b\n  z: 2\n') as Record<string, unknown>;
    assert.equal((v.a1 as unknown[][]).flat().length, 100);
    assert.deepEqual(v.m, { x: 1, z: 2 });
  });
});

describe('materializeBuildTree with many references to the same directories', () => {
  test('each directory is walked and linked once, nested subtrees with their parent, whatever the order', async (t) => {
    const files: Record<string, string> = {};
    const n = 60;
    for (let i = 0; i < n; i++) {
      // Every kustomization references every later one, and one inside itself: n^2 references.
      const refs = Array.from({ length: n - i - 1 }, (_, j) => `../d${i + j + 1}`).concat(['./inner', '../d0/inner']);
      files[`d${i}/kustomization.yaml`] = `resources:\n${refs.map((r) => `- ${r}`).join('\n')}\n`;
      files[`d${i}/inner/cm.yaml`] = configMap(`c${i}`);
    }
    files['unrelated/cm.yaml'] = configMap('unrelated');
    const src = await tempTree(t, files);
    const dest = await tempTree(t);
    const res = await materializeBuildTree(src, 'd0', [], dest);
    assert.deepEqual([...res.dirs].sort(), Array.from({ length: n }, (_, i) => `d${i}`).sort());
    assert.equal(res.files, 2 * n);
    const linked = (await readdir(dest, { recursive: true })).map((p) => p.split(path.sep).join('/')).filter((p) => p.endsWith('.yaml'));
    assert.equal(linked.length, 2 * n);
    assert.ok(!linked.includes('unrelated/cm.yaml'));
  });
});

describe('the other YAML readers refuse the same nesting with their own errors', () => {
  const deep = `a: ${flow(50_000)}\n`;
  test('image setters skip the file, SOPS, substitution, ArtifactGenerator and release manifests fail it', () => {
    assert.equal(applySettersToText(deep, new Map([['ns:app', 'img:1']])), undefined);
    assert.throws(() => parseYamlBranches(Buffer.from(deep)), /nested more than \d+ levels deep/);
    assert.throws(() => parseSubstitutedYaml(deep), (e: unknown) => e instanceof YamlRoundTripError && /nested more than/.test(e.message));
    assert.throws(() => loadYamlMap(deep, 'values.yaml'), /cannot unmarshal YAML document in values\.yaml: YAML nested more than/);
    // Within the limit they read as before.
    assert.deepEqual(parseSubstitutedYaml('a: [[1]]\n'), { a: [[1]] });
  });
});
