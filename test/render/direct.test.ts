/**
 * The direct build (shared/render/direct.ts) against the real `kubectl kustomize`: for every
 * fixture, a render that may skip kustomize gives exactly what a lone kubectl build gives
 * (the same objects, in the same order, with the same key order), or the same error; and the
 * fixtures a direct build cannot reproduce are handed to kustomize. The in-memory build of
 * an artifact (direct-tree.ts) takes exactly the fixtures the direct build takes, with the
 * same output.
 */
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { renderKustomization } from '../../shared/render/build.js';
import { directBuildEnabled, directBuildStats, legacyCompare } from '../../shared/render/direct.js';
import { directBuildTree } from '../../shared/render/direct-tree.js';
import { applyCommonMetadata } from '../../shared/render/metadata.js';
import { memoryTree } from '../../shared/artifacts/tree.js';
import type { KubeObject, RenderSpec } from '../../shared/render/types.js';
import { configMap, deployment, tempTree } from './helpers.js';

interface Fixture {
  path: string;
  spec: RenderSpec;
  /** Whether the direct build takes it (else kustomize runs). */
  direct: boolean;
  /** The tree as the test's setup leaves it on disk holds what no artifact holds (a symlink): no in-memory build. */
  diskOnly?: boolean;
}

/** `files` as an artifact held in memory. */
function memoryTreeOf(files: Record<string, string>) {
  return memoryTree({ entries: new Map(Object.entries(files).map(([rel, text]) => [rel, { data: Buffer.from(text), mode: 0o644 }])), directories: new Set() });
}

type Outcome = { ok: true; json: string; objects: KubeObject[] } | { ok: false; error: Error };

async function render(root: string, f: Fixture, direct: boolean): Promise<Outcome> {
  try {
    const objects = await renderKustomization({ root, path: f.path, spec: f.spec, batch: false, direct });
    return { ok: true, json: JSON.stringify(objects), objects };
  } catch (error) {
    return { ok: false, error: error as Error };
  }
}

/**
 * Renders each fixture with kubectl alone and with the direct build allowed, each on a fresh
 * copy of the tree (a render writes the generated kustomization file into it).
 */
async function compare(t: TestContext, files: Record<string, string>, fixtures: Fixture[], setup?: (root: string) => Promise<void>): Promise<Outcome[]> {
  const out: Outcome[] = [];
  for (const f of fixtures) {
    const kubectlRoot = await tempTree(t, files);
    const directRoot = await tempTree(t, files);
    if (setup) {
      await setup(kubectlRoot);
      await setup(directRoot);
    }
    const lone = await render(kubectlRoot, f, false);
    const before = { ...directBuildStats };
    const fast = await render(directRoot, f, true);
    assert.equal(directBuildStats.direct - before.direct, f.direct ? 1 : 0, `${f.path}: built ${f.direct ? 'directly' : 'by kustomize'} (declines so far: ${JSON.stringify(directBuildStats.reasons)})`);
    if (!f.diskOnly) {
      // From the artifact in memory: the same fixtures, the same objects (the rest is the disk path's).
      const mem = await directBuildTree(memoryTreeOf(files), f.path, f.spec);
      assert.equal(mem !== undefined, f.direct, `${f.path}: built in memory exactly when the direct build takes it`);
      if (mem) assert.equal(lone.ok && JSON.stringify(applyCommonMetadata(mem, f.spec.commonMetadata)), lone.ok && lone.json, `${f.path}: objects built in memory`);
    }
    if (!lone.ok) {
      assert.equal(fast.ok, false, `${f.path}: failed with kubectl (${lone.error.message}) but not directly`);
      const e = (fast as { error: Error }).error;
      assert.equal(e.constructor, lone.error.constructor, `${f.path}: error class`);
      assert.equal(e.message, lone.error.message, `${f.path}: error message`);
    } else {
      assert.ok(fast.ok, `${f.path}: kubectl built it, the direct path failed: ${(fast as { error: Error }).error?.message}`);
      // Same objects, same order, same key order: byte-identical JSON.
      assert.equal(fast.json, lone.json, `${f.path}: objects`);
    }
    out.push(lone);
  }
  return out;
}

const yaml = (...docs: string[]) => docs.join('---\n');

