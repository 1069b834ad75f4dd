import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { Readable } from 'node:stream';
import { pack as tarPack } from 'tar-stream';
import {
  ArtifactNameTooLongError,
  ArtifactTooLargeError,
  MAX_NAME_BYTES,
  MAX_PATH_BYTES,
  UnsafeArtifactError,
  entrySegments,
  extractArtifact,
  readArtifact,
} from '../../shared/artifacts/extract.js';
import { ArtifactDigestMismatch, computeDigest, verifyDigest } from '../../shared/artifacts/digest.js';
import { ValidationError } from '../../shared/util/errors.js';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo'; data?: string | Buffer; linkname?: string; mode?: number };

async function makeTarGz(entries: Entry[]): Promise<Buffer> {
  const p = tarPack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of p) chunks.push(Buffer.from(c as Uint8Array));
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const data = type === 'file' ? Buffer.from(e.data ?? '') : undefined;
    await new Promise<void>((resolve, reject) => {
      const header = { name: e.name, type, mode: e.mode ?? 0o644, linkname: e.linkname, size: data?.length ?? 0, devmajor: 1, devminor: 3 };
      if (data) p.entry(header, data, (err) => (err ? reject(err) : resolve()));
      else p.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  p.finalize();
  await done;
  return zlib.gzipSync(Buffer.concat(chunks));
}

function tmpdir(t: { after: (fn: () => void) => void }): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'fluxless-extract-'));
  t.after(() => fs.rmSync(d, { recursive: true, force: true }));
  return d;
}

function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(e.isDirectory() ? r + '/' : r);
      if (e.isDirectory()) walk(path.join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}

