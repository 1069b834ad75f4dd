/**
 * The Setters update strategy: markers on YAML line comments, values quoted as kyaml would,
 * every other byte of a file kept, the files Flux reads (and only those) written back, and
 * the changes reported as Flux's update.Result.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { allChanges, applySetters, applySettersToText, objectChanges, setterOfComment, setterValues, type SetterPolicy } from '../../shared/images/setters.js';
import { formatScalar, isYaml11NonString } from '../../shared/images/yaml-scalars.js';

const app: SetterPolicy = { namespace: 'flux-system', name: 'app', latestRef: { name: 'ghcr.io/org/app', tag: '1.10.0' } };
const pinned: SetterPolicy = { namespace: 'flux-system', name: 'pinned', latestRef: { name: 'ghcr.io/org/pinned', tag: '2.0.0', digest: 'sha256:' + 'a'.repeat(64) } };
const setters = setterValues([app, pinned]);

describe('applySettersToText', () => {
  test('the image setter replaces the whole scalar; everything else stays byte-identical', () => {
    const src = [
      '# a comment at the top',
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata:',
      '  name: podinfo   # trailing comment',
      '  namespace: apps',
      'spec:',
      '  template:',
      '    spec:',
      '      containers:',
      '      - name: app',
      '        image: ghcr.io/org/app:1.9.3 # {"$imagepolicy": "flux-system:app"}',
      '        args: [ "--x",  y ]',
      '',
    ].join('\n');
    const out = applySettersToText(src, setters)!;
    assert.ok(out.changed);
    assert.equal(out.text, src.replace('ghcr.io/org/app:1.9.3', 'ghcr.io/org/app:1.10.0'));
    assert.deepEqual(out.changes, [
      {
        id: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo', namespace: 'apps' },
        change: { oldValue: 'ghcr.io/org/app:1.9.3', newValue: 'ghcr.io/org/app:1.10.0', setter: 'flux-system:app' },
      },
    ]);
  });

  test('tag, name and digest setters; a tag YAML would read as a number is quoted', () => {
    const src = [
      'image:',
      "  repository: 'ghcr.io/org/old' # {\"$imagepolicy\": \"flux-system:app:name\"}",
      '  tag: 1.9 # {"$imagepolicy": "flux-system:app:tag"}',
      '  digest: sha256:abc # {"$imagepolicy": "flux-system:app:digest"}',
      '  pinnedDigest: "" # {"$imagepolicy": "flux-system:pinned:digest"}',
      '',
    ].join('\n');
    const numeric = setterValues([{ ...app, latestRef: { ...app.latestRef, tag: '1.10' } }, pinned]);
    const out = applySettersToText(src, numeric)!;
    assert.equal(
      out.text,
      [
        'image:',
        "  repository: 'ghcr.io/org/app' # {\"$imagepolicy\": \"flux-system:app:name\"}",
        '  tag: "1.10" # {"$imagepolicy": "flux-system:app:tag"}',
        '  digest: "" # {"$imagepolicy": "flux-system:app:digest"}',
        `  pinnedDigest: "sha256:${'a'.repeat(64)}" # {"$imagepolicy": "flux-system:pinned:digest"}`,
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      out.changes.map((c) => c.change.setter),
      ['flux-system:app:name', 'flux-system:app:tag', 'flux-system:app:digest', 'flux-system:pinned:digest'],
    );
  });

  test('markers of unknown policies, other namespaces, comments that are not the JSON are ignored', () => {
    const src = [
      'a: x:1 # {"$imagepolicy": "other-ns:app"}',
      'b: x:1 # {"$imagepolicy": "flux-system:nope"}',
      'c: x:1 # $imagepolicy flux-system:app',
      'd: x:1 # {"$imagepolicy": "flux-system:app", "n": 1}',
      'e: x:1 # {"$imagepolicy": "flux-system:app:size"}',
      'f: {image: x:1} # {"$imagepolicy": "flux-system:app"}',
      'g: |',
      '  x:1 # {"$imagepolicy": "flux-system:app"}',
      '',
    ].join('\n');
    const out = applySettersToText(src, setters)!;
    assert.equal(out.changed, false);
    assert.equal(out.text, src);
  });

  test('## and extra string keys in the marker still count; an unchanged value is no change', () => {
    const src = 'a: old ## {"$imagepolicy": "flux-system:app:tag", "note": "x"}\nb: 1.10.0 # {"$imagepolicy": "flux-system:app:tag"}\n';
    const out = applySettersToText(src, setters)!;
    assert.equal(out.text, 'a: 1.10.0 ## {"$imagepolicy": "flux-system:app:tag", "note": "x"}\nb: 1.10.0 # {"$imagepolicy": "flux-system:app:tag"}\n');
    assert.equal(out.changes.length, 1);
  });

  test('a sequence item with the marker on the line above (kyaml reads its head comment)', () => {
    const src = 'images:\n  - keep:1\n  # {"$imagepolicy": "flux-system:app"}\n  - ghcr.io/org/app:1.0.0\n';
    assert.equal(applySettersToText(src, setters)!.text, 'images:\n  - keep:1\n  # {"$imagepolicy": "flux-system:app"}\n  - ghcr.io/org/app:1.10.0\n');
  });

  test('multi-document files and CRLF line endings are kept; each document is its own object', () => {
    const src = 'kind: A\r\nmetadata:\r\n  name: one\r\nimage: x:1 # {"$imagepolicy": "flux-system:app"}\r\n---\r\nkind: B\r\nmetadata:\r\n  name: two\r\ntag: "1" # {"$imagepolicy": "flux-system:app:tag"}\r\n';
    const out = applySettersToText(src, setters)!;
    assert.equal(out.text, src.replace('x:1', 'ghcr.io/org/app:1.10.0').replace('"1"', '"1.10.0"'));
    assert.deepEqual(out.changes.map((c) => c.id?.name), ['one', 'two']);
  });

  test('invalid YAML is not touched (undefined)', () => {
    assert.equal(applySettersToText('a: [1\nimage: x # {"$imagepolicy": "flux-system:app"}\n', setters), undefined);
  });

  test('setterOfComment', () => {
    assert.equal(setterOfComment('# {"$imagepolicy": "ns:p"}'), 'ns:p');
    assert.equal(setterOfComment('#{"$imagepolicy":"ns:p:tag"}'), 'ns:p:tag');
    assert.equal(setterOfComment('# {"$imagepolicy": 3}'), undefined);
    assert.equal(setterOfComment('# hello'), undefined);
  });
});

describe('quoting like kyaml and go-yaml', () => {
  test('YAML 1.1 non-strings', () => {
    for (const v of ['1.10', '10', 'true', 'yes', 'off', '~', 'null', '1e3', '0x1F', '2024-01-10', '.inf', '08']) assert.equal(isYaml11NonString(v), true, v);
    for (const v of ['1.10.0', 'v1', 'sha256:abc', 'ghcr.io/x:1', 'main-abc', '', '2024-01-10-abc', '1:20']) assert.equal(isYaml11NonString(v), false, v);
  });

  test('formatScalar keeps the style and quotes what must be', () => {
    assert.equal(formatScalar('1.10', 'plain'), '"1.10"');
    assert.equal(formatScalar('1.10.0', 'plain'), '1.10.0');
    assert.equal(formatScalar('', 'plain'), '""');
    assert.equal(formatScalar('a: b', 'plain'), '"a: b"', 'a map in YAML 1.1: kyaml double-quotes it');
    assert.equal(formatScalar(' lead', 'plain'), "' lead'", 'not plain: go-yaml single-quotes it');
    assert.equal(formatScalar("it's", 'single'), "'it''s'");
    assert.equal(formatScalar('say "x"', 'double'), '"say \\"x\\""');
    assert.equal(formatScalar('2024-01-10', 'plain'), '"2024-01-10"');
  });
});

describe('applySetters on a checkout', () => {
  async function checkout(files: Record<string, string>): Promise<string> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-setters-'));
    for (const [f, text] of Object.entries(files)) {
      await mkdir(path.dirname(path.join(dir, f)), { recursive: true });
      await writeFile(path.join(dir, f), text);
    }
    return dir;
  }

  test('only yaml/yml/Kustomization files with the token under update.path; others are never rewritten', async (t) => {
    const marker = 'image: x:1 # {"$imagepolicy": "flux-system:app"}\n';
    const dir = await checkout({
      'clusters/dev/app.yaml': `kind: Deployment\nmetadata:\n  name: app\n${marker}`,
      'clusters/dev/sub/Kustomization': `kind: Kustomization\n${marker}`,
      'clusters/dev/notes.txt': marker,
      'clusters/dev/plain.yaml': 'image: x:1 # {"$imagepolicy": flux-system:app}\n',
      'clusters/dev/broken.yml': `a: [1\n${marker}`,
      'clusters/prod/app.yaml': marker,
    });
    t.after(() => rm(dir, { recursive: true, force: true }));
    const before = await stat(path.join(dir, 'clusters/dev/plain.yaml'));
    const res = await applySetters(dir, './clusters/dev', [app]);
    assert.deepEqual(res.written, ['clusters/dev/app.yaml', 'clusters/dev/sub/Kustomization']);
    assert.deepEqual([...res.fileChanges.keys()], ['app.yaml', 'sub/Kustomization']);
    assert.deepEqual(res.problemFiles, ['broken.yml']);
    assert.equal(await readFile(path.join(dir, 'clusters/dev/notes.txt'), 'utf8'), marker);
    assert.equal(await readFile(path.join(dir, 'clusters/prod/app.yaml'), 'utf8'), marker);
    assert.equal((await stat(path.join(dir, 'clusters/dev/plain.yaml'))).mtimeMs, before.mtimeMs);
    assert.match(await readFile(path.join(dir, 'clusters/dev/app.yaml'), 'utf8'), /image: ghcr\.io\/org\/app:1\.10\.0 # /);
    assert.equal(allChanges(res.fileChanges).length, 1, 'the same change in two files counts once');
    assert.deepEqual(objectChanges(res.fileChanges).map((o) => [o.id.kind, o.changes.length]), [['Deployment', 1], ['Kustomization', 1]]);
  });

  test('update.path may not leave the checkout, and symbolic links are not followed', async (t) => {
    const outside = await checkout({ 'victim.yaml': 'image: x:1 # {"$imagepolicy": "flux-system:app"}\n' });
    const dir = await checkout({ 'a.yaml': 'k: v\n' });
    t.after(() => Promise.all([rm(dir, { recursive: true, force: true }), rm(outside, { recursive: true, force: true })]));
    await symlink(path.join(outside, 'victim.yaml'), path.join(dir, 'link.yaml'));
    await symlink(outside, path.join(dir, 'linkdir'));
    await assert.rejects(applySetters(dir, '../', [app]), /points outside the repository/);
    await assert.rejects(applySetters(dir, './linkdir', [app]), /resolves outside the repository/);
    await assert.rejects(applySetters(dir, './missing', [app]), /does not exist/);
    const res = await applySetters(dir, undefined, [app]);
    assert.deepEqual(res.written, []);
    assert.equal(await readFile(path.join(outside, 'victim.yaml'), 'utf8'), 'image: x:1 # {"$imagepolicy": "flux-system:app"}\n');
  });
});