const TREE: Record<string, string> = {
  // The bench:fleet app: what most Flux directories look like.
  'app/deploy.yaml': deployment('web', 'nginx:1.27'),
  'app/sa.yaml': 'apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: web\n',
  'app/svc.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector: {app: web}\n  ports: [{port: 80, protocol: TCP}]\n',
  'app/ingress.yaml': `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - path: /
        pathType: Prefix
        backend: {service: {name: web, port: {number: 80}}}
`,
  // Multi-document files in a nested directory, cluster-scoped kinds (one with a namespace
  // kustomize leaves alone), a custom resource, keys out of order, comments, empty documents,
  // quoted numbers, block scalars, flow style, nulls, empty collections, booleans, numbers.
  'mixed/a.yml': yaml(
    '# comment only\n',
    `kind: ConfigMap
apiVersion: v1
metadata:
  namespace: elsewhere
  name: zeta
  labels: {z: "1", a: "010", "quoted key": "x"}
data:
  script: |
    #!/bin/sh
    echo "hi"
  folded: >
    one
    two
  port: "8080"
  "yes": "no"
`,
    `apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: reader
  namespace: ignored-by-kustomize
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
`,
  ),
  'mixed/sub/cr.yaml': yaml(
    `apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
spec:
  enabled: true
  Other: FALSE
  count: 3
  ratio: 1.50
  big: 1e3
  small: 0.25
  none: null
  tilde: ~
  empty:
  words: [yes, no, on, off, y, n]
  emptyMap: {}
  emptyList: []
  nested: {b: [{d: 1, c: 2}], a: x}
  quantities: [1Gi, 500m, 0.5Gi, 2]
  strings: [10.0.0.1, 1.27.3, "nginx:1.27", 'single ''quoted''', "tab\there", ünïcödé, 1x]
  on: off
  long: this plain scalar
    spans two lines
`,
    '',
    `apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv
spec:
  capacity: {storage: 1Gi}
`,
    `apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: fast
provisioner: example.com/fast
`,
    `apiVersion: v1
kind: Secret
metadata:
  name: creds
stringData:
  password: "s3cr3t"
`,
  ),
  'mixed/sub/deploy.yaml': deployment('api', 'busybox'),
  'mixed/z-cm.yaml': configMap('alpha'),
  // A byte order mark: the check reads the file with it, the build without it.
  'bom/cm.yaml': `\uFEFF${configMap('marked')}`,

  // Left to kustomize: YAML 1.1 numbers and timestamps, a Namespace under targetNamespace, a
  // RoleBinding, a List, anchors, a symlink, kustomize annotations.
  'octal/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: octal\ndata:\n  mode: 0755\n',
  'timestamp/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: when\n  annotations:\n    at: 2024-01-02\n',
  'hex/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: hex\n  labels:\n    v: 0x1F\n',
  'namespace/ns.yaml': yaml('apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n', configMap('in-team')),
  'binding/rb.yaml': `apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: read
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read}
subjects:
- {kind: ServiceAccount, name: default}
`,
  'list/list.yaml': 'apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: from-list}\n',
  'anchors/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: anchored\n  labels: &l {a: b}\n  annotations: *l\n',
  'annotated/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: annotated\n  annotations:\n    config.kubernetes.io/index: "3"\n',
  'linked/real.yaml': configMap('real'),

  // Errors, which must stay kustomize's own.
  'duplicate/a.yaml': configMap('same'),
  'duplicate/b.yaml': configMap('same', { other: 'value' }),
  'noname/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n',
  'collide/a.yaml': yaml(configMap('one').replace('name: one', 'name: one\n  namespace: x'), configMap('one')),

  // What the generator decides: a subdirectory with its own kustomization is a resource (left
  // to kustomize), a YAML file that is not Kubernetes YAML fails the build, other files are not read.
  'nested/cm.yaml': configMap('top'),
  'nested/base/Kustomization': 'resources: [cm.yaml]\n',
  'nested/base/cm.yaml': configMap('from-base'),
  'notk8s/cm.yaml': configMap('fine'),
  'notk8s/values.yaml': 'replicas: 3\n',
  'others/cm.yaml': configMap('kept'),
  'others/notes.json': '{"kind": "ConfigMap"}\n',
  'others/README.md': '# not read\n',
  'others/deeper/more/cm.yml': configMap('deeper'),
};

