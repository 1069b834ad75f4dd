import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { extract as tarExtract } from 'tar-stream';
import { buildArtifact, planArtifact } from '../../shared/artifacts/build.js';
import { extractArtifact } from '../../shared/artifacts/extract.js';
import { ParallelGzip } from '../../shared/artifacts/gzip.js';

function tmpdir(t: { after: (fn: () => void) => void }, prefix = 'fluxless-art-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function write(root: string, rel: string, content: string | Buffer = rel, mode?: number): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  if (mode !== undefined) fs.chmodSync(p, mode);
}

interface ListedEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: number;
  data: Buffer;
}

async function listTar(tarGz: Buffer): Promise<ListedEntry[]> {
  const ex = tarExtract();
  Readable.from([zlib.gunzipSync(tarGz)]).pipe(ex);
  const out: ListedEntry[] = [];
  for await (const e of ex) {
    const chunks: Buffer[] = [];
    for await (const c of e) chunks.push(c as Buffer);
    const h = e.header;
    out.push({
      name: h.name,
      type: h.type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      uname: h.uname,
      gname: h.gname,
      mtime: h.mtime.getTime(),
      data: Buffer.concat(chunks),
    });
  }
  return out;
}

function names(entries: { name: string }[]): string[] {
  return entries.map((e) => e.name);
}

