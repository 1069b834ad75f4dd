// The render escape of issue 9 and its class: whatever a repository author writes in a
// kustomization, the build reads nothing outside its own source artifact and makes no
// network request (unless remote bases are allowed, and even then never to the local
// network).
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, realpath, rm, symlink } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { kustomizeBuild, renderKustomization } from '../../shared/render/build.js';
import { KustomizationParseError, ReferenceNotAllowedError, UnsupportedFeatureError } from '../../shared/render/errors.js';
import { materializeBuildTree } from '../../shared/render/materialize.js';
import { sandboxCapabilities } from '../../shared/render/sandbox.js';
import { ensureTools } from '../../shared/render/tools.js';
import { ValidationError } from '../../shared/util/errors.js';
import { configMap, manyAliases, recordingServer, tempTree, writeTree } from './helpers.js';

const secret = (name: string) => `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n  password: hunter2\n`;

function refused(pattern: RegExp, cls: new (...a: never[]) => Error = ReferenceNotAllowedError) {
  return (err: Error) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.name}: ${err.message}`);
    assert.ok(err instanceof ValidationError);
    assert.match(err.message, pattern);
    return true;
  };
}

/**
 * A private base directory laid out like the artifact cache (`a/<digest>-<n>` extracted
 * artifacts, `w/ks-*` work directories), with another source's Secret extracted in it.
 */
async function cacheLayout(t: TestContext): Promise<{ base: string; victim: string; hex: string }> {
  const base = await realpath(await mkdtemp(path.join(os.tmpdir(), 'fluxless-cache-test-')));
  t.after(() => rm(base, { recursive: true, force: true }));
  const hex = createHash('sha256').update('other source').digest('hex');
  const victim = path.join(base, 'a', `${hex}-1`);
  await writeTree(victim, { 'app/kustomization.yaml': 'resources: [secret.yaml]\n', 'app/secret.yaml': secret('other-teams-secret') });
  return { base, victim, hex };
}

/** Materializes `files` (an attacker's artifact) into a work directory of the layout and renders `apps`, as the reconciler does. */
async function renderFromCache(base: string, files: Record<string, string>, opts: { allowRemoteBases?: boolean } = {}) {
  const artifact = path.join(base, 'a', `${'f'.repeat(64)}-2`);
  await writeTree(artifact, files);
  await mkdir(path.join(base, 'w'), { recursive: true });
  const work = await mkdtemp(path.join(base, 'w', 'ks-'));
  const root = path.join(work, 'src');
  await materializeBuildTree(artifact, 'apps', [], root);
  return renderKustomization({ root, path: 'apps', spec: {}, batch: false, ...opts });
}

describe('issue 9 finding 1: aliases no longer switch the containment check off', () => {
  test('a kustomization with 150 aliases cannot render another source from the artifact cache', async (t) => {
    const { base, hex } = await cacheLayout(t);
    const attack = `${manyAliases(150)}resources:\n  - ../../../../a/${hex}-1/app\n`;
    await assert.rejects(
      renderFromCache(base, { 'apps/kustomization.yaml': attack }),
      refused(new RegExp(`^apps/kustomization.yaml: resources entry '../../../../a/${hex}-1/app' points outside the source artifact$`)),
    );
    // The same aliases without the escape: analysed (go-yaml allows them) and built.
    const fine = await renderFromCache(base, { 'apps/kustomization.yaml': `${manyAliases(150)}resources: [cm.yaml]\n`, 'apps/cm.yaml': configMap('mine') });
    assert.deepEqual(fine.map((o) => o.metadata.name), ['mine']);
    assert.equal(fine[0]!.metadata.annotations?.a149, 'value');
  });

  test('a kustomization with 150 aliases cannot read a host directory', async (t) => {
    const host = await realpath(await tempTree(t, { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': configMap('host-config') }, 'fluxless-host-'));
    const root = await tempTree(t, {});
    const depth = root.split(path.sep).length;
    for (const entry of [host, `${'../'.repeat(depth)}${host.slice(1)}`]) {
      await writeTree(root, { 'apps/kustomization.yaml': `${manyAliases(150)}resources:\n  - ${entry}\n` });
      await assert.rejects(
        renderKustomization({ root, path: 'apps', spec: {}, batch: false }),
        refused(/^apps\/kustomization.yaml: resources entry '.+' points outside the source artifact$/),
      );
    }
  });

  test('a kustomization with 150 aliases cannot fetch from a loopback server', async (t) => {
    const server = await recordingServer(t);
    const root = await tempTree(t, { 'apps/kustomization.yaml': `${manyAliases(150)}resources:\n  - ${server.url}/x.yaml\n` });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {}, batch: false }), refused(/is a remote reference, and remote bases are disabled/));
    assert.deepEqual(server.requests, []);
  });
});

/** Every field kustomize reads a path from, with `X` where the path goes. */
const PATH_FIELDS: Array<{ field: string; yaml: (x: string) => string; target: 'dir' | 'file' }> = [
  { field: 'resources', yaml: (x) => `resources: [${x}]`, target: 'dir' },
  { field: 'bases', yaml: (x) => `bases: [${x}]`, target: 'dir' },
  { field: 'components', yaml: (x) => `components: [${x}]`, target: 'dir' },
  { field: 'resources', yaml: (x) => `resources: [${x}]`, target: 'file' },
  { field: 'patches[].path', yaml: (x) => `patches:\n  - path: ${x}`, target: 'file' },
  { field: 'patchesStrategicMerge', yaml: (x) => `patchesStrategicMerge: [${x}]`, target: 'file' },
  { field: 'patchesJson6902[].path', yaml: (x) => `patchesJson6902:\n  - path: ${x}\n    target: {kind: ConfigMap, name: cm}`, target: 'file' },
  { field: 'configMapGenerator[].files', yaml: (x) => `configMapGenerator:\n  - name: g\n    files: [${x}]`, target: 'file' },
  { field: 'configMapGenerator[].files', yaml: (x) => `configMapGenerator:\n  - name: g\n    files: ["key=${x}"]`, target: 'file' },
  { field: 'configMapGenerator[].envs', yaml: (x) => `configMapGenerator:\n  - name: g\n    envs: [${x}]`, target: 'file' },
  { field: 'configMapGenerator[].env', yaml: (x) => `configMapGenerator:\n  - name: g\n    env: ${x}`, target: 'file' },
  { field: 'secretGenerator[].files', yaml: (x) => `secretGenerator:\n  - name: g\n    files: [${x}]`, target: 'file' },
  { field: 'crds', yaml: (x) => `crds: [${x}]`, target: 'file' },
  { field: 'openapi.path', yaml: (x) => `openapi:\n  path: ${x}`, target: 'file' },
  { field: 'configurations', yaml: (x) => `configurations: [${x}]`, target: 'file' },
  { field: 'replacements[].path', yaml: (x) => `replacements:\n  - path: ${x}`, target: 'file' },
  { field: 'generators', yaml: (x) => `generators: [${x}]`, target: 'file' },
  { field: 'transformers', yaml: (x) => `transformers: [${x}]`, target: 'dir' },
  { field: 'validators', yaml: (x) => `validators: [${x}]`, target: 'file' },
];

/** Field spellings kustomize's decoding accepts (encoding/json matches names case-insensitively; merges; !!binary). */
const SPELLINGS: Array<{ name: string; write: (x: string) => string; field: string }> = [
  { name: 'Resources', write: (x) => `Resources: [${x}]`, field: 'resources' },
  { name: 'RESOURCES', write: (x) => `RESOURCES: [${x}]`, field: 'resources' },
  { name: 'reſources (long s folds to s)', write: (x) => `reſources: [${x}]`, field: 'resources' },
  { name: 'PATCHES / PATH', write: (x) => `PATCHES:\n  - PATH: ${x}`, field: 'patches[].path' },
  { name: 'a << merge key', write: (x) => `<<: {resources: [${x}]}`, field: 'resources' },
  { name: 'an alias', write: (x) => `x: &r [${x}]\nresources: *r`, field: 'resources' },
  { name: '!!binary', write: (x) => `resources: [!!binary ${Buffer.from(x).toString('base64')}]`, field: 'resources' },
];

describe('every field kustomize takes a path from stays inside the artifact', () => {
  // The kustomization under test is a base (reached through resources), which the generator never rewrites.
  async function artifact(t: TestContext, base: string): Promise<{ root: string; outside: string }> {
    const parent = await realpath(await tempTree(t, {}));
    const outside = path.join(parent, 'outside');
    await writeTree(outside, { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': configMap('outside'), 'file.yaml': configMap('outside-file') });
    const root = path.join(parent, 'artifact');
    await writeTree(root, { 'apps/kustomization.yaml': 'resources: [base]\n', 'apps/base/kustomization.yaml': `${base}\n`, 'apps/base/cm.yaml': configMap('cm') });
    return { root, outside };
  }
  const render = (root: string) => renderKustomization({ root, path: 'apps', spec: {}, batch: false });

  for (const f of PATH_FIELDS) {
    test(`${f.field} (${f.target}): '..' climbing out, an absolute path, a symlink out, behind 150 aliases`, async (t) => {
      const probe = await artifact(t, '');
      const target = (outside: string) => (f.target === 'dir' ? outside : path.join(outside, 'file.yaml'));
      const escapes = [
        { entry: f.target === 'dir' ? '../../../outside' : '../../../outside/file.yaml', why: 'points outside the source artifact' },
        { entry: target(probe.outside), why: 'points outside the source artifact' },
      ];
      for (const { entry, why } of escapes) {
        for (const prefix of ['', manyAliases(150)]) {
          const { root } = await artifact(t, `${prefix}${f.yaml(entry)}`);
          await assert.rejects(render(root), refused(new RegExp(`^apps/base/kustomization.yaml: ${f.field.replace(/[[\].]/g, '\\$&')} entry '.+' ${why}$`)));
        }
      }
      const { root, outside } = await artifact(t, f.yaml('link'));
      await symlink(target(outside), path.join(root, 'apps/base/link'));
      await assert.rejects(render(root), refused(/entry 'link' resolves through a symlink to a location outside the source artifact/));
    });
  }

  test('a file elsewhere inside the artifact is read from every field, as kustomize-controller reads it (LoadRestrictionsNone)', async (t) => {
    const shared: Record<string, string> = {
      'shared/cm.yaml': configMap('from-shared'),
      'shared/smp.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\ndata:\n  smp: "yes"\n',
      'shared/json6902.yaml': '- op: add\n  path: /data/json6902\n  value: "yes"\n',
      'shared/data.txt': 'hello\n',
      'shared/vars.env': 'K=V\n',
      'shared/config.yaml': 'commonLabels:\n  - path: metadata/labels\n    create: true\n',
      'shared/replacement.yaml': 'source: {kind: ConfigMap, name: cm, fieldPath: metadata.name}\ntargets:\n  - select: {kind: ConfigMap, name: cm}\n    fieldPaths: [data.copied]\n    options: {create: true}\n',
    };
    const cases: Array<[string, string]> = [
      ['resources', 'resources: [cm.yaml, ../../shared/cm.yaml]'],
      ['patches[].path', 'resources: [cm.yaml]\npatches:\n  - path: ../../shared/smp.yaml'],
      ['patchesStrategicMerge', 'resources: [cm.yaml]\npatchesStrategicMerge: [../../shared/smp.yaml]'],
      ['patchesJson6902[].path', 'resources: [cm.yaml]\npatchesJson6902:\n  - path: ../../shared/json6902.yaml\n    target: {version: v1, kind: ConfigMap, name: cm}'],
      ['configMapGenerator[].files', 'configMapGenerator:\n  - name: g\n    files: [../../shared/data.txt]'],
      ['configMapGenerator[].envs', 'configMapGenerator:\n  - name: g\n    envs: [../../shared/vars.env]'],
      ['secretGenerator[].env', 'secretGenerator:\n  - name: g\n    env: ../../shared/vars.env'],
      ['configurations', 'resources: [cm.yaml]\nconfigurations: [../../shared/config.yaml]\ncommonLabels: {team: a}'],
      ['replacements[].path', 'resources: [cm.yaml]\nreplacements:\n  - path: ../../shared/replacement.yaml'],
    ];
    for (const [field, yaml] of cases) {
      const { root } = await artifact(t, yaml);
      await writeTree(root, shared);
      const objects = await render(root);
      assert.ok(objects.length > 0, field);
    }
  });

  for (const s of SPELLINGS) {
    test(`written as ${s.name}`, async (t) => {
      const { root } = await artifact(t, s.write('../../../outside'));
      await assert.rejects(render(root), refused(new RegExp(`^apps/base/kustomization.yaml: ${s.field.replace(/[[\].]/g, '\\$&')} entry '../../../outside' points outside`)));
    });
  }

  test('a name too long for the filesystem is a typed error without host paths', async (t) => {
    const { root } = await artifact(t, `resources: [${'a'.repeat(300)}]`);
    await assert.rejects(render(root), (err: Error) => {
      refused(/^apps\/base\/kustomization.yaml: resources entry 'a{200}\.\.\.' is too long to be a path/)(err);
      assert.ok(!err.message.includes(os.tmpdir()), err.message);
      return true;
    });
  });

  test('Helm chart inflation is refused', async (t) => {
    for (const field of ['helmCharts:\n  - name: x\n    repo: https://charts.example', 'helmGlobals: {chartHome: /etc}', 'helmChartInflationGenerator: [{chartName: x}]']) {
      const { root } = await artifact(t, field);
      await assert.rejects(render(root), refused(/^apps\/base\/kustomization.yaml: helm\w+ \(Helm chart inflation\) is not supported$/, UnsupportedFeatureError));
    }
  });
});

/** A plugin directory whose own PatchTransformer patches `files` of its generator configuration to `entry`. */
function nestedPatch(entry: string): Record<string, string> {
  const patch = `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: net\nfiles:\n  - ${entry}\n`;
  return {
    'apps/kustomization.yaml': 'generators: [../plugins]\n',
    'plugins/kustomization.yaml': `resources: [gen.yaml]\ntransformers:\n  - |\n    apiVersion: builtin\n    kind: PatchTransformer\n    metadata:\n      name: fix\n    patch: |\n${patch.replace(/^/gm, '      ')}`,
    'plugins/gen.yaml': 'apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: net\nfiles:\n  - placeholder\n',
  };
}

describe('remote references and the network', () => {
  test('a URL in any field is refused before kustomize runs; the loopback server gets no request', async (t) => {
    const server = await recordingServer(t);
    const u = `${server.url}/x.yaml`;
    const host = `127.0.0.1:${server.port}`;
    const cases: Array<[string, string]> = [
      ['resources', `resources: [${u}]`],
      ['resources', `resources: [${u.replace('http', 'HTTP')}]`],
      ['components', `components: [${u}]`],
      ['patches[].path', `resources: [cm.yaml]\npatches:\n  - path: ${u}`],
      ['patchesStrategicMerge', `resources: [cm.yaml]\npatchesStrategicMerge: [${u}]`],
      ['configMapGenerator[].files', `configMapGenerator:\n  - name: g\n    files: ["k=${u}"]`],
      ['secretGenerator[].envs', `secretGenerator:\n  - name: g\n    envs: [${u}]`],
      ['crds', `crds: [${u}]`],
      ['openapi.path', `openapi:\n  path: ${u}`],
      ['configurations', `configurations: [${u}]`],
      ['replacements[].path', `replacements:\n  - path: ${u}`],
      ['transformers', `transformers: [${u}]`],
      ['resources', `resources: ["git::${server.url}/repo.git"]`],
      ['resources', `resources: ["ssh://git@${host}/org/repo"]`],
      ['resources', `resources: ["git@127.0.0.1:org/repo"]`],
      ['resources', `resources: ["${host}/org/repo?ref=main"]`],
      ['resources', `Resources: [${u}]`],
    ];
    for (const [field, yaml] of cases) {
      const root = await tempTree(t, { 'apps/kustomization.yaml': 'resources: [base]\n', 'apps/base/kustomization.yaml': `${yaml}\n`, 'apps/base/cm.yaml': configMap('cm') });
      await assert.rejects(
        renderKustomization({ root, path: 'apps', spec: {}, batch: false }),
        refused(new RegExp(`^apps/base/kustomization.yaml: ${field.replace(/[[\].]/g, '\\$&')} entry '.+' is a remote reference, and remote bases are disabled: vendor it into the repository, or let kustomize fetch it with render\\.allowRemoteBases: true in fluxless\\.yaml \\(unless lockdown\\.noRemoteBases is set\\)$`)),
        yaml,
      );
    }
    assert.deepEqual(server.requests, []);
  });

  test('plugin configurations cannot fetch either', async (t) => {
    const server = await recordingServer(t);
    const patchTransformer = `apiVersion: builtin\nkind: PatchTransformer\nmetadata:\n  name: p\npath: ${server.url}/patch.yaml\ntarget:\n  kind: ConfigMap\n`;
    const cases: Record<string, Record<string, string>> = {
      'a transformer file': { 'apps/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [t.yaml]\n', 'apps/t.yaml': patchTransformer },
      'an inline transformer': { 'apps/kustomization.yaml': `resources: [cm.yaml]\ntransformers:\n  - |\n${patchTransformer.replace(/^/gm, '    ')}` },
      'a generator configuration with a URL among its files': {
        'apps/kustomization.yaml': 'generators: [g.yaml]\n',
        'apps/g.yaml': `apiVersion: builtin\nkind: ConfigMapGenerator\nmetadata:\n  name: g\nfiles:\n  - k=${server.url}/data\n`,
      },
      'a kustomization whose output are transformer configurations': {
        'apps/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [../plugins]\n',
        'plugins/kustomization.yaml': 'resources: [t.yaml]\n',
        'plugins/t.yaml': patchTransformer,
      },
      // kustomize takes an entry that parses as YAML for an inline configuration, one line or many.
      'a one-line (flow mapping) generator configuration': {
        'apps/kustomization.yaml': `generators:\n  - "{apiVersion: builtin, kind: ConfigMapGenerator, metadata: {name: g}, files: [k=${server.url}/one-line]}"\n`,
      },
      'a one-line configuration in a component, its URL escaped': {
        'apps/kustomization.yaml': 'resources: [cm.yaml]\ncomponents: [../comp]\n',
        'comp/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ngenerators:\n  - '{apiVersion: builtin, kind: ConfigMapGenerator, metadata: {name: g}, files: ["k=${server.url.replace(':', '\\u003a')}/escaped"]}'\n`,
      },
      // The PatchTransformer of a plugin directory rewrites the configuration its resources hold:
      // the URL is in YAML inside a string, escaped (\x3a) or split by an escaped line break.
      'a nested patch with an escaped URL': nestedPatch(`"k=${server.url.replace(':', '\\x3a')}/nested"`),
      'a nested patch with a URL split by an escaped line break': nestedPatch(`"k=${server.url.replace('//', '\\\n          //')}/split"`),
    };
    for (const [what, files] of Object.entries(cases)) {
      const root = await tempTree(t, { 'apps/cm.yaml': configMap('cm'), ...files });
      await assert.rejects(renderKustomization({ root, path: 'apps', spec: {}, batch: false }), refused(/is a remote reference, and remote bases are disabled/), what);
      await assert.rejects(
        renderKustomization({ root, path: 'apps', spec: {}, batch: false, allowRemoteBases: true }),
        refused(/entry '(k=)?http:\/\/127\.0\.0\.1:\d+\/[a-z.-]+' points at the local network/),
        `${what} (allowRemoteBases)`,
      );
    }
    const withReplacements = await tempTree(t, {
      'apps/cm.yaml': configMap('cm'),
      'apps/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [../plugins]\n',
      'plugins/kustomization.yaml': 'resources: [t.yaml]\nreplacements:\n  - path: r.yaml\n',
      'plugins/t.yaml': 'apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: a\nfieldSpecs:\n  - path: metadata/labels\n    create: true\n',
    });
    await assert.rejects(renderKustomization({ root: withReplacements, path: 'apps', spec: {}, batch: false }), refused(/replacements in a kustomization used as generators/, UnsupportedFeatureError));
    assert.deepEqual(server.requests, []);

    // A plugin configuration without remote references works.
    const labels = await tempTree(t, {
      'apps/cm.yaml': configMap('cm'),
      'apps/kustomization.yaml': 'resources: [cm.yaml]\ntransformers: [labels.yaml]\n',
      'apps/labels.yaml': 'apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: a\nfieldSpecs:\n  - path: metadata/labels\n    create: true\n',
    });
    const objects = await renderKustomization({ root: labels, path: 'apps', spec: {}, batch: false });
    assert.equal(objects[0]!.metadata.labels?.team, 'a');
    // So does a one-line inline one whose strings hold dots and slashes (not paths, not URLs).
    const oneLine = await tempTree(t, {
      'apps/cm.yaml': configMap('cm'),
      'apps/kustomization.yaml':
        "resources: [cm.yaml]\ntransformers:\n  - '{apiVersion: builtin, kind: LabelTransformer, metadata: {name: l}, labels: {app.kubernetes.io/name: demo}, fieldSpecs: [{path: metadata/labels, create: true}]}'\n",
    });
    const [cm] = await renderKustomization({ root: oneLine, path: 'apps', spec: {}, batch: false });
    assert.equal(cm!.metadata.labels?.['app.kubernetes.io/name'], 'demo');
  });

  test('allowRemoteBases never reaches the local network, in any spelling of its addresses', async (t) => {
    const server = await recordingServer(t);
    const p = server.port;
    const urls = [
      `http://127.0.0.1:${p}/x.yaml`,
      `http://localhost:${p}/x.yaml`,
      `http://LOCALHOST.:${p}/x.yaml`,
      `http://127.1:${p}/x.yaml`,
      `http://0x7f000001:${p}/x.yaml`,
      `http://2130706433:${p}/x.yaml`,
      `http://0177.0.0.1:${p}/x.yaml`,
      `http://0.0.0.0:${p}/x.yaml`,
      `http://0:${p}/x.yaml`,
      `http://[::1]:${p}/x.yaml`,
      `http://[::ffff:127.0.0.1]:${p}/x.yaml`,
      `http://169.254.169.254/latest/meta-data/`,
      `https://user:pw@127.0.0.1:${p}/x.yaml`,
      `git@localhost:org/repo`,
      `ssh://localhost:${p}/org/repo`,
    ];
    for (const u of urls) {
      const root = await tempTree(t, { 'apps/kustomization.yaml': `resources: ["${u}"]\n` });
      await assert.rejects(
        renderKustomization({ root, path: 'apps', spec: {}, batch: false, allowRemoteBases: true }),
        refused(/points at the local network \(.*\); Fluxless never fetches from loopback, link-local or unspecified addresses/),
        u,
      );
    }
    // Spellings kustomize's repo-spec parser rejects are read as local paths: they must not climb out either.
    const up = '../'.repeat(12);
    for (const yaml of [
      `resources: ["ab://example.com/${up}etc/kubernetes"]`,
      `resources: ["git@example.com:${up}etc/kubernetes"]`,
      `configMapGenerator:\n  - name: g\n    envs: ["git@example.com:${up}etc/hostname"]`,
    ]) {
      const root = await tempTree(t, { 'apps/kustomization.yaml': `${yaml}\n` });
      await assert.rejects(
        renderKustomization({ root, path: 'apps', spec: {}, batch: false, allowRemoteBases: true }),
        refused(/climbs out of the source artifact when read as a local path/),
        yaml,
      );
    }
    const file = await tempTree(t, { 'apps/kustomization.yaml': 'resources: ["file:///etc/kubernetes"]\n' });
    await assert.rejects(renderKustomization({ root: file, path: 'apps', spec: {}, batch: false, allowRemoteBases: true }), refused(/is a file: URL/));
    assert.deepEqual(server.requests, []);
  });

  test('allowRemoteBases fetches remote resources from other hosts', async (t) => {
    const address = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && a.family === 'IPv4' && !a.internal && !a.address.startsWith('169.254.'))?.address;
    if (!address) return t.skip('no non-loopback IPv4 address on this machine');
    const server = await recordingServer(t, configMap('from-http'), address);
    const root = await tempTree(t, { 'apps/kustomization.yaml': `resources:\n  - ${server.url}/cm.yaml\n` });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {}, batch: false }), refused(/remote bases are disabled/));
    assert.deepEqual(server.requests, []);
    const objects = await renderKustomization({ root, path: 'apps', spec: {}, allowRemoteBases: true });
    assert.deepEqual(objects.map((o) => o.metadata.name), ['from-http']);
    assert.deepEqual(server.requests, ['/cm.yaml']);
  });

  test('kustomize itself has no network, loopback included, where the kernel allows a network namespace', async (t) => {
    if (!(await sandboxCapabilities()).unshare) return t.skip('no unprivileged network namespaces here (as on AWS Lambda): the static check is the only defence');
    const server = await recordingServer(t);
    // Straight to kustomize, past the static check: the second line of defence alone.
    const root = await tempTree(t, { 'kustomization.yaml': `resources:\n  - ${server.url}/x.yaml\n` });
    const { kubectl } = await ensureTools();
    await assert.rejects(kustomizeBuild(kubectl, root, { root }), refused(/^kustomize build failed: /, ValidationError));
    assert.deepEqual(server.requests, []);
  });
});

