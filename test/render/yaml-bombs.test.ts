// YAML bombs at every stage of a render (issue 9 findings 2 and 3): the kustomization file,
// resource files, patch files, inline patches, and postBuild substitution. Every case that
// could start kustomize runs under an explicit small memory and CPU limit, so this suite can
// never exhaust the machine even if a check were missing.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { kustomizeBuild, renderKustomization } from '../../shared/render/build.js';
import type { RenderInput } from '../../shared/render/build.js';
import { ExcessiveAliasingError, KustomizeLimitError } from '../../shared/render/errors.js';
import { SubstitutionAliasingError, SubstitutionError, mergeVariables, substituteVariables } from '../../shared/render/substitute.js';
import type { KubeObjectLike } from '../../shared/render/substitute.js';
import { ensureTools } from '../../shared/render/tools.js';
import { ValidationError } from '../../shared/util/errors.js';
import { aliasBomb, configMap, manyAliases, tempTree } from './helpers.js';

/** Limits for every build here: far below what a bomb needs, far above what these builds need. */
const LIMITS = { memoryLimitMiB: 160, cpuLimitSeconds: 20, timeoutMs: 60_000 } as const;

const render = (root: string, path: string, spec: RenderInput['spec'] = {}) => renderKustomization({ root, path, spec, batch: false, ...LIMITS });

/** A custom resource whose spec is an alias bomb (kustomize expands every alias of a resource). */
const bombResource = (levels = 30) => `apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: bomb\n${aliasBomb('spec', levels)}`;

/** `text` as the body of a block scalar under `  - patch: |`. */
const indent = (text: string) => text.replace(/^(?=.)/gm, '      ');

function excessive(file: string) {
  return (err: Error) => {
    assert.ok(err instanceof ExcessiveAliasingError, `expected ExcessiveAliasingError, got ${err.name}: ${err.message}`);
    assert.ok(err instanceof ValidationError);
    assert.equal(err.message, `excessive aliasing in ${file}`);
    assert.equal(err.file, file);
    return true;
  };
}