describe('buildArtifact: archive format as Flux writes it', () => {
  test('walk order, names, modes, owners, times; symlinks, FIFOs and .git dropped', async (t) => {
    const src = tmpdir(t);
    write(src, 'b.yaml', 'kind: B\n');
    write(src, 'a/z.yaml');
    write(src, 'a/deploy.sh', '#!/bin/sh\necho hi\n', 0o755);
    write(src, 'a.txt');
    fs.mkdirSync(path.join(src, 'empty'));
    write(src, '.git/config', '[core]');
    write(src, '.git/objects/aa/bb', 'blob');
    write(src, '.gitignore', 'x');
    write(src, 'sub/.gitattributes', 'x');
    fs.symlinkSync('b.yaml', path.join(src, 'link.yaml'));
    fs.symlinkSync('a', path.join(src, 'linkdir'));
    fs.symlinkSync('/etc/passwd', path.join(src, 'escape'));
    execFileSync('mkfifo', [path.join(src, 'pipe')]);

    const art = await buildArtifact(src);
    const entries = await listTar(art.tarGz);
    // Go's filepath.Walk: pre-order, names sorted bytewise ("a" < "a.txt" < "b.yaml").
    assert.deepEqual(names(entries), ['.', 'a', 'a/deploy.sh', 'a/z.yaml', 'a.txt', 'b.yaml', 'empty', 'sub']);
    const byName = new Map(entries.map((e) => [e.name, e]));
    assert.equal(byName.get('.')!.type, 'directory');
    assert.equal(byName.get('.')!.mode, 0o750);
    assert.equal(byName.get('a')!.mode, 0o750);
    assert.equal(byName.get('a/deploy.sh')!.mode, 0o700, 'executable -> 0700');
    assert.equal(byName.get('b.yaml')!.mode, 0o600, 'plain file -> 0600');
    assert.equal(byName.get('b.yaml')!.data.toString(), 'kind: B\n');
    for (const e of entries) {
      assert.equal(e.uid, 0);
      assert.equal(e.gid, 0);
      assert.equal(e.uname, '');
      assert.equal(e.gname, '');
      assert.equal(e.mtime, 0);
      assert.ok(!e.name.endsWith('/'), `${e.name}: no trailing slash on directories, like Flux`);
    }
    assert.equal(art.fileCount, 4);
    assert.equal(art.dirCount, 4);
    assert.equal(art.size, art.tarGz.length);
    assert.equal(art.digest, 'sha256:' + createHash('sha256').update(art.tarGz).digest('hex'));
  });

  test('the digest depends on content only: same for a copy with other times and permissions, different after an edit', async (t) => {
    const src = tmpdir(t);
    for (let i = 0; i < 30; i++) write(src, `d${i % 3}/f${i}.yaml`, `n: ${i}\n`.repeat(50));
    const first = await buildArtifact(src);

    const copy = tmpdir(t);
    fs.cpSync(src, copy, { recursive: true });
    const old = new Date('2001-01-01T00:00:00Z');
    fs.utimesSync(path.join(copy, 'd0/f0.yaml'), old, old);
    fs.chmodSync(path.join(copy, 'd1/f1.yaml'), 0o644);
    const second = await buildArtifact(copy);
    assert.equal(second.digest, first.digest);
    assert.ok(second.tarGz.equals(first.tarGz));

    write(copy, 'd2/f2.yaml', 'changed\n');
    const third = await buildArtifact(copy);
    assert.notEqual(third.digest, first.digest);
  });

  test('long and non-ASCII names survive (USTAR prefix split and PAX records) and GNU tar reads the archive', async (t) => {
    const src = tmpdir(t);
    const longDir = 'd'.repeat(60) + '/' + 'e'.repeat(60);
    const splitName = `${longDir}/file.yaml`; // > 100 bytes, splittable
    const veryLong = `${'x'.repeat(120)}/${'y'.repeat(120)}.yaml`; // file part > 100: needs PAX
    const unicode = 'über/日本語.yaml';
    write(src, splitName, 'split');
    write(src, veryLong, 'pax');
    write(src, unicode, 'unicode');
    const art = await buildArtifact(src);
    const entries = await listTar(art.tarGz);
    const got = new Map(entries.map((e) => [e.name, e.data.toString()]));
    assert.equal(got.get(splitName), 'split');
    assert.equal(got.get(veryLong), 'pax');
    assert.equal(got.get(unicode), 'unicode');

    const file = path.join(tmpdir(t), 'a.tar.gz');
    fs.writeFileSync(file, art.tarGz);
    execFileSync('gzip', ['-t', file]);
    const listed = execFileSync('tar', ['-tzf', file], { encoding: 'utf8' }).split('\n').filter(Boolean);
    assert.ok(listed.includes(splitName), 'GNU tar sees the split name');
    assert.ok(listed.includes(veryLong), 'GNU tar sees the PAX name');
    assert.ok(listed.includes(unicode), 'GNU tar sees the UTF-8 name');
  });

  test('multi-block parallel gzip is one valid gzip member, equal for equal input', async () => {
    const data = Buffer.concat(Array.from({ length: 40 }, (_, i) => Buffer.from(`line ${i} `.repeat(3000) + randomBytes(2000).toString('hex'))));
    const run = async () => {
      const gz = new ParallelGzip({ blockSize: 64 * 1024 });
      for (let o = 0; o < data.length; o += 10_000) await gz.write(data.subarray(o, o + 10_000));
      const r = await gz.end();
      return { ...r, bytes: Buffer.concat(r.parts) };
    };
    const a = await run();
    const b = await run();
    assert.ok(a.bytes.equals(b.bytes));
    assert.ok(zlib.gunzipSync(a.bytes).equals(data));
    assert.equal(a.uncompressedSize, data.length);
    assert.equal(a.digest, 'sha256:' + createHash('sha256').update(a.bytes).digest('hex'));
    // Exactly one member: the stream ends right after the first member's trailer.
    const inflated = zlib.inflateRawSync(a.bytes.subarray(10, a.bytes.length - 8));
    assert.ok(inflated.equals(data));
  });

  test('refuses a path that is not a directory', async (t) => {
    const src = tmpdir(t);
    write(src, 'f', 'x');
    await assert.rejects(buildArtifact(path.join(src, 'f')), /not a directory/);
    await assert.rejects(buildArtifact(path.join(src, 'missing')), /cannot archive/);
  });
});

