import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { renderKustomization } from '../../shared/render/build.js';
import { isLocalRelativePath, kubernetesYamlProblem, prepareKustomization } from '../../shared/render/generator.js';
import { ValidationError } from '../../shared/util/errors.js';
import type { KubeObject } from '../../shared/render/types.js';
import { configMap, deployment, tempTree } from './helpers.js';

function byName(objects: KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

interface KustomizationFile {
  resources?: string[];
  namespace?: string;
  namePrefix?: string;
  buildMetadata?: string[];
  images?: Array<Record<string, string>>;
  components?: string[];
  patches?: Array<{ patch: string; target?: Record<string, string> }>;
  [k: string]: unknown;
}

async function readKustomization(file: string): Promise<KustomizationFile> {
  return parse(await readFile(file, 'utf8')) as KustomizationFile;
}

describe('generated kustomization', () => {
  test('lists every yaml file recursively; a subdirectory with its own kustomization is one resource', async (t) => {
    const root = await tempTree(t, {
      'apps/a.yaml': `# leading comment\n---\n${configMap('a')}---\n# only a comment\n---\n`,
      'apps/z/b.yml': configMap('b'),
      'apps/z/deeper/c.yaml': configMap('c'),
      'apps/m/kustomization.yaml': 'resources: [c.yaml]\nnamePrefix: m-\n',
      'apps/m/c.yaml': configMap('c'),
      // Not descended into: m has its own kustomization, so this non-manifest is never read.
      'apps/m/values.yaml': 'replicaCount: 2\n',
      'apps/empty.yaml': '',
      'apps/README.md': '# docs\n',
      'apps/data.json': '{"not": "a manifest"}',
      'other/ignored.yaml': configMap('outside-path'),
    });
    const objects = await renderKustomization({ root, path: './apps', spec: {} });
    assert.deepEqual([...byName(objects).keys()].sort(), ['ConfigMap/a', 'ConfigMap/b', 'ConfigMap/c', 'ConfigMap/m-c']);

    const k = await readKustomization(path.join(root, 'apps/kustomization.yaml'));
    // Go filepath.Walk order: depth first, names in byte order, files and directories interleaved.
    assert.deepEqual(k.resources, ['./a.yaml', './empty.yaml', './m', './z/b.yml', './z/deeper/c.yaml']);
  });

  test('a broken YAML file fails the generation and the error names the file', async (t) => {
    const root = await tempTree(t, {
      'apps/ok.yaml': configMap('ok'),
      'apps/sub/broken.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [unclosed\n',
    });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {} }), (err: Error) => {
      assert.ok(err instanceof ValidationError, String(err));
      assert.match(err.message, /failed to decode Kubernetes YAML from apps\/sub\/broken\.yaml/);
      return true;
    });
  });

  test('a YAML file that is not a Kubernetes object fails, naming the file and what is missing', async (t) => {
    const root = await tempTree(t, {
      'deploy/app.yaml': configMap('app'),
      'deploy/values.yaml': 'replicaCount: 1\nimage: nginx\n',
    });
    await assert.rejects(renderKustomization({ root, path: 'deploy', spec: {} }), (err: Error) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /deploy\/values\.yaml/);
      assert.match(err.message, /missing apiVersion and kind/);
      return true;
    });
  });

  test('an empty directory renders no objects', async (t) => {
    const root = await tempTree(t, { 'empty/README.md': 'nothing to deploy\n' });
    const objects = await renderKustomization({ root, path: 'empty', spec: { targetNamespace: 'x' } });
    assert.deepEqual(objects, []);
  });

  test('a generated kustomization gets the spec fields too', async (t) => {
    const root = await tempTree(t, { 'apps/web.yaml': deployment('web', 'nginx:1.0') });
    const objects = await renderKustomization({
      root,
      path: 'apps',
      spec: { targetNamespace: 'prod', namePrefix: 'team-', images: [{ name: 'nginx', newTag: '1.27' }] },
    });
    assert.equal(objects.length, 1);
    const d = objects[0] as KubeObject & { spec: { template: { spec: { containers: Array<{ image: string }> } } } };
    assert.equal(d.metadata.name, 'team-web');
    assert.equal(d.metadata.namespace, 'prod');
    assert.equal(d.spec.template.spec.containers[0].image, 'nginx:1.27');
  });
});