describe('excessive aliasing is refused before kustomize runs, naming the file', () => {
  test('in the kustomization file, at the build path and in a base', async (t) => {
    const root = await tempTree(t, {
      'apps/kustomization.yaml': `resources: [cm.yaml]\n${aliasBomb('commonAnnotations')}`,
      'apps/cm.yaml': configMap('cm'),
      'overlay/kustomization.yaml': 'resources: [../base]\n',
      'base/kustomization.yaml': `resources: [cm.yaml]\n${aliasBomb('commonAnnotations')}`,
      'base/cm.yaml': configMap('cm'),
    });
    await assert.rejects(render(root, 'apps'), excessive('apps/kustomization.yaml'));
    await assert.rejects(render(root, 'overlay'), excessive('base/kustomization.yaml'));
  });

  test('in a resource file, listed or found by the generator', async (t) => {
    const root = await tempTree(t, {
      'listed/kustomization.yaml': 'resources: [cm.yaml, bomb.yaml]\n',
      'listed/cm.yaml': configMap('cm'),
      'listed/bomb.yaml': bombResource(),
      'plain/cm.yaml': configMap('cm'),
      'plain/nested/bomb.yaml': bombResource(),
    });
    await assert.rejects(render(root, 'listed'), excessive('listed/bomb.yaml'));
    await assert.rejects(render(root, 'plain'), excessive('plain/nested/bomb.yaml'));
  });

  test('in spec.patches[].patch, in a kustomization patch and in a patch file', async (t) => {
    const root = await tempTree(t, {
      'apps/cm.yaml': configMap('cm'),
      'inline/kustomization.yaml': `resources: [cm.yaml]\npatches:\n  - patch: |\n${indent(configMap('cm'))}${aliasBomb('extra', 30, 8, '      ')}`,
      'inline/cm.yaml': configMap('cm'),
      'file/kustomization.yaml': 'resources: [cm.yaml]\npatches:\n  - path: patch.yaml\n',
      'file/cm.yaml': configMap('cm'),
      'file/patch.yaml': `${configMap('cm')}${aliasBomb('extra')}`,
    });
    const patch = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n${aliasBomb('data')}`;
    await assert.rejects(render(root, 'apps', { patches: [{ patch }] }), excessive('apps/kustomization.yaml (patches[].patch)'));
    await assert.rejects(render(root, 'inline'), excessive('inline/kustomization.yaml (patches[].patch)'));
    await assert.rejects(render(root, 'file'), excessive('file/patch.yaml'));
  });

  test('in a patch inside a transformer configuration', async (t) => {
    const transformer = `apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\ntarget:\n  kind: ConfigMap\npatch: |\n${indent(configMap('cm'))}${aliasBomb('extra', 30, 8, '      ')}`.replace(/^ {6}/gm, '  ');
    const root = await tempTree(t, { 'apps/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [t.yaml]\n', 'apps/cm.yaml': configMap('cm'), 'apps/t.yaml': transformer });
    await assert.rejects(render(root, 'apps'), excessive('apps/t.yaml (generator, transformer or validator configuration)'));
  });

  test('spread over many documents of one file, each within the budget alone', async (t) => {
    const doc = (i: number) => `apiVersion: example.com/v1\nkind: Thing\nmetadata:\n  name: t${i}\n${aliasBomb('spec', 3, 10)}`;
    const docs = Array.from({ length: 3000 }, (_, i) => doc(i)).join('---\n');
    const root = await tempTree(t, { 'apps/kustomization.yaml': 'resources: [things.yaml]\n', 'apps/things.yaml': docs });
    await assert.rejects(render(root, 'apps'), excessive('apps/things.yaml'));
  });

  test('aliases within go-yaml budget still build, expanded', async (t) => {
    const resource = `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  labels: &labels {team: a, tier: web}\n  annotations: *labels\ndata:\n  a: &v value\n  b: *v\n`;
    const root = await tempTree(t, {
      'apps/kustomization.yaml': `resources: [cm.yaml]\n${manyAliases(150)}`,
      'apps/cm.yaml': resource,
    });
    const [cm] = await render(root, 'apps');
    assert.deepEqual(cm!.metadata.labels, { team: 'a', tier: 'web' });
    assert.equal(cm!.metadata.annotations?.tier, 'web');
    assert.equal(cm!.metadata.annotations?.a149, 'value');
    assert.deepEqual(cm!.data, { a: 'value', b: 'value' });
  });
});

describe('kustomize runs under memory and CPU limits', () => {
  // Straight to kustomize, past the pre-scan: the limits alone must stop it.
  test('an alias bomb in a resource ends with "kustomize ran out of its memory limit"', async (t) => {
    const root = await tempTree(t, { 'kustomization.yaml': 'resources: [bomb.yaml]\n', 'bomb.yaml': bombResource() });
    const { kubectl } = await ensureTools();
    await assert.rejects(kustomizeBuild(kubectl, root, { root, memoryLimitMiB: 128, cpuLimitSeconds: 30 }), (err: Error) => {
      assert.ok(err instanceof KustomizeLimitError, `${err.name}: ${err.message}`);
      assert.equal(err.limit, 'memory');
      assert.equal(err.message, 'kustomize ran out of its memory limit (128 MiB)');
      return true;
    });
  });

  test('an alias bomb in an inline patch is stopped by a limit, never with a Go stack dump', async (t) => {
    const root = await tempTree(t, {
      'kustomization.yaml': `resources: [cm.yaml]\npatches:\n  - patch: |\n${indent(configMap('cm'))}${aliasBomb('extra', 30, 8, '      ')}`,
      'cm.yaml': configMap('cm'),
    });
    const { kubectl } = await ensureTools();
    await assert.rejects(kustomizeBuild(kubectl, root, { root, memoryLimitMiB: 128, cpuLimitSeconds: 5 }), (err: Error) => {
      // Which limit is hit first depends on the machine; either way it is this typed error.
      assert.ok(err instanceof ValidationError, `${err.name}: ${err.message}`);
      assert.doesNotMatch(err.message, /goroutine|runtime\.|panic:/);
      if (err instanceof KustomizeLimitError) {
        assert.match(err.message, /^kustomize (ran out of its memory limit \(128 MiB\)|used up its CPU time limit \(5 s\))$/);
      } else {
        // go-yaml's own budget refused the patch first.
        assert.match(err.message, /^kustomize build failed: .*excessive aliasing/s);
      }
      return true;
    });
  });

  test('a build within the limits is not disturbed by them', async (t) => {
    const root = await tempTree(t, { 'apps/cm.yaml': configMap('cm') });
    const objects = await renderKustomization({ root, path: 'apps', spec: {}, batch: false, memoryLimitMiB: 128, cpuLimitSeconds: 10 });
    assert.deepEqual(objects.map((o) => o.metadata.name), ['cm']);
  });
});

describe('postBuild substitution expands aliases within go-yaml budget', () => {
  const cm = (data: Record<string, unknown>): KubeObjectLike => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cfg', namespace: 'apps' }, data });

  /** One variable holding a flow-style billion laughs: `levels` levels of 10 aliases. */
  function bombVars(levels: number): Record<string, string> {
    const parts = ['&l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < levels; i++) parts.push(`&l${i} [${Array(10).fill(`*l${i - 1}`).join(',')}]`);
    return mergeVariables([], { BOMB: `[${parts.join(', ')}]` });
  }

  test('a few hundred bytes of variables do not become millions of objects', () => {
    const vars = bombVars(9);
    assert.ok(vars.BOMB!.length < 600, `${vars.BOMB!.length} bytes`);
    assert.throws(
      () => substituteVariables([cm({ x: '${BOMB}' })], vars, { strict: true }),
      (err: Error) => {
        assert.ok(err instanceof SubstitutionAliasingError, `${err.name}: ${err.message}`);
        assert.ok(err instanceof SubstitutionError && err instanceof ValidationError);
        assert.equal(err.message, "post build failed for 'ConfigMap/apps/cfg': envsubst error: YAMLToJSON: yaml: document contains excessive aliasing");
        assert.equal(err.objectId, 'ConfigMap/apps/cfg');
        return true;
      },
    );
  });

  test('the same in a Secret says no more than that', () => {
    const vars = bombVars(9);
    const secret: KubeObjectLike = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 's', namespace: 'apps' }, stringData: { pw: '${BOMB}' } };
    assert.throws(
      () => substituteVariables([secret], vars, { strict: true }),
      (err: Error) => err instanceof SubstitutionAliasingError && err.message === "post build failed for 'Secret/apps/s': envsubst error: YAMLToJSON: yaml: document contains excessive aliasing",
    );
  });

  test('a few aliases in substituted values still expand, as go-yaml expands them', () => {
    const [out] = substituteVariables([cm({ x: '${V}' })], { V: '[&a one, *a, *a]' }, { strict: true });
    assert.deepEqual(out!.data, { x: ['one', 'one', 'one'] });
  });
});