describe('extractArtifact: safe extraction', () => {
  test('extracts files and directories, skipping the root "." entry', async (t) => {
    const gz = await makeTarGz([
      { name: '.', type: 'directory' },
      { name: 'apps', type: 'directory' },
      { name: 'apps/a.yaml', data: 'a: 1\n' },
      { name: './b.yaml', data: 'b' },
      { name: 'implicit/parent/c.yaml', data: 'c' },
    ]);
    const dest = path.join(tmpdir(t), 'out');
    const res = await extractArtifact(gz, dest);
    assert.deepEqual(res, { files: 3, dirs: 1, bytes: 7 });
    assert.deepEqual(tree(dest), ['apps/', 'apps/a.yaml', 'b.yaml', 'implicit/', 'implicit/parent/', 'implicit/parent/c.yaml']);
    assert.equal(fs.readFileSync(path.join(dest, 'apps/a.yaml'), 'utf8'), 'a: 1\n');
  });

  const unsafe: [string, Entry[], RegExp][] = [
    ['absolute path', [{ name: '/tmp/fluxless-evil', data: 'x' }], /absolute path/],
    ['parent traversal', [{ name: '../evil', data: 'x' }], /climbs out/],
    ['traversal in the middle', [{ name: 'a/../../evil', data: 'x' }], /climbs out/],
    ['traversal hidden in a PAX long name', [{ name: `${'a'.repeat(120)}/../../../evil`, data: 'x' }], /climbs out/],
    ['backslash', [{ name: 'a\\..\\evil', data: 'x' }], /backslash/],
    ['symlink', [{ name: 'link', type: 'symlink', linkname: '/etc/passwd' }], /symlink/],
    ['hard link', [{ name: 'a', data: 'x' }, { name: 'hl', type: 'link', linkname: 'a' }], /hard link/],
    ['character device', [{ name: 'null', type: 'character-device' }], /character-device/],
    ['fifo', [{ name: 'pipe', type: 'fifo' }], /fifo/],
    ['duplicate file', [{ name: 'a', data: '1' }, { name: 'a', data: '2' }], /appears twice/],
  ];
  for (const [what, entries, msg] of unsafe) {
    test(`refuses ${what} and leaves nothing behind`, async (t) => {
      const base = tmpdir(t);
      const dest = path.join(base, 'out');
      const gz = await makeTarGz(entries);
      await assert.rejects(extractArtifact(gz, dest), (err: unknown) => {
        assert.ok(err instanceof UnsafeArtifactError, `got ${String(err)}`);
        assert.match((err as Error).message, msg);
        return true;
      });
      assert.equal(fs.existsSync(dest), false, 'destination we created is removed again');
      assert.deepEqual(fs.readdirSync(base), [], 'nothing written next to it');
      assert.equal(fs.existsSync('/tmp/fluxless-evil'), false);
    });
  }

  test('a symlink already in the destination cannot redirect writes: non-empty destinations are refused', async (t) => {
    const base = tmpdir(t);
    const dest = path.join(base, 'out');
    fs.mkdirSync(dest);
    fs.symlinkSync(base, path.join(dest, 'apps'));
    const gz = await makeTarGz([{ name: 'apps/x.yaml', data: 'x' }]);
    await assert.rejects(extractArtifact(gz, dest), (err: unknown) => err instanceof ValidationError && /not empty/.test((err as Error).message));
    assert.equal(fs.existsSync(path.join(base, 'x.yaml')), false);
  });

  test('size limit: clear error, destination emptied (but kept when it existed before)', async (t) => {
    const dest = tmpdir(t);
    const gz = await makeTarGz([
      { name: 'a', data: Buffer.alloc(600) },
      { name: 'b', data: Buffer.alloc(600) },
    ]);
    await assert.rejects(extractArtifact(gz, dest, { maxBytes: 1000 }), (err: unknown) => {
      assert.ok(err instanceof ArtifactTooLargeError);
      assert.match((err as Error).message, /bigger than the limit of 1000 bytes/);
      return true;
    });
    assert.ok(fs.existsSync(dest));
    assert.deepEqual(fs.readdirSync(dest), []);
    // Exactly at the limit is fine.
    const res = await extractArtifact(gz, dest, { maxBytes: 1200 });
    assert.equal(res.bytes, 1200);
  });

  test('a gzip bomb is stopped by the size limit without writing it', async (t) => {
    const dest = path.join(tmpdir(t), 'out');
    const gz = await makeTarGz([{ name: 'zeros', data: Buffer.alloc(64 * 1024 * 1024) }]);
    assert.ok(gz.length < 200 * 1024, 'compresses very well');
    await assert.rejects(extractArtifact(gz, dest, { maxBytes: 1024 * 1024 }), ArtifactTooLargeError);
    assert.equal(fs.existsSync(dest), false);
  });

  test('file-count limit counts files and directories', async (t) => {
    const entries: Entry[] = [{ name: 'd', type: 'directory' }];
    for (let i = 0; i < 5; i++) entries.push({ name: `d/f${i}`, data: 'x' });
    const gz = await makeTarGz(entries);
    await assert.rejects(extractArtifact(gz, path.join(tmpdir(t), 'o'), { maxFiles: 5 }), /more than 5 entries/);
    const res = await extractArtifact(gz, path.join(tmpdir(t), 'o'), { maxFiles: 6 });
    assert.equal(res.files + res.dirs, 6);
  });

  test('digest is verified before anything is written', async (t) => {
    const gz = await makeTarGz([{ name: 'a', data: 'x' }]);
    const dest = path.join(tmpdir(t), 'out');
    const wrong = computeDigest(Buffer.from('something else'));
    await assert.rejects(extractArtifact(gz, dest, { expectedDigest: wrong }), ArtifactDigestMismatch);
    assert.equal(fs.existsSync(dest), false);
    await extractArtifact(gz, dest, { expectedDigest: computeDigest(gz) });
    assert.equal(fs.readFileSync(path.join(dest, 'a'), 'utf8'), 'x');
  });

  test('a streamed artifact with a wrong digest is removed after extraction', async (t) => {
    const gz = await makeTarGz([{ name: 'a', data: 'x' }]);
    const dest = path.join(tmpdir(t), 'out');
    const wrong = computeDigest(Buffer.from('other'));
    await assert.rejects(extractArtifact(Readable.from([gz.subarray(0, 10), gz.subarray(10)]), dest, { expectedDigest: wrong }), ArtifactDigestMismatch);
    assert.equal(fs.existsSync(dest), false);
    const ok = await extractArtifact(Readable.from([gz]), dest, { expectedDigest: computeDigest(gz) });
    assert.equal(ok.files, 1);
  });

  test('garbage and truncated input give a clear error', async (t) => {
    await assert.rejects(extractArtifact(Buffer.from('not gzip at all'), path.join(tmpdir(t), 'a')), /not a valid tar.gz/);
    const gz = await makeTarGz([{ name: 'a', data: Buffer.alloc(10_000, 1) }]);
    const dest = path.join(tmpdir(t), 'b');
    await assert.rejects(extractArtifact(gz.subarray(0, gz.length - 20), dest), /not a valid tar.gz/);
    assert.equal(fs.existsSync(dest), false);
  });
});

