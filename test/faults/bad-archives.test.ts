/**
 * Standing fault suite (issue 9): the bad-archive set, through the artifact extractor
 * (shared/artifacts/extract.ts) both ways it is used: onto disk (extractArtifact, the
 * artifact cache) and into memory (readArtifact, Helm charts). Every archive a repository
 * author or a registry could hand us that is unsafe, oversized or malformed must be refused
 * with a typed error that names the entry by its path in the artifact, never by a path on
 * this host, and must leave nothing behind, inside the destination or next to it.
 * The memory-hungry cases (compression bombs, huge headers, lying sizes) run in a child
 * process under an explicit heap and data-segment limit (fixtures/archive-bombs.ts).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ArtifactNameTooLongError,
  ArtifactTooLargeError,
  UnsafeArtifactError,
  extractArtifact,
  readArtifact,
} from '../../shared/artifacts/extract.js';
import { ValidationError, type FluxlessError } from '../../shared/util/errors.js';
import { limitedNode } from './helpers.js';
import { entry, gnuLong, gz, pax, tar } from './tar-craft.js';

type ErrorClass = typeof UnsafeArtifactError | typeof ArtifactTooLargeError | typeof ValidationError | typeof ArtifactNameTooLongError;

/** A path outside every destination that a traversal would write to, unique per run. */
const OUTSIDE = `fluxless-fault-outside-${randomBytes(4).toString('hex')}`;

interface Case {
  name: string;
  archive: Buffer;
  error: ErrorClass;
  message: RegExp;
  /** Options for both functions (small limits keep the data small). */
  opts?: { maxBytes?: number; maxFiles?: number };
}

const file = (name: string, data = 'x') => entry({ name, data });

const CASES: Case[] = [
  // traversal
  { name: 'a ".." entry', archive: gz(tar(file(`../${OUTSIDE}`))), error: UnsafeArtifactError, message: /climbs out/ },
  { name: 'a ".." in the middle', archive: gz(tar(file(`a/b/../../../${OUTSIDE}`))), error: UnsafeArtifactError, message: /climbs out/ },
  { name: 'a ".." in a PAX path', archive: gz(tar(pax({ path: `apps/../../${OUTSIDE}` }), file('innocent'))), error: UnsafeArtifactError, message: /climbs out/ },
  { name: 'a ".." in a GNU long name', archive: gz(tar(gnuLong(`${'d/'.repeat(60)}${'../'.repeat(61)}${OUTSIDE}`), file('innocent'))), error: UnsafeArtifactError, message: /climbs out/ },
  // absolute paths
  { name: 'an absolute path', archive: gz(tar(file(`/tmp/${OUTSIDE}`))), error: UnsafeArtifactError, message: /absolute path/ },
  { name: 'an absolute PAX path', archive: gz(tar(pax({ path: `/tmp/${OUTSIDE}` }), file('innocent'))), error: UnsafeArtifactError, message: /absolute path/ },
  { name: 'a drive letter', archive: gz(tar(file('C:/evil'))), error: UnsafeArtifactError, message: /absolute path/ },
  { name: 'backslashes', archive: gz(tar(file('..\\..\\evil'))), error: UnsafeArtifactError, message: /backslash/ },
  // links pointing out, devices, fifos, unknown types
  { name: 'a symlink out, then a file through it', archive: gz(tar(entry({ name: 'apps', type: '2', linkname: '../../..' }), file('apps/x.yaml'))), error: UnsafeArtifactError, message: /symlink/ },
  { name: 'an absolute symlink', archive: gz(tar(entry({ name: 'etc', type: '2', linkname: '/etc' }))), error: UnsafeArtifactError, message: /symlink/ },
  { name: 'a hard link to a host file', archive: gz(tar(entry({ name: 'passwd', type: '1', linkname: '/etc/passwd' }))), error: UnsafeArtifactError, message: /hard link/ },
  { name: 'a hard link out', archive: gz(tar(entry({ name: 'h', type: '1', linkname: `../${OUTSIDE}` }))), error: UnsafeArtifactError, message: /hard link/ },
  { name: 'a PAX linkpath out', archive: gz(tar(pax({ linkpath: `/tmp/${OUTSIDE}` }), entry({ name: 'l', type: '2', linkname: 'x' }))), error: UnsafeArtifactError, message: /symlink/ },
  { name: 'a character device', archive: gz(tar(entry({ name: 'null', type: '3' }))), error: UnsafeArtifactError, message: /character-device/ },
  { name: 'a block device', archive: gz(tar(entry({ name: 'sda', type: '4' }))), error: UnsafeArtifactError, message: /block-device/ },
  { name: 'a fifo', archive: gz(tar(entry({ name: 'pipe', type: '6' }))), error: UnsafeArtifactError, message: /fifo/ },
  { name: 'an unknown entry type', archive: gz(tar(entry({ name: 'what', type: 'Z', data: 'z' }))), error: UnsafeArtifactError, message: /unknown type/ },
  // clashes
  { name: 'a duplicate file', archive: gz(tar(file('a', '1'), file('a', '2'))), error: UnsafeArtifactError, message: /appears twice/ },
  { name: 'a file where a directory is', archive: gz(tar(entry({ name: 'd', type: '5' }), file('d'))), error: UnsafeArtifactError, message: /appears twice|clashes/ },
  { name: 'a directory where a file is', archive: gz(tar(file('d'), file('d/x'))), error: UnsafeArtifactError, message: /clashes/ },
  // limits: sizes that lie, too many entries (directories implied by paths count too)
  { name: 'a header declaring more than maxBytes', archive: gz(tar(entry({ name: 'big', declaredSize: 2 * 1024 * 1024 }))), error: ArtifactTooLargeError, message: /bigger than the limit/, opts: { maxBytes: 1024 * 1024 } },
  { name: 'files adding up past maxBytes', archive: gz(tar(file('a', 'x'.repeat(700)), file('b', 'x'.repeat(700)))), error: ArtifactTooLargeError, message: /bigger than the limit of 1000/, opts: { maxBytes: 1000 } },
  { name: 'more files than maxFiles', archive: gz(tar(...Array.from({ length: 21 }, (_, i) => file(`f${i}`)))), error: ArtifactTooLargeError, message: /more than 20 entries/, opts: { maxFiles: 20 } },
  { name: 'directories implied by paths past maxFiles', archive: gz(tar(...Array.from({ length: 5 }, (_, i) => file(`d${i}/a/b/c/f`)))), error: ArtifactTooLargeError, message: /more than 20 entries/, opts: { maxFiles: 20 } },
  // names no file system takes
  { name: 'a name of 300 bytes', archive: gz(tar(pax({ path: `apps/${'n'.repeat(300)}.yaml` }), file('x'))), error: ArtifactNameTooLongError, message: /name of 305 bytes; the limit is 255/ },
  { name: 'a path of 5000 bytes', archive: gz(tar(pax({ path: `${'d'.repeat(99)}/`.repeat(50) + 'f' }), file('x'))), error: ArtifactNameTooLongError, message: /path of 5001 bytes; the limit is 4096/ },
  // not an archive
  { name: 'bytes that are not gzip', archive: Buffer.from('this is not a gzip stream'), error: ValidationError, message: /not a valid tar.gz/ },
  { name: 'a truncated gzip', archive: gz(tar(file('a', 'x'.repeat(20_000)))).subarray(0, 100), error: ValidationError, message: /not a valid tar.gz/ },
  { name: 'gzip of something that is not tar', archive: gz(Buffer.from('x'.repeat(4096))), error: ValidationError, message: /not a valid tar.gz/ },
  { name: 'a header with a bad checksum', archive: gz(tar(entry({ name: 'a', data: 'x', badChecksum: true }))), error: ValidationError, message: /not a valid tar.gz/ },
];