describe('direct builds of plain directories', () => {
  test('give exactly the objects, order and key order of a lone kubectl kustomize', async (t) => {
    assert.ok(directBuildEnabled({}), 'on unless FLUXLESS_KUSTOMIZE_DIRECT=0');
    const fixtures: Fixture[] = [
      { path: 'app', spec: { targetNamespace: 'apps' }, direct: true },
      { path: 'app', spec: {}, direct: true },
      { path: 'mixed', spec: { targetNamespace: 'team-a' }, direct: true },
      { path: 'mixed', spec: { commonMetadata: { labels: { team: 'a' } } }, direct: true },
      { path: 'octal', spec: { targetNamespace: 'x' }, direct: false },
      { path: 'timestamp', spec: {}, direct: false },
      { path: 'hex', spec: {}, direct: false },
      { path: 'namespace', spec: { targetNamespace: 'renamed' }, direct: false },
      { path: 'binding', spec: { targetNamespace: 'x' }, direct: false },
      { path: 'list', spec: { targetNamespace: 'x' }, direct: false },
      { path: 'anchors', spec: {}, direct: false },
      { path: 'annotated', spec: {}, direct: false },
      { path: 'linked', spec: { targetNamespace: 'x' }, direct: false, diskOnly: true },
      { path: 'duplicate', spec: {}, direct: false },
      { path: 'noname', spec: {}, direct: false },
      { path: 'collide', spec: { targetNamespace: 'x' }, direct: false },
      // A transformer beyond the namespace: always kustomize.
      { path: 'app', spec: { namePrefix: 'p-' }, direct: false },
      { path: 'nested', spec: { targetNamespace: 'x' }, direct: false },
      { path: 'notk8s', spec: {}, direct: false },
      { path: './others/', spec: { targetNamespace: 'x' }, direct: true },
      { path: '/', spec: {}, direct: false },
      { path: 'nope', spec: {}, direct: false },
      { path: 'bom', spec: { targetNamespace: 'x' }, direct: true },
    ];
    const lone = await compare(t, TREE, fixtures, (root) => symlink('real.yaml', path.join(root, 'linked', 'link.yaml')));

    // The fixtures exercise what they are meant to (so the comparison covers it).
    const objects = (i: number) => (lone[i] as { objects: KubeObject[] }).objects;
    assert.deepEqual(objects(0).map((o) => `${o.kind}/${o.metadata.namespace}`), ['ServiceAccount/apps', 'Service/apps', 'Deployment/apps', 'Ingress/apps']);
    const mixed = objects(2);
    assert.deepEqual(
      mixed.map((o) => `${o.kind}:${o.metadata.namespace ?? '-'}:${o.metadata.name}`),
      ['StorageClass:-:fast', 'ClusterRole:ignored-by-kustomize:reader', 'ConfigMap:team-a:alpha', 'ConfigMap:team-a:zeta', 'Secret:team-a:creds', 'PersistentVolume:-:pv', 'Deployment:team-a:api', 'Widget:team-a:w'],
    );
    const widget = mixed.find((o) => o.kind === 'Widget') as KubeObject & { spec: Record<string, unknown> };
    assert.deepEqual(Object.keys(widget.spec), [...Object.keys(widget.spec)].sort(), 'keys in byte order');
    assert.deepEqual(widget.spec.words, ['yes', 'no', 'on', 'off', 'y', 'n']);
    assert.equal(widget.spec.Other, false);
    assert.equal((objects(4)[0] as KubeObject & { data: { mode: unknown } }).data.mode, 493, 'kustomize reads 0755 as YAML 1.1 octal');
    assert.equal(objects(7).find((o) => o.kind === 'Namespace')?.metadata.name, 'renamed', 'kustomize renames the Namespace');
    assert.equal(lone[13]!.ok, false, 'duplicate ids fail');
    assert.equal(lone[14]!.ok, false, 'a missing name fails');
    assert.deepEqual(objects(17).map((o) => o.metadata.name).sort(), ['from-base', 'top'], 'a nested kustomization is built');
    assert.match(lone[18]!.ok ? '' : lone[18]!.error.message, /failed to decode Kubernetes YAML from notk8s\/values\.yaml/);
    assert.deepEqual(objects(19).map((o) => o.metadata.name), ['deeper', 'kept'], 'only YAML files, at any depth');
    assert.equal(lone[21]!.ok, false, 'a missing spec.path fails');
    assert.deepEqual(objects(22).map((o) => o.metadata.name), ['marked'], 'a file with a byte order mark is read');
  });

  test('the legacy order: kind priority, then group/version/kind, then namespace and name as one string', () => {
    const o = (apiVersion: string, kind: string, name: string, namespace?: string): KubeObject => ({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}) } });
    const list = [
      o('admissionregistration.k8s.io/v1', 'ValidatingWebhookConfiguration', 'v'),
      o('example.com/v1', 'Widget', 'w'),
      o('apps/v1', 'Deployment', 'd'),
      o('v1', 'ConfigMap', 'b', 'a-b'),
      o('v1', 'ConfigMap', 'a', 'a'),
      o('v1', 'ConfigMap', 'c'),
      o('v1', 'Namespace', 'n'),
      o('batch/v1', 'Job', 'j'),
    ];
    const sorted = [...list].sort(legacyCompare).map((x) => `${x.kind}/${x.metadata.namespace ?? ''}/${x.metadata.name}`);
    // "a-b|b" < "a|a" in byte order ('-' < '|'); no namespace sorts as "~X", after letters.
    assert.deepEqual(sorted, ['Namespace//n', 'ConfigMap/a-b/b', 'ConfigMap/a/a', 'ConfigMap//c', 'Deployment//d', 'Job//j', 'Widget//w', 'ValidatingWebhookConfiguration//v']);
  });
});