describe('buildArtifact: ignore rules', () => {
  test('default excludes apply only when the user gives no patterns', async (t) => {
    const src = tmpdir(t);
    for (const f of ['app.yaml', 'logo.png', 'dist/x.zip', '.github/workflows/ci.yaml', '.travis.yml', 'deep/.sops.yaml', 'notes.txt']) write(src, f);
    const plain = names(await planArtifact(src));
    assert.deepEqual(plain, ['.', 'app.yaml', 'deep', 'dist', 'notes.txt']);

    const withIgnore = names(await planArtifact(src, { ignore: '*.txt\n' }));
    assert.deepEqual(withIgnore, ['.', '.github', '.github/workflows', '.github/workflows/ci.yaml', '.travis.yml', 'app.yaml', 'deep', 'deep/.sops.yaml', 'dist', 'dist/x.zip', 'logo.png']);

    // A spec.ignore of only comments gives no patterns: defaults stay.
    assert.deepEqual(names(await planArtifact(src, { ignore: '# nothing\n\n' })), plain);
  });

  test('.sourceignore files are found recursively and scoped to their directory', async (t) => {
    const src = tmpdir(t);
    write(src, 'a.yaml');
    write(src, 'sub/a.yaml');
    write(src, 'sub/keep.json');
    write(src, 'sub/deeper/a.yaml');
    write(src, 'other/a.yaml');
    write(src, 'sub/.sourceignore', '*.yaml\n');
    const got = names(await planArtifact(src));
    assert.deepEqual(got, ['.', 'a.yaml', 'other', 'other/a.yaml', 'sub', 'sub/.sourceignore', 'sub/deeper', 'sub/keep.json']);
  });

  test('anchored patterns in a nested .sourceignore are relative to its directory', async (t) => {
    const src = tmpdir(t);
    write(src, 'x/config.yaml');
    write(src, 'apps/x/config.yaml');
    write(src, 'apps/.sourceignore', '/x\n');
    const got = names(await planArtifact(src));
    assert.deepEqual(got, ['.', 'apps', 'apps/.sourceignore', 'x', 'x/config.yaml']);
  });

  test('spec.ignore comes last and wins over .sourceignore; negations re-include under excluded dirs', async (t) => {
    const src = tmpdir(t);
    write(src, '.sourceignore', '*.txt\nvendor/\n');
    write(src, 'a.txt');
    write(src, 'important.txt');
    write(src, 'vendor/lib.yaml');
    write(src, 'vendor/keep.yaml');
    write(src, 'app.yaml');
    const entries = await planArtifact(src, { ignore: '!important.txt\n!vendor/keep.yaml\n' });
    // Flux keeps vendor/keep.yaml even though vendor/ itself is excluded (no dir entry).
    assert.deepEqual(names(entries), ['.', '.sourceignore', 'app.yaml', 'important.txt', 'vendor/keep.yaml']);

    const art = await buildArtifact(src, { ignore: '!important.txt\n!vendor/keep.yaml\n' });
    const out = path.join(tmpdir(t), 'out');
    await extractArtifact(art.tarGz, out, { expectedDigest: art.digest });
    assert.equal(fs.readFileSync(path.join(out, 'vendor/keep.yaml'), 'utf8'), 'vendor/keep.yaml');
  });

  test('"exclude everything but deploy/" recipe from the Flux docs', async (t) => {
    const src = tmpdir(t);
    for (const f of ['src/main.go', 'README.md', 'deploy/base/kustomization.yaml', 'deploy/prod/patch.yaml']) write(src, f);
    const got = names(await planArtifact(src, { ignore: '/*\n!/deploy\n' }));
    assert.deepEqual(got, ['.', 'deploy', 'deploy/base', 'deploy/base/kustomization.yaml', 'deploy/prod', 'deploy/prod/patch.yaml']);
  });

  test('a symlinked .sourceignore pointing outside the checkout is not read', async (t) => {
    const outside = tmpdir(t);
    write(outside, 'evil-ignore', '*.yaml\n');
    const src = tmpdir(t);
    write(src, 'app.yaml');
    fs.symlinkSync(path.join(outside, 'evil-ignore'), path.join(src, '.sourceignore'));
    assert.deepEqual(names(await planArtifact(src)), ['.', 'app.yaml']);
  });
});

describe('buildArtifact + extractArtifact round trip', () => {
  test('extracted tree equals the source (minus dropped entries), exec bit kept', async (t) => {
    const src = tmpdir(t);
    const files = new Map<string, Buffer>();
    for (let i = 0; i < 200; i++) {
      const rel = `dir${i % 7}/sub${i % 3}/file-${i}.yaml`;
      const data = randomBytes(1 + ((i * 997) % 5000));
      files.set(rel, data);
      write(src, rel, data);
    }
    write(src, 'bin/run', '#!/bin/sh\n', 0o755);
    files.set('bin/run', Buffer.from('#!/bin/sh\n'));
    const art = await buildArtifact(src, { gzipBlockSize: 64 * 1024 });
    const out = path.join(tmpdir(t), 'x');
    const res = await extractArtifact(art.tarGz, out, { expectedDigest: art.digest });
    assert.equal(res.files, files.size);
    for (const [rel, data] of files) assert.ok(fs.readFileSync(path.join(out, rel)).equals(data), rel);
    assert.notEqual(fs.statSync(path.join(out, 'bin/run')).mode & 0o100, 0, 'owner exec bit restored');
  });
});