function workDir(t: { after: (fn: () => void) => void }): string {
  // Deep enough that a traversal from the destination has somewhere to go and be seen.
  const base = mkdtempSync(path.join(os.tmpdir(), 'fluxless-fault-archive-'));
  t.after(() => rmSync(base, { recursive: true, force: true }));
  return base;
}

/** Asserts the error is the typed one and says nothing about this host's paths. */
function checkError(err: unknown, c: Case, hostPaths: string[]): void {
  assert.ok(err instanceof c.error, `${c.name}: expected ${c.error.name}, got ${(err as Error)?.name}: ${(err as Error)?.message}`);
  const e = err as FluxlessError;
  assert.match(e.message, c.message, c.name);
  assert.ok(e.hint, `${c.name}: says what to do`);
  assert.ok(e.message.length < 1000, `${c.name}: a short message (${e.message.length} chars)`);
  for (const p of hostPaths) {
    assert.ok(!e.message.includes(p) && !(e.hint ?? '').includes(p), `${c.name}: no host path in "${e.message}"`);
  }
}

describe('the bad-archive set', () => {
  for (const c of CASES) {
    test(`${c.name}: refused onto disk and in memory, nothing written`, async (t) => {
      const base = workDir(t);
      const dest = path.join(base, 'cache', 'a', 'dest');
      mkdirSync(path.dirname(dest), { recursive: true });
      await assert.rejects(extractArtifact(c.archive, dest, c.opts), (err: unknown) => {
        checkError(err, c, [base]);
        return true;
      });
      assert.equal(existsSync(dest), false, 'the destination it created is removed');
      assert.deepEqual(readdirSync(path.dirname(dest)), [], 'nothing next to it');
      assert.equal(existsSync(path.join(os.tmpdir(), OUTSIDE)), false, 'nothing written outside');
      assert.equal(existsSync(path.join(base, OUTSIDE)), false, 'nothing written outside');
      await assert.rejects(readArtifact(c.archive, c.opts), (err: unknown) => {
        checkError(err, c, [base]);
        return true;
      });
    });
  }

  test('ENAMETOOLONG from the file system is a typed error with the path in the artifact, not the host path', async (t) => {
    // A relative path the checks allow (< 4096 bytes) below a destination long enough that
    // the whole path is over what the kernel takes.
    const base = workDir(t);
    const dest = path.join(base, 'x'.repeat(200), 'y'.repeat(200), 'dest');
    mkdirSync(path.dirname(dest), { recursive: true });
    const rel = `${`${'s'.repeat(99)}/`.repeat(38)}last.yaml`;
    assert.ok(Buffer.byteLength(rel) < 4096 && Buffer.byteLength(path.join(dest, rel)) > 4096);
    const archive = gz(tar(pax({ path: rel }), file('ignored')));
    await assert.rejects(extractArtifact(archive, dest), (err: unknown) => {
      assert.ok(err instanceof ArtifactNameTooLongError, `got ${(err as Error)?.name}: ${(err as Error)?.message}`);
      assert.ok(!(err as Error).message.includes(base), `no host path: ${(err as Error).message}`);
      assert.match((err as Error).message, /"s{20}/, 'names the entry by its path in the artifact');
      return true;
    });
    assert.equal(existsSync(dest), false);
    // The same archive is fine in memory, where no host path applies.
    assert.equal((await readArtifact(archive)).files, 1);
  });

  test('a good archive next to the bad ones is extracted whole (the checks refuse only what they must)', async (t) => {
    const base = workDir(t);
    const long = `${`${'s'.repeat(99)}/`.repeat(10)}${'n'.repeat(255)}`;
    const archive = gz(tar(entry({ name: '.', type: '5' }), entry({ name: 'apps', type: '5' }), file('apps/a.yaml', 'a: 1\n'), pax({ path: long }), file('x', 'deep')));
    const res = await extractArtifact(archive, path.join(base, 'out'), { maxFiles: 13 });
    assert.deepEqual(res, { files: 2, dirs: 1, bytes: 9 });
    assert.equal((await readArtifact(archive, { maxFiles: 13 })).entries.get(long)?.data.toString(), 'deep');
  });
});

describe('the memory-hungry archives, in a child under an explicit memory limit', () => {
  test('compression bombs, huge headers and lying sizes are refused in bounded memory', { timeout: 120_000 }, async (t) => {
    const base = workDir(t);
    const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'archive-bombs.ts');
    const heapMiB = 128;
    const dataMiB = 640;
    // The data-segment limit bounds Buffers too (the heap limit alone does not).
    const argv = limitedNode(['--import', 'tsx', child, base], heapMiB, dataMiB);
    const prlimit = argv[0] !== process.execPath;
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const p = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      p.stdout.on('data', (d: Buffer) => (stdout += String(d)));
      p.stderr.on('data', (d: Buffer) => (stderr += String(d)));
      p.once('error', reject);
      p.once('close', (code) => resolve({ code, stdout, stderr }));
    });
    assert.equal(out.code, 0, `the child finished within its limits:\n${out.stderr}`);
    const lines = out.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const byName = new Map(lines.filter((l) => typeof l.name === 'string').map((l) => [l.name as string, l]));
    const expect: Array<[string, string | null, RegExp | null]> = [
      ['endless gzip bomb (extract)', 'ArtifactTooLargeError', /possible gzip bomb/],
      ['endless gzip bomb (in memory)', 'ArtifactTooLargeError', /possible gzip bomb/],
      ['PAX header of 5 MiB', 'ArtifactTooLargeError', /tar header \(PAX or GNU long name\) over 4 MiB/],
      ['GNU long name of 5 MiB', 'ArtifactTooLargeError', /tar header \(PAX or GNU long name\) over 4 MiB/],
      ['PAX path of 3 MiB', 'ArtifactNameTooLongError', /the limit is 4096/],
      ['20 entries behind PAX headers of 3 MiB each', null, null],
      ['a header declaring 8 GiB (base-256)', 'ArtifactTooLargeError', /bigger than the limit/],
      ['a PAX size of 1 TB', 'ArtifactTooLargeError', /bigger than the limit/],
    ];
    for (const [name, error, message] of expect) {
      const r = byName.get(name);
      assert.ok(r, `${name} ran`);
      if (error === null) {
        assert.equal(r.ok, true, `${name} is a valid archive: ${JSON.stringify(r)}`);
        continue;
      }
      assert.equal(r.error, error, `${name}: ${JSON.stringify(r)}`);
      assert.match(String(r.message), message!, name);
      assert.ok(String(r.message).length < 1000, `${name}: a short message`);
      assert.ok(!String(r.message).includes(base), `${name}: no host path`);
    }
    t.diagnostic(`child peak RSS ${Math.round(Number(lines.at(-1)?.maxRssKiB) / 1024)} MiB (heap limit ${heapMiB} MiB, data limit ${prlimit ? `${dataMiB} MiB` : 'none: no prlimit'})`);
  });
});