describe('readArtifact: the same checks, in memory', () => {
  test('returns files and directories; refuses what extractArtifact refuses', async () => {
    const gz = await makeTarGz([
      { name: '.', type: 'directory' },
      { name: 'apps', type: 'directory' },
      { name: 'apps/a.yaml', data: 'a' },
      { name: 'x/y/run.sh', data: '#!', mode: 0o755 },
    ]);
    const c = await readArtifact(gz, { expectedDigest: computeDigest(gz) });
    assert.deepEqual([...c.entries.keys()], ['apps/a.yaml', 'x/y/run.sh']);
    assert.equal(c.entries.get('apps/a.yaml')!.data.toString(), 'a');
    assert.equal(c.entries.get('x/y/run.sh')!.mode & 0o100, 0o100);
    assert.deepEqual([...c.directories].sort(), ['apps', 'x', 'x/y']);
    assert.equal(c.files, 2);

    await assert.rejects(readArtifact(await makeTarGz([{ name: '../evil', data: 'x' }])), UnsafeArtifactError);
    await assert.rejects(readArtifact(await makeTarGz([{ name: 'l', type: 'symlink', linkname: '/' }])), UnsafeArtifactError);
    await assert.rejects(readArtifact(await makeTarGz([{ name: 'a', data: '1' }, { name: 'a/b', data: '2' }])), UnsafeArtifactError);
    await assert.rejects(readArtifact(gz, { maxBytes: 2 }), ArtifactTooLargeError);
    await assert.rejects(readArtifact(gz, { expectedDigest: computeDigest(Buffer.from('x')) }), ArtifactDigestMismatch);
  });
});

describe('entry names and digests', () => {
  test('entrySegments normalises harmless forms', () => {
    assert.deepEqual(entrySegments('./a//b/./c'), ['a', 'b', 'c']);
    assert.deepEqual(entrySegments('.'), []);
    assert.deepEqual(entrySegments('dir/'), ['dir']);
    assert.throws(() => entrySegments('C:/x'), UnsafeArtifactError);
    assert.throws(() => entrySegments(''), UnsafeArtifactError);
  });

  test('entrySegments refuses names no file system takes, counting bytes, with a typed error', () => {
    assert.deepEqual(entrySegments(`a/${'n'.repeat(MAX_NAME_BYTES)}`), ['a', 'n'.repeat(MAX_NAME_BYTES)]);
    assert.throws(() => entrySegments(`a/${'n'.repeat(MAX_NAME_BYTES + 1)}`), (err: unknown) => {
      assert.ok(err instanceof ArtifactNameTooLongError && err instanceof UnsafeArtifactError);
      assert.equal(err.code, 'ArtifactNameTooLong');
      assert.match(err.message, /name of 256 bytes; the limit is 255/);
      assert.match(err.hint ?? '', /Shorten/);
      return true;
    });
    // 128 two-byte characters are 256 bytes.
    assert.throws(() => entrySegments('é'.repeat(128)), ArtifactNameTooLongError);
    const okPath = `${'p'.repeat(99)}/`.repeat(40) + 'f'.repeat(MAX_PATH_BYTES - 4000);
    assert.equal(Buffer.byteLength(okPath), MAX_PATH_BYTES);
    assert.equal(entrySegments(okPath).length, 41);
    assert.throws(() => entrySegments(`${okPath}x`), (err: unknown) => {
      assert.ok(err instanceof ArtifactNameTooLongError);
      assert.match(err.message, /path of 4097 bytes/);
      assert.ok(err.message.length < 400, 'the name is shortened in the message');
      return true;
    });
  });

  test('file system errors while extracting name the entry, never the host path', async (t) => {
    const base = tmpdir(t);
    // Long enough that the kernel refuses the whole path while the entry itself is fine.
    const dest = path.join(base, 'x'.repeat(250), 'y'.repeat(250), 'out');
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    const rel = `${'s'.repeat(200)}/`.repeat(18) + 'file.yaml';
    const gz = await makeTarGz([{ name: rel, data: 'x' }]);
    await assert.rejects(extractArtifact(gz, dest), (err: unknown) => {
      assert.ok(err instanceof ArtifactNameTooLongError, `got ${String(err)}`);
      assert.ok(!(err as Error).message.includes(base), (err as Error).message);
      assert.match((err as Error).message, /artifact (entry|directory) "s{10}/);
      return true;
    });
    assert.equal(fs.existsSync(dest), false);
  });

  test('verifyDigest names expected and actual digests', () => {
    const data = Buffer.from('hello');
    const good = computeDigest(data);
    verifyDigest(data, good);
    const bad = 'sha256:' + '0'.repeat(64);
    assert.throws(() => verifyDigest(data, bad), (err: unknown) => {
      assert.ok(err instanceof ArtifactDigestMismatch);
      assert.equal(err.expected, bad);
      assert.equal(err.actual, good);
      assert.ok(err.message.includes(bad) && err.message.includes(good));
      return true;
    });
    assert.throws(() => verifyDigest(data, 'md5:abc'), ValidationError);
    verifyDigest(data, computeDigest(data, 'sha512'));
  });
});
