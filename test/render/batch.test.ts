import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { renderKustomization } from '../../shared/render/build.js';
import { directBuildStats } from '../../shared/render/direct.js';
import { KustomizeBatcher, splitAtSentinels } from '../../shared/render/kustomize-batch.js';
import { ensureTools } from '../../shared/render/tools.js';
import type { KubeObject, RenderSpec } from '../../shared/render/types.js';
import { EnvironmentError } from '../../shared/util/errors.js';
import { configMap, deployment, tempTree } from './helpers.js';

/** One Kustomization to render: spec.path in the fixture tree, and its spec. */
interface Fixture {
  path: string;
  spec: RenderSpec;
}

/**
 * A batcher of its own for one burst: it starts its kubectl run when the `batchable`-th build
 * arrives (event order, not a timer; the long gather window only bounds a test that breaks).
 */
async function burstBatcher(batchable: number): Promise<KustomizeBatcher> {
  return new KustomizeBatcher((await ensureTools()).kubectl, { maxProcs: 1, maxBatch: batchable, gatherMs: 60_000 });
}

/** Order within a batched build may differ from a lone build's: compare sorted. */
function sorted(objects: KubeObject[]): KubeObject[] {
  const key = (o: KubeObject) => [o.apiVersion, o.kind, o.metadata.namespace ?? '', o.metadata.name].join('/');
  return [...objects].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/**
 * Renders every fixture one after the other without batching, each on its own copy of the
 * tree (renderKustomization writes kustomization files into it).
 */
async function renderAlone(t: TestContext, files: Record<string, string>, fixtures: Fixture[]): Promise<PromiseSettledResult<KubeObject[]>[]> {
  const root = await tempTree(t, files);
  const out: PromiseSettledResult<KubeObject[]>[] = [];
  for (const f of fixtures) {
    try {
      // The reference: a lone `kubectl kustomize`, never the direct build.
      out.push({ status: 'fulfilled', value: await renderKustomization({ root, path: f.path, spec: f.spec, batch: false, direct: false }) });
    } catch (reason) {
      out.push({ status: 'rejected', reason });
    }
  }
  return out;
}

/**
 * Renders every fixture at once (batching allowed, through `batcher`) on a fresh copy of the
 * tree; with `direct`, plain directories may skip kustomize (direct.ts).
 */
async function renderTogether(
  t: TestContext,
  files: Record<string, string>,
  fixtures: Fixture[],
  batcher: KustomizeBatcher,
  direct = false,
): Promise<PromiseSettledResult<KubeObject[]>[]> {
  const root = await tempTree(t, files);
  return Promise.allSettled(fixtures.map((f) => renderKustomization({ root, path: f.path, spec: f.spec, batcher, direct })));
}

function objectsOf(r: PromiseSettledResult<KubeObject[]>, what: string): KubeObject[] {
  if (r.status === 'rejected') assert.fail(`${what} failed: ${(r.reason as Error).message}`);
  return sorted(r.value);
}

function assertSameResults(alone: PromiseSettledResult<KubeObject[]>[], together: PromiseSettledResult<KubeObject[]>[], fixtures: Fixture[]): void {
  assert.equal(together.length, alone.length);
  for (let i = 0; i < fixtures.length; i++) {
    const what = fixtures[i]!.path;
    const a = alone[i]!;
    const b = together[i]!;
    if (a.status === 'rejected') {
      assert.equal(b.status, 'rejected', `${what}: failed alone but succeeded in a burst`);
      const ea = a.reason as Error;
      const eb = (b as PromiseRejectedResult).reason as Error;
      assert.equal(eb.constructor, ea.constructor, `${what}: error class`);
      assert.equal(eb.message, ea.message, `${what}: error message`);
    } else {
      assert.deepEqual(objectsOf(b, `${what} (in a burst)`), objectsOf(a, `${what} (alone)`), `${what}: objects`);
    }
  }
}

const serviceAccount = (name: string) => `apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: ${name}\n`;

const service = (name: string) => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
spec:
  selector:
    app: ${name}
  ports:
    - port: 80
      targetPort: 8080
`;

const TREE: Record<string, string> = {
  // A plain directory: Flux generates the kustomization.
  'plain/deploy.yaml': deployment('web', 'nginx:1.25'),
  'plain/svc.yaml': service('web'),
  'plain/sa.yaml': serviceAccount('web'),

  // An existing kustomization with labels, annotations and images, plus spec patches/images.
  'labels/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [deploy.yaml]
labels:
  - pairs: {team: blue}
    includeSelectors: true
commonAnnotations:
  owner: blue-team
images:
  - name: nginx
    newTag: "1.27"
`,
  'labels/deploy.yaml': deployment('api', 'nginx:1.25') + '---\n' + deployment('worker', 'busybox'),

  // An overlay on a base elsewhere in the artifact.
  'base/kustomization.yaml': 'resources: [cm.yaml, deploy.yaml]\n',
  'base/cm.yaml': configMap('base-config', { mode: 'base' }),
  'base/deploy.yaml': deployment('base-app', 'redis:7'),
  'overlay/kustomization.yaml': 'namespace: staging\nresources: [../base]\n',

  // Cluster-scoped kinds next to a namespaced one, under targetNamespace.
  'cluster/ns.yaml': 'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-x\n',
  'cluster/role.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
rules:
  - apiGroups: [""]
    resources: [pods]
    verbs: [get, list]
`,
  'cluster/cm.yaml': configMap('cluster-settings'),

  // A generator renames its ConfigMap (hash suffix) and fixes up references: never batched.
  'generated/kustomization.yaml': `resources: [deploy.yaml]
configMapGenerator:
  - name: settings
    literals: [LEVEL=debug]
`,
  'generated/deploy.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: gen
spec:
  selector:
    matchLabels: {app: gen}
  template:
    metadata:
      labels: {app: gen}
    spec:
      containers:
        - name: main
          image: nginx
          envFrom:
            - configMapRef:
                name: settings
`,

  // One build moves ServiceAccount builder to team-a; another binds "builder" in team-a. In a
  // shared run kustomize would rewrite the subject's namespace to team-a; alone it stays.
  'sa-move/sa.yaml': serviceAccount('builder'),
  'binding/rb.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: builder
  namespace: team-a
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: builder
subjects:
  - kind: ServiceAccount
    name: builder
    namespace: default
`,
};

const FIXTURES: Fixture[] = [
  { path: 'plain', spec: { targetNamespace: 'apps' } },
  {
    path: 'labels',
    spec: {
      targetNamespace: 'blue',
      patches: [{ patch: 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 3\n' }],
      images: [{ name: 'busybox', newName: 'registry.example/busybox', newTag: '1.36' }],
    },
  },
  { path: 'overlay', spec: {} },
  { path: 'cluster', spec: { targetNamespace: 'team-x' } },
  { path: 'generated', spec: { targetNamespace: 'gen' } },
  { path: 'sa-move', spec: { targetNamespace: 'team-a' } },
  { path: 'binding', spec: {} },
];
/** Fixtures whose kustomization graph is batch-safe (all but the generator). */
const BATCHABLE = FIXTURES.filter((f) => f.path !== 'generated').length;

describe('batched kustomize builds', () => {
  test('concurrent builds give exactly the objects of lone builds, in fewer kubectl runs', async (t) => {
    const alone = await renderAlone(t, TREE, FIXTURES);
    const batcher = await burstBatcher(BATCHABLE);
    const together = await renderTogether(t, TREE, FIXTURES, batcher);

    assertSameResults(alone, together, FIXTURES);
    // The fixtures did what they are meant to (so the comparison covers those features).
    const byPath = new Map(FIXTURES.map((f, i) => [f.path, objectsOf(together[i]!, f.path)]));
    const api = byPath.get('labels')!.find((o) => o.metadata.name === 'api')!;
    assert.deepEqual(api.metadata.labels, { app: 'api', team: 'blue' });
    assert.equal((api.spec as { replicas: number }).replicas, 3);
    assert.equal(api.metadata.annotations?.owner, 'blue-team');
    assert.deepEqual(byPath.get('overlay')!.map((o) => o.metadata.namespace), ['staging', 'staging']);
    assert.deepEqual(byPath.get('cluster')!.map((o) => `${o.kind}:${o.metadata.namespace ?? '-'}`), ['ClusterRole:-', 'ConfigMap:team-x', 'Namespace:-']);
    assert.match(byPath.get('generated')!.find((o) => o.kind === 'ConfigMap')!.metadata.name, /^settings-[a-z0-9]+$/);
    const rb = byPath.get('binding')![0] as KubeObject & { subjects: Array<{ namespace?: string }> };
    assert.equal(rb.subjects[0]!.namespace, 'default', 'a RoleBinding subject is not rewritten by another build');

    // The generator's build never joined the batch; the others shared one kubectl run, and the
    // RoleBinding's build was redone alone.
    assert.deepEqual(batcher.stats, { builds: BATCHABLE, processes: 2, batches: 1, fallbacks: 0, rebuilt: 1 });
  });

  test('with direct builds allowed, a burst still gives exactly the objects of lone kubectl builds', async (t) => {
    const alone = await renderAlone(t, TREE, FIXTURES);
    // plain and sa-move are plain directories kustomize would only namespace: built in-process.
    // cluster (a Namespace under targetNamespace) and binding (a RoleBinding) are left to kustomize.
    const direct = ['plain', 'sa-move'];
    const batcher = await burstBatcher(BATCHABLE - direct.length);
    const before = directBuildStats.direct;
    const together = await renderTogether(t, TREE, FIXTURES, batcher, true);
    assertSameResults(alone, together, FIXTURES);
    assert.equal(directBuildStats.direct - before, direct.length, 'plain directories built without kustomize');
    assert.deepEqual(batcher.stats, { builds: BATCHABLE - direct.length, processes: 2, batches: 1, fallbacks: 0, rebuilt: 1 });
  });

  test('a failing build fails as it does alone while the rest of its burst succeeds', async (t) => {
    const files = {
      'one/cm.yaml': configMap('one'),
      'two/kustomization.yaml': 'resources: [cm.yaml]\n',
      'two/cm.yaml': configMap('two'),
      'broken/kustomization.yaml': 'resources: [cm.yaml, missing.yaml]\n',
      'broken/cm.yaml': configMap('broken'),
      'three/deploy.yaml': deployment('three', 'nginx'),
    };
    const fixtures: Fixture[] = [
      { path: 'one', spec: { targetNamespace: 'a' } },
      { path: 'two', spec: {} },
      { path: 'broken', spec: { targetNamespace: 'a' } },
      { path: 'three', spec: { targetNamespace: 'b' } },
    ];
    const alone = await renderAlone(t, files, fixtures);
    assert.deepEqual(alone.map((r) => r.status), ['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    assert.match((alone[2] as PromiseRejectedResult).reason.message, /^kustomize build failed: .*missing\.yaml/s);

    const batcher = await burstBatcher(fixtures.length);
    const together = await renderTogether(t, files, fixtures, batcher);

    assertSameResults(alone, together, fixtures);
    // One shared run that failed, then each build alone.
    assert.deepEqual(batcher.stats, { builds: 4, processes: 5, batches: 1, fallbacks: 1, rebuilt: 0 });
  });

  test('builds whose objects collide with each other still each succeed', async (t) => {
    const files = {
      'dup-a/cm.yaml': configMap('dup', { from: 'a' }),
      'dup-b/kustomization.yaml': 'namespace: shared\nresources: [cm.yaml]\n',
      'dup-b/cm.yaml': configMap('dup', { from: 'b' }),
    };
    const fixtures: Fixture[] = [
      { path: 'dup-a', spec: { targetNamespace: 'shared' } },
      { path: 'dup-b', spec: {} },
    ];
    const alone = await renderAlone(t, files, fixtures);
    const batcher = await burstBatcher(fixtures.length);
    const together = await renderTogether(t, files, fixtures, batcher);

    assertSameResults(alone, together, fixtures);
    assert.deepEqual(
      together.map((r, i) => objectsOf(r, fixtures[i]!.path).map((o) => `${o.metadata.namespace}/${o.metadata.name}=${(o.data as { from: string }).from}`)),
      [['shared/dup=a'], ['shared/dup=b']],
    );
    // The shared run fails on the duplicate; each build then succeeds alone.
    assert.deepEqual(batcher.stats, { builds: 2, processes: 3, batches: 1, fallbacks: 1, rebuilt: 0 });
  });

  // A JSON patch that renames an object would make kustomize rewrite references to it in the
  // other builds of a shared run: such builds run alone.
  test('a JSON patch renaming an object in one build does not rename references in another', async (t) => {
    const files = {
      'renamer/cm.yaml': configMap('settings'),
      'user/deploy.yaml': deployment('user', 'nginx').replace('image: nginx\n', 'image: nginx\n          envFrom:\n            - configMapRef:\n                name: settings\n'),
    };
    const rename = '[{"op": "replace", "path": "/metadata/name", "value": "settings-v2"}]';
    const fixtures: Fixture[] = [
      { path: 'renamer', spec: { targetNamespace: 'shared', patches: [{ patch: rename, target: { kind: 'ConfigMap', name: 'settings' } }] } },
      { path: 'user', spec: { targetNamespace: 'shared' } },
    ];
    // Only `user` is batch-safe (the renaming patch keeps `renamer` out of any batch).
    const batcher = await burstBatcher(1);
    assertSameResults(await renderAlone(t, files, fixtures), await renderTogether(t, files, fixtures, batcher), fixtures);
    assert.deepEqual(batcher.stats, { builds: 1, processes: 1, batches: 0, fallbacks: 0, rebuilt: 0 });
  });
});

describe('splitAtSentinels', () => {
  const sentinel = (i: number) => `marker-${i}`;
  const marker = (i: number) => `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${sentinel(i)}\n  namespace: batch\n`;
  const script = `apiVersion: v1
kind: ConfigMap
metadata:
  name: script
data:
  run.sh: |
    echo start
    ---
    echo end
`;
  const other = configMap('other');

  test('splits the output into one part per build, empty builds included', () => {
    const text = [script, other, marker(0), marker(1), configMap('last'), marker(2)].join('---\n');
    assert.deepEqual(splitAtSentinels(text, 3, sentinel), [`${script}---\n${other}`, '', configMap('last')]);
  });

  test('a --- line indented inside a block scalar does not split a document', () => {
    const [part] = splitAtSentinels([script, marker(0)].join('---\n'), 1, sentinel);
    assert.equal(part, script);
    assert.match(part!, /^ {4}---$/m);
  });

  test('throws when markers are missing, out of order, or followed by more output', () => {
    const err = (n: number) => (e: Error) => e instanceof EnvironmentError && e.message.includes(`did not split into ${n} builds`);
    assert.throws(() => splitAtSentinels([other, marker(0)].join('---\n'), 2, sentinel), err(2));
    assert.throws(() => splitAtSentinels(other, 1, sentinel), err(1));
    assert.throws(() => splitAtSentinels([other, marker(1), marker(0)].join('---\n'), 2, sentinel), err(2));
    assert.throws(() => splitAtSentinels([other, marker(0), configMap('stray')].join('---\n'), 1, sentinel), err(1));
    // A marker-like name at another depth, or of another batch, is an ordinary document.
    const nested = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n    - name: marker-0\n';
    assert.throws(() => splitAtSentinels(nested, 1, sentinel), err(1));
  });
});
