import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink } from 'node:fs/promises';
import path from 'node:path';
import {
  OWNER_NAME_LABEL,
  OWNER_NAMESPACE_LABEL,
  addOwnerLabels,
  parseManifests,
  renderKustomization,
  resolveBuildPath,
} from '../../shared/render/build.js';
import { SopsNotSupportedError } from '../../shared/render/errors.js';
import { EnvironmentError, ValidationError } from '../../shared/util/errors.js';
import { configMap, deployment, recordingServer, tempTree } from './helpers.js';

function rejectsWith(pattern: RegExp, cls: new (...a: never[]) => Error = ValidationError) {
  return (err: Error) => {
    assert.ok(err instanceof cls, `expected ${cls.name}, got ${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  };
}

describe('spec.path', () => {
  test('is joined below the artifact root; escapes and missing paths are refused', async (t) => {
    const root = await tempTree(t, { 'apps/prod/cm.yaml': configMap('a'), 'apps/file.yaml': configMap('b') });
    const ok = await resolveBuildPath(root, './apps/prod');
    assert.equal(path.relative(ok.root, ok.dir), path.join('apps', 'prod'));
    // A leading slash means the artifact root, as with Flux's SecureJoin.
    assert.equal((await resolveBuildPath(root, '/apps/prod')).dir, ok.dir);
    assert.equal((await resolveBuildPath(root, 'apps/../apps/prod')).dir, ok.dir);
    assert.equal((await resolveBuildPath(root, '')).dir, ok.root);

    await assert.rejects(resolveBuildPath(root, '../'), rejectsWith(/points outside the source artifact/));
    await assert.rejects(resolveBuildPath(root, 'apps/../../etc'), rejectsWith(/points outside the source artifact/));
    await assert.rejects(resolveBuildPath(root, './clusters/staging'), rejectsWith(/kustomization path not found: spec.path '.\/clusters\/staging' does not exist/));
    await assert.rejects(resolveBuildPath(root, 'apps/file.yaml'), rejectsWith(/must be a directory/));
  });

  test('a symlink that leads outside the artifact is refused', async (t) => {
    const outside = await tempTree(t, { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': configMap('secret-stuff') });
    const root = await tempTree(t, { 'apps/cm.yaml': configMap('a') });
    await symlink(outside, path.join(root, 'escape'));
    await symlink(path.join(root, 'apps'), path.join(root, 'inside'));
    await assert.rejects(
      renderKustomization({ root, path: 'escape', spec: {} }),
      rejectsWith(/spec.path 'escape' resolves through a symlink to a location outside the source artifact/),
    );
    // A symlink that stays inside is followed, as SecureJoin does.
    const objects = await renderKustomization({ root, path: 'inside', spec: {} });
    assert.deepEqual(objects.map((o) => o.metadata.name), ['a']);
  });
});

describe('kustomize build containment', () => {
  test('a directory reference above the artifact root is refused before kustomize runs', async (t) => {
    const parent = await tempTree(t, {
      'outside/kustomization.yaml': 'resources: [cm.yaml]\n',
      'outside/cm.yaml': configMap('outside'),
      'artifact/apps/kustomization.yaml': 'resources:\n  - ../../outside\n',
    });
    await assert.rejects(
      renderKustomization({ root: path.join(parent, 'artifact'), path: 'apps', spec: {} }),
      rejectsWith(/apps\/kustomization.yaml: resources entry '..\/..\/outside' points outside the source artifact/),
    );
  });

  test('a symlinked base or manifest pointing outside the artifact is refused', async (t) => {
    const outside = await tempTree(t, { 'kustomization.yaml': 'resources: [cm.yaml]\n', 'cm.yaml': configMap('outside') });
    const root = await tempTree(t, {
      'overlay/kustomization.yaml': 'resources: [../base]\n',
      'plain/ok.yaml': configMap('ok'),
    });
    await symlink(outside, path.join(root, 'base'));
    await assert.rejects(
      renderKustomization({ root, path: 'overlay', spec: {} }),
      rejectsWith(/resources entry '..\/base' resolves through a symlink to a location outside the source artifact/),
    );
    await symlink(path.join(outside, 'cm.yaml'), path.join(root, 'plain/linked.yaml'));
    await assert.rejects(
      renderKustomization({ root, path: 'plain', spec: {} }),
      rejectsWith(/plain\/linked.yaml is a symlink pointing outside the source artifact/),
    );
  });

  test('a kustomization file symlinked to outside the artifact is neither read nor written', async (t) => {
    const outsideText = 'resources: [cm.yaml]\n';
    const outside = await tempTree(t, { 'kustomization.yaml': outsideText, 'cm.yaml': configMap('outside') });
    const root = await tempTree(t, { 'apps/cm.yaml': configMap('a'), 'overlay/kustomization.yaml': 'resources: [../linked]\n' });
    await symlink(path.join(outside, 'kustomization.yaml'), path.join(root, 'apps/kustomization.yaml'));
    await assert.rejects(
      renderKustomization({ root, path: 'apps', spec: { namePrefix: 'x-' } }),
      rejectsWith(/apps\/kustomization.yaml is a symlink pointing outside the source artifact/),
    );
    assert.equal(await readFile(path.join(outside, 'kustomization.yaml'), 'utf8'), outsideText);
    // Reached as a base of another kustomization: refused as well.
    await mkdir(path.join(root, 'linked'));
    await symlink(path.join(outside, 'kustomization.yaml'), path.join(root, 'linked/kustomization.yaml'));
    await assert.rejects(
      renderKustomization({ root, path: 'overlay', spec: {} }),
      rejectsWith(/linked\/kustomization.yaml is a symlink pointing outside the source artifact/),
    );
  });

  test('files and bases elsewhere inside the artifact work, as in Flux; with a transformer in the graph, files stay below their kustomization', async (t) => {
    const root = await tempTree(t, {
      'base/kustomization.yaml': 'resources: [cm.yaml]\n',
      'base/cm.yaml': configMap('base'),
      'shared/patch.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base\ndata:\n  patched: "true"\n',
      'shared/replacements.yaml': 'source:\n  kind: ConfigMap\n  name: base\n  fieldPath: data.patched\ntargets:\n  - select:\n      kind: ConfigMap\n    fieldPaths: [metadata.annotations.copied]\n    options: {create: true}\n',
      'overlay/kustomization.yaml': 'resources: [../base]\n',
      'overlay-file/kustomization.yaml': 'resources: [../base]\npatches:\n  - path: ../shared/patch.yaml\nreplacements:\n  - path: ../shared/replacements.yaml\n',
      'overlay-plugin/kustomization.yaml': 'resources: [../base]\npatches:\n  - path: ../shared/patch.yaml\ntransformers: [labels.yaml]\n',
      'overlay-plugin/labels.yaml': 'apiVersion: builtin\nkind: LabelTransformer\nmetadata:\n  name: l\nlabels:\n  team: a\nfieldSpecs:\n  - path: metadata/labels\n    create: true\n',
    });
    const objects = await renderKustomization({ root, path: 'overlay', spec: { namePrefix: 'o-' } });
    assert.deepEqual(objects.map((o) => o.metadata.name), ['o-base']);
    // Flux's LoadRestrictionsNone: a patch and replacements from ../shared.
    const [patched] = await renderKustomization({ root, path: 'overlay-file', spec: {} });
    assert.equal((patched!.data as { patched?: string }).patched, 'true');
    assert.equal(patched!.metadata.annotations?.copied, 'true');
    // A graph with plugin configurations builds with kustomize's LoadRestrictionsRootOnly.
    await assert.rejects(
      renderKustomization({ root, path: 'overlay-plugin', spec: {} }),
      rejectsWith(
        /kustomize build failed: .*security; file 'shared\/patch.yaml' is not in or below 'overlay-plugin' \(Fluxless lets kustomize read files outside a kustomization's directory only when the build has no generators, transformers, validators or remote references, and overlay-plugin\/kustomization.yaml has transformers: move the file below the kustomization that reads it\)/s,
      ),
    );
  });

  test('remote references are refused unless allowRemoteBases is set (and loopback even then)', async (t) => {
    const server = await recordingServer(t);
    const url = `${server.url}/cm.yaml`;
    const root = await tempTree(t, {
      'http/kustomization.yaml': `resources:\n  - ${url}\n`,
      'git/kustomization.yaml': 'resources:\n  - "github.com/example/repo//deploy?ref=v1.0.0"\n',
      'patch/kustomization.yaml': `resources: [cm.yaml]\npatches:\n  - path: ${url}\n`,
      'patch/cm.yaml': configMap('from-http'),
      'nested/kustomization.yaml': 'resources: [../http]\n',
    });
    await assert.rejects(
      renderKustomization({ root, path: 'http', spec: {} }),
      rejectsWith(/http\/kustomization.yaml: resources entry 'http:\/\/127.0.0.1:\d+\/cm.yaml' is a remote reference, and remote bases are disabled/),
    );
    await assert.rejects(renderKustomization({ root, path: 'git', spec: {} }), rejectsWith(/'github.com\/example\/repo\/\/deploy\?ref=v1.0.0' is a remote reference/));
    await assert.rejects(renderKustomization({ root, path: 'patch', spec: {} }), rejectsWith(/patches\[\]\.path entry .* is a remote reference/));
    await assert.rejects(renderKustomization({ root, path: 'nested', spec: {} }), rejectsWith(/^http\/kustomization.yaml: resources entry/));
    // Allowed remote bases still never reach the function's own host (see containment.test.ts for the positive case).
    await assert.rejects(renderKustomization({ root, path: 'http', spec: {}, allowRemoteBases: true }), rejectsWith(/points at the local network \(127.0.0.1\)/));
    assert.deepEqual(server.requests, []);
  });
});

describe('build errors', () => {
  test('an invalid kustomization fails with kustomize message and no temp paths', async (t) => {
    const root = await tempTree(t, { 'apps/kustomization.yaml': 'resources:\n  - missing.yaml\n' });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {} }), (err: Error) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /^kustomize build failed: accumulating resources/);
      assert.match(err.message, /missing\.yaml/);
      assert.ok(!err.message.includes(root), err.message);
      assert.ok(!/^error:/m.test(err.message.slice('kustomize build failed: '.length)));
      return true;
    });
  });

  test('unparsable kustomization YAML fails naming the file', async (t) => {
    const root = await tempTree(t, { 'apps/kustomization.yaml': 'resources: [a.yaml\n' });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {} }), rejectsWith(/failed to parse apps\/kustomization.yaml/));
  });

  test('a listed manifest without metadata.name fails the build before anything is applied', async (t) => {
    const root = await tempTree(t, {
      'apps/kustomization.yaml': 'resources: [ok.yaml, bad.yaml]\n',
      'apps/ok.yaml': configMap('ok'),
      'apps/bad.yaml': 'apiVersion: v1\nkind: ConfigMap\ndata: {a: b}\n',
    });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {} }), rejectsWith(/kustomize build failed: .*bad\.yaml.*missing metadata.name/));
  });

  test('a patch that does not apply fails cleanly', async (t) => {
    const root = await tempTree(t, { 'apps/web.yaml': deployment('web', 'nginx') });
    await assert.rejects(
      renderKustomization({
        root,
        path: 'apps',
        spec: { patches: [{ patch: '[{"op": "replace", "path": "/spec/nothing/here", "value": 1}]', target: { kind: 'Deployment' } }] },
      }),
      rejectsWith(/^kustomize build failed: /),
    );
  });

  test('kustomize that cannot run is an EnvironmentError', async (t) => {
    const { kustomizeBuild } = await import('../../shared/render/build.js');
    const root = await tempTree(t, { 'kustomization.yaml': 'resources: []\n' });
    await assert.rejects(kustomizeBuild(path.join(root, 'no-such-kubectl'), root, { root }), rejectsWith(/cannot run/, EnvironmentError));
  });

  test('output larger than the limit is refused', async (t) => {
    const root = await tempTree(t, { 'apps/cm.yaml': configMap('big', { blob: 'x'.repeat(4096) }) });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {}, maxOutputBytes: 1024 }), rejectsWith(/exceeds 1024 bytes/));
  });
});

describe('objects', () => {
  test('commonMetadata labels and annotations are set on every object and override the build', async (t) => {
    const root = await tempTree(t, {
      'apps/kustomization.yaml': 'resources: [web.yaml, cm.yaml]\ncommonAnnotations:\n  owner: team-a\n',
      'apps/web.yaml': deployment('web', 'nginx'),
      'apps/cm.yaml': configMap('cm'),
    });
    const objects = await renderKustomization({
      root,
      path: 'apps',
      spec: { commonMetadata: { labels: { app: 'overridden', env: 'prod' }, annotations: { owner: 'team-b' } } },
    });
    assert.equal(objects.length, 2);
    for (const o of objects) {
      assert.equal(o.metadata.labels?.app, 'overridden', o.metadata.name);
      assert.equal(o.metadata.labels?.env, 'prod');
      assert.equal(o.metadata.annotations?.owner, 'team-b');
    }
    // Only metadata: the Deployment's selector keeps the original label.
    const web = objects.find((o) => o.kind === 'Deployment') as unknown as { spec: { selector: { matchLabels: Record<string, string> } } };
    assert.equal(web.spec.selector.matchLabels.app, 'web');
  });

  test('addOwnerLabels sets the Flux owner labels, keeping other labels', async (t) => {
    const root = await tempTree(t, { 'apps/web.yaml': deployment('web', 'nginx'), 'apps/cm.yaml': configMap('cm') });
    const objects = addOwnerLabels(await renderKustomization({ root, path: 'apps', spec: {} }), { name: 'apps', namespace: 'flux-system' });
    for (const o of objects) {
      assert.equal(o.metadata.labels?.[OWNER_NAME_LABEL], 'apps');
      assert.equal(o.metadata.labels?.[OWNER_NAMESPACE_LABEL], 'flux-system');
    }
    assert.equal(objects.find((o) => o.kind === 'Deployment')?.metadata.labels?.app, 'web');
    assert.equal(OWNER_NAME_LABEL, 'kustomize.toolkit.fluxcd.io/name');
    assert.equal(OWNER_NAMESPACE_LABEL, 'kustomize.toolkit.fluxcd.io/namespace');
  });

  test('a SOPS-encrypted Secret fails the build with a typed error instead of reaching the API server', async (t) => {
    const encrypted = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: apps
stringData:
  password: ENC[AES256_GCM,data:aGk=,iv:aXY=,tag:dGFn,type:str]
sops:
  age:
    - recipient: age1example
      enc: |
        -----BEGIN AGE ENCRYPTED FILE-----
  lastmodified: "2024-01-01T00:00:00Z"
  version: 3.8.1
`;
    const root = await tempTree(t, { 'apps/db.yaml': encrypted, 'apps/cm.yaml': configMap('cm'), 'plain/db.yaml': encrypted.replace(/^sops:[\s\S]*$/m, '') });
    await assert.rejects(renderKustomization({ root, path: 'apps', spec: {} }), (err: Error) => {
      assert.ok(err instanceof SopsNotSupportedError, `${err.name}: ${err.message}`);
      assert.ok(err instanceof ValidationError);
      assert.equal(err.message, 'SOPS-encrypted Secret apps/db: SOPS decryption is not supported yet');
      assert.ok(!err.message.includes('ENC['));
      return true;
    });
    // The same Secret without SOPS metadata renders.
    assert.deepEqual((await renderKustomization({ root, path: 'plain', spec: {} })).map((o) => o.metadata.name), ['db']);
  });

  test('parseManifests rejects objects without apiVersion, kind or name, naming them', () => {
    assert.equal(parseManifests(`${configMap('a')}---\n---\n${configMap('b')}`).length, 2);
    assert.throws(() => parseManifests('apiVersion: v1\nkind: Secret\nmetadata: {}\n'), rejectsWith(/'Secret': missing metadata.name/));
    assert.throws(() => parseManifests('kind: Thing\nmetadata: {name: t}\n'), rejectsWith(/'Thing t': missing apiVersion/));
    assert.throws(() => parseManifests('- just\n- a list\n'), rejectsWith(/failed to decode Kubernetes apiVersion, kind and name/));
  });
});