describe('parser differentials: what kustomize reads is what the check read', () => {
  const hidden = (sep: string) => `namePrefix: x-${sep}configMapGenerator:${sep}- name:${sep}    leak${sep}  files:${sep}  - ../../../../a/HEX-1/app/secret.yaml${sep}`;

  for (const [name, sep] of [
    ['U+2028', '\u2028'],
    ['U+2029', '\u2029'],
    ['U+0085', '\u0085'],
  ] as const) {
    test(`a generator hidden behind ${name} line breaks (go-yaml breaks lines there) is refused, top-level or nested`, async (t) => {
      const { base, hex } = await cacheLayout(t);
      const attack = hidden(sep).replace('HEX', hex);
      await assert.rejects(renderFromCache(base, { 'apps/kustomization.yaml': attack }), refused(new RegExp(`${name.replace("+", "\\+")}, a line break for kustomize`), KustomizationParseError));
      await assert.rejects(
        renderFromCache(base, { 'apps/kustomization.yaml': 'resources: [sub]\n', 'apps/sub/kustomization.yaml': attack.replace('../../../../', '../../../../../') }),
        refused(/sub\/kustomization\.yaml: .*a line break for kustomize/, KustomizationParseError),
      );
    });
  }

  test('a UTF-16 kustomization (go-yaml decodes it by its byte-order mark) is refused, not read as empty', async (t) => {
    const { base, hex } = await cacheLayout(t);
    const text = `configMapGenerator:\n- name: leak\n  files:\n  - ../../../../../a/${hex}-1/app/secret.yaml\n`;
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const artifact = path.join(base, 'a', `${'e'.repeat(64)}-2`);
    await writeTree(artifact, { 'apps/kustomization.yaml': 'resources: [sub]\n' });
    await mkdir(path.join(artifact, 'apps/sub'), { recursive: true });
    await import('node:fs/promises').then((fs) => fs.writeFile(path.join(artifact, 'apps/sub/kustomization.yaml'), utf16));
    const work = await mkdtemp(path.join(base, 'w-'));
    const root = path.join(work, 'src');
    await materializeBuildTree(artifact, 'apps', [], root);
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {}, batch: false }), refused(/sub\/kustomization\.yaml: .*not UTF-8 text/, KustomizationParseError));
  });

  test('a kustomization document that is not a mapping is refused, not skipped', async (t) => {
    const { base } = await cacheLayout(t);
    await assert.rejects(
      renderFromCache(base, { 'apps/kustomization.yaml': 'resources: [sub]\n', 'apps/sub/kustomization.yaml': '- resources\n' }),
      refused(/sub\/kustomization\.yaml: .*not a YAML mapping/, KustomizationParseError),
    );
  });

  test('a multi-line patchesStrategicMerge entry that is not a patch is checked as the path kustomize loads', async (t) => {
    const { base, hex } = await cacheLayout(t);
    const files = {
      'apps/kustomization.yaml': `resources: [cm.yaml]\npatchesStrategicMerge:\n  - "x\\n/../../../../../a/${hex}-1/app/secret.yaml"\n`,
      'apps/cm.yaml': secret('other-teams-secret').replace('hunter2', 'mine'),
    };
    await assert.rejects(renderFromCache(base, files), refused(/patchesStrategicMerge/));
    // A real inline patch still works.
    const ok = await renderFromCache(base, { 'apps/kustomization.yaml': 'resources: [cm.yaml]\npatchesStrategicMerge:\n  - |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: a\n    data:\n      k: patched\n', 'apps/cm.yaml': configMap('a', { k: 'v' }) });
    assert.equal((ok.find((o) => o.kind === 'ConfigMap')?.data as Record<string, string>).k, 'patched');
  });
});
