import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { renderKustomization } from '../../shared/render/build.js';
import { prepareKustomization } from '../../shared/render/generator.js';
import { materializeBuildTree } from '../../shared/render/materialize.js';
import { buildArtifact } from '../../shared/artifacts/build.js';
import { readArtifact } from '../../shared/artifacts/extract.js';
import { memoryTree, type ArtifactTree } from '../../shared/artifacts/tree.js';
import type { KubeObject, RenderSpec } from '../../shared/render/types.js';
import { configMap, deployment, manyAliases, tempTree, writeTree } from './helpers.js';

const B_KUSTOMIZATION = `resources:
  - ../../base
patches:
  - path: ../shared/patch.yaml
`;

/** An extracted artifact: two apps, a base, a component, and files no build here reads. */
const SOURCE: Record<string, string> = {
  'apps/a/web.yaml': deployment('web', 'nginx:1.25'),
  'apps/a/config/cm.yaml': configMap('web-config'),
  'apps/b/kustomization.yaml': B_KUSTOMIZATION,
  'apps/c/kustomization.yaml': 'namespace: c\nresources: [../../base]\n',
  'apps/shared/patch.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-config\ndata:\n  patched: "true"\n',
  'apps/shared/unused.yaml': configMap('unused'),
  'base/kustomization.yaml': 'resources: [cm.yaml, nested]\n',
  'base/cm.yaml': configMap('base-config'),
  'base/nested/kustomization.yaml': 'resources: [deploy.yaml]\n',
  'base/nested/deploy.yaml': deployment('base-app', 'redis:7'),
  'components/x/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1
kind: Component
labels:
  - pairs: {component: x}
`,
  'unrelated/cm.yaml': configMap('unrelated'),
};

/** Every file below `dir`, relative to it, sorted. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)))
    .sort();
}

async function source(t: TestContext): Promise<{ src: string; dest: string }> {
  const src = await realpath(await tempTree(t, SOURCE, 'fluxless-mat-src-'));
  const dest = path.join(await realpath(await tempTree(t, {}, 'fluxless-mat-dest-')), 'src');
  return { src, dest };
}

function sorted(objects: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject) => [o.apiVersion, o.kind, o.metadata.namespace ?? '', o.metadata.name].join('/');
  return [...objects].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

describe('materializeBuildTree', () => {
  test('links the spec.path subtree, the directories it references and single referenced files', async (t) => {
    const { src, dest } = await source(t);
    const res = await materializeBuildTree(src, './apps/b', [], dest);
    assert.deepEqual(res.dirs.sort(), ['apps/b', 'base']);
    const expected = [
      'apps/b/kustomization.yaml',
      'apps/shared/patch.yaml',
      'base/cm.yaml',
      'base/kustomization.yaml',
      'base/nested/deploy.yaml',
      'base/nested/kustomization.yaml',
    ];
    assert.deepEqual(await listFiles(dest), expected);
    assert.equal(res.files, expected.length);
    // Hard links into the source, not copies.
    for (const f of expected) {
      assert.equal((await stat(path.join(dest, f))).ino, (await stat(path.join(src, f))).ino, f);
    }
  });

  test('spec.components are linked with the spec.path subtree', async (t) => {
    const { src, dest } = await source(t);
    const res = await materializeBuildTree(src, 'apps/a', ['../../components/x'], dest);
    assert.deepEqual(res.dirs.sort(), ['apps/a', 'components/x']);
    assert.deepEqual(await listFiles(dest), ['apps/a/config/cm.yaml', 'apps/a/web.yaml', 'components/x/kustomization.yaml']);
  });

  test('a missing or escaping spec.path links nothing', async (t) => {
    const { src, dest } = await source(t);
    assert.deepEqual(await materializeBuildTree(src, 'apps/nope', [], dest), { dirs: [], files: 0 });
    assert.deepEqual(await materializeBuildTree(src, '../', ['../unrelated'], dest), { dirs: [], files: 0 });
    assert.deepEqual(await readdir(dest), []);
  });

  test('the generator replaces the linked kustomization file, leaving the source pristine', async (t) => {
    const { src, dest } = await source(t);
    await materializeBuildTree(src, 'apps/b', [], dest);
    const srcFile = path.join(src, 'apps/b/kustomization.yaml');
    const destFile = path.join(dest, 'apps/b/kustomization.yaml');
    const srcIno = (await stat(srcFile)).ino;

    await prepareKustomization(dest, path.join(dest, 'apps/b'), { targetNamespace: 'team-b', namePrefix: 'b-' });
    assert.match(await readFile(destFile, 'utf8'), /namespace: "team-b"/);
    assert.equal(await readFile(srcFile, 'utf8'), B_KUSTOMIZATION);
    assert.equal((await stat(srcFile)).ino, srcIno);
    assert.notEqual((await stat(destFile)).ino, srcIno, 'the merged file is a new file, not the link');
  });

  test('references are read as kustomize reads them: any letter case, behind aliases and merges', async (t) => {
    const { src, dest } = await source(t);
    await writeTree(src, {
      'apps/d/kustomization.yaml': `${manyAliases(150)}Resources: [../../base]\n<<: {components: [../../components/x]}\n`,
    });
    const res = await materializeBuildTree(src, 'apps/d', [], dest);
    assert.deepEqual(res.dirs.sort(), ['apps/d', 'base', 'components/x']);
  });

  test('from an artifact held in memory: the same files as from the extracted one, written rather than linked', async (t) => {
    const { src, dest } = await source(t);
    const tree: ArtifactTree = memoryTree(await readArtifact((await buildArtifact(src)).tarGz));
    const cases = [{ path: './apps/b', components: [] as string[] }, { path: 'apps/a', components: ['../../components/x'] }, { path: 'apps/nope', components: [] }];
    for (const [i, c] of cases.entries()) {
      const fromDisk = path.join(dest, `disk-${i}`);
      const fromMemory = path.join(dest, `memory-${i}`);
      const [a, b] = [await materializeBuildTree(src, c.path, c.components, fromDisk), await materializeBuildTree(tree, c.path, c.components, fromMemory)];
      assert.deepEqual(b, a, c.path);
      const files = await listFiles(fromDisk);
      assert.deepEqual(await listFiles(fromMemory), files, c.path);
      for (const f of files) {
        assert.equal(await readFile(path.join(fromMemory, f), 'utf8'), await readFile(path.join(src, f), 'utf8'), f);
        assert.notEqual((await stat(path.join(fromMemory, f))).ino, (await stat(path.join(src, f))).ino, `${f} is a file of its own`);
      }
    }
  });

  test('a build on the materialized tree renders as on the whole artifact', async (t) => {
    const cases: Array<{ path: string; spec: RenderSpec }> = [
      { path: 'apps/a', spec: { targetNamespace: 'a', components: ['../../components/x'] } },
      { path: 'apps/c', spec: { commonMetadata: { labels: { tier: 'c' } } } },
      // A patch file outside apps/b (linked into the tree), as Flux reads it.
      { path: 'apps/b', spec: {} },
    ];
    for (const c of cases) {
      const full = await tempTree(t, SOURCE);
      const { src, dest } = await source(t);
      await materializeBuildTree(src, c.path, c.spec.components ?? [], dest);
      const render = (root: string) => renderKustomization({ root, path: c.path, spec: c.spec, batch: false }).then(sorted, (e: Error) => e.message);
      const [onFull, onLinked] = [await render(full), await render(dest)];
      assert.deepEqual(onLinked, onFull, c.path);
      if (c.path === 'apps/b') {
        const patched = Array.isArray(onFull) ? onFull.find((o) => o.metadata.name === 'base-config') : undefined;
        assert.equal((patched?.data as { patched?: string } | undefined)?.patched, 'true', String(onFull));
      } else assert.ok(Array.isArray(onFull) && onFull.length >= 2, `${c.path} renders objects`);
    }
  });
});