describe('merging the spec into an existing kustomization', () => {
  const base = {
    'apps/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - web.yaml
  - settings.yaml
images:
  - name: nginx
    newName: docker.io/library/nginx
    newTag: "1.0"
patches:
  - target: {kind: Deployment}
    patch: |
      - op: add
        path: /metadata/labels/from-file
        value: "yes"
`,
    'apps/web.yaml': deployment('web', 'nginx:0.1') .replace('image: nginx:0.1', 'image: nginx:0.1\n        - name: sidecar\n          image: busybox'),
    'apps/settings.yaml': configMap('settings'),
    'components/extra/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
labels:
  - pairs:
      component: extra
`,
  };

  test('targetNamespace, namePrefix, nameSuffix, patches, images and components are applied', async (t) => {
    const root = await tempTree(t, base);
    const digest = 'sha256:' + 'a'.repeat(64);
    const objects = await renderKustomization({
      root,
      path: './apps',
      spec: {
        targetNamespace: 'prod',
        namePrefix: 'p-',
        nameSuffix: '-s',
        patches: [
          {
            patch: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: not-used\nspec:\n  replicas: 3\n',
            target: { kind: 'Deployment', name: 'web' },
          },
          { patch: '[{"op": "add", "path": "/data/extra", "value": "x"}]', target: { kind: 'ConfigMap', name: 'settings' } },
        ],
        images: [
          { name: 'nginx', newTag: '1.27' },
          { name: 'busybox', newName: 'registry.local/busybox', digest },
        ],
        components: ['../components/extra'],
      },
    });
    const m = byName(objects);
    const web = m.get('Deployment/p-web-s') as KubeObject & {
      spec: { replicas: number; template: { spec: { containers: Array<{ name: string; image: string }> } } };
    };
    assert.ok(web, `objects: ${[...m.keys()].join(', ')}`);
    assert.equal(web.metadata.namespace, 'prod');
    assert.equal(web.spec.replicas, 3);
    // The file's own patch still applies: spec patches are appended, not substituted.
    assert.equal(web.metadata.labels?.['from-file'], 'yes');
    assert.equal(web.metadata.labels?.component, 'extra');
    const images = Object.fromEntries(web.spec.template.spec.containers.map((c) => [c.name, c.image]));
    // Flux replaces a same-named image entry whole: the file's newName is gone.
    assert.equal(images.main, 'nginx:1.27');
    assert.equal(images.sidecar, `registry.local/busybox@${digest}`);

    const cm = m.get('ConfigMap/p-settings-s') as KubeObject & { data: Record<string, string> };
    assert.ok(cm);
    assert.equal(cm.data.extra, 'x');
    assert.equal(cm.metadata.namespace, 'prod');

    const k = await readKustomization(path.join(root, 'apps/kustomization.yaml'));
    assert.equal(k.images?.length, 2);
    assert.deepEqual(k.images?.[0], { name: 'nginx', newTag: '1.27' });
    assert.equal(k.patches?.length, 3);
    assert.deepEqual(k.components, ['../components/extra']);
  });

  test('a kustomization.yml is merged in place and no second kustomization file appears', async (t) => {
    const root = await tempTree(t, {
      'apps/kustomization.yml': 'resources: [cm.yaml]\n',
      'apps/cm.yaml': configMap('cm'),
    });
    const objects = await renderKustomization({ root, path: 'apps', spec: { targetNamespace: 'on' } });
    assert.equal(objects[0].metadata.namespace, 'on');
    await assert.rejects(access(path.join(root, 'apps/kustomization.yaml')));
    const k = await readKustomization(path.join(root, 'apps/kustomization.yml'));
    assert.equal(k.namespace, 'on');
  });

  test('unknown top-level fields are dropped as Flux does, other fields keep their text', async (t) => {
    const root = await tempTree(t, {
      'apps/kustomization.yaml': '# keep me\nresources: [cm.yaml]\nresource: [typo.yaml]\ncommonLabels:\n  tier: "on"\n',
      'apps/cm.yaml': configMap('cm'),
    });
    const res = await prepareKustomization(root, path.join(root, 'apps'), { namePrefix: 'x-' });
    assert.equal(res.action, 'unchanged');
    const text = await readFile(res.file, 'utf8');
    assert.match(text, /# keep me/);
    assert.doesNotMatch(text, /typo/);
    assert.deepEqual(parse(text), { resources: ['cm.yaml'], commonLabels: { tier: 'on' }, namePrefix: 'x-' });
  });

  test('an existing kustomization without resources still builds (originAnnotations, as Flux)', async (t) => {
    const root = await tempTree(t, {
      'gen/kustomization.yaml': 'configMapGenerator:\n  - name: settings\n    literals: [mode=fast]\n',
    });
    const objects = await renderKustomization({ root, path: 'gen', spec: {} });
    assert.equal(objects.length, 1);
    assert.match(objects[0].metadata.name, /^settings-/);
    assert.match(objects[0].metadata.annotations?.['config.kubernetes.io/origin'] ?? '', /ConfigMapGenerator/);
    const k = await readKustomization(path.join(root, 'gen/kustomization.yaml'));
    assert.deepEqual(k.buildMetadata, ['originAnnotations']);
  });

  test('components must be local relative paths; missing ones are dropped only with ignoreMissingComponents', async (t) => {
    const root = await tempTree(t, { 'apps/cm.yaml': configMap('cm') });
    await assert.rejects(
      renderKustomization({ root, path: 'apps', spec: { components: ['https://github.com/org/repo//comp'] } }),
      (err: Error) => err instanceof ValidationError && /must be local and relative/.test(err.message),
    );
    await assert.rejects(
      renderKustomization({ root, path: 'apps', spec: { components: ['missing'] } }),
      (err: Error) => err instanceof ValidationError && /kustomize build failed/.test(err.message),
    );
    const root2 = await tempTree(t, { 'apps/cm.yaml': configMap('cm') });
    const objects = await renderKustomization({
      root: root2,
      path: 'apps',
      spec: { components: ['missing'], ignoreMissingComponents: true },
    });
    assert.equal(objects.length, 1);
  });
});

describe('pure helpers', () => {
  test('isLocalRelativePath matches Flux', () => {
    const cases: Array<[string, boolean]> = [
      ['foobar.yaml', true],
      ['./foobar.yaml', true],
      ['../components/x', true],
      ['file://foobar.yaml', true],
      ['file:///foobar.yaml', false],
      ['/foobar.yaml', false],
      ['https://github.com/owner/repo', false],
      ['git@github.com:owner/repo', false],
      ['ssh://git@github.com/owner/repo', false],
      ['github.com/owner/repo', false],
    ];
    for (const [p, want] of cases) assert.equal(isLocalRelativePath(p), want, p);
  });

  test('kubernetesYamlProblem accepts lists and empty documents, rejects non-objects', () => {
    assert.equal(kubernetesYamlProblem(''), undefined);
    assert.equal(kubernetesYamlProblem('---\n# c\n---\n'), undefined);
    assert.equal(kubernetesYamlProblem(`apiVersion: v1\nkind: List\nitems:\n- ${configMap('a').replace(/\n/g, '\n  ')}`), undefined);
    assert.match(kubernetesYamlProblem('apiVersion: v1\nkind: List\nitems:\n- {kind: ConfigMap}\n') ?? '', /items\[0\]: missing apiVersion/);
    assert.match(kubernetesYamlProblem('- a\n- b\n') ?? '', /not a mapping/);
    assert.match(kubernetesYamlProblem(`${configMap('a')}---\nkind: X\n`) ?? '', /document 2: missing apiVersion/);
  });
});
