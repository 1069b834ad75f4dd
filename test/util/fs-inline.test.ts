import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants, promises as fsp } from 'node:fs';
import { mkdtemp, rm as rmAsync } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as inline from '../../shared/util/fs-inline.js';

/** Settles a promise as { value } or { code, message }, to compare the two APIs. */
async function outcome(p: Promise<unknown>): Promise<unknown> {
  try {
    const v = await p;
    return { value: v instanceof Buffer ? v.toString('utf8') : v };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { code: e.code, message: e.message };
  }
}

test('inline calls return and reject as their fs/promises namesakes', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fs-inline-'));
  t.after(() => rmAsync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'a.yaml');
  const missing = path.join(dir, 'missing', 'b.yaml');
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;
  await inline.writeFile(file, 'kind: A\n', { flag: flags, mode: 0o600 });
  assert.equal((await fsp.stat(file)).mode & 0o777, 0o600);
  const pairs: Array<[string, () => Promise<unknown>, () => Promise<unknown>]> = [
    ['readFile utf8', () => inline.readFile(file, 'utf8'), () => fsp.readFile(file, 'utf8')],
    ['readFile missing', () => inline.readFile(missing), () => fsp.readFile(missing)],
    ['writeFile O_EXCL on an existing file', () => inline.writeFile(file, 'x', { flag: flags }), () => fsp.writeFile(file, 'x', { flag: flags })],
    ['readdir', () => inline.readdir(dir), () => fsp.readdir(dir)],
    ['readdir missing', () => inline.readdir(missing), () => fsp.readdir(missing)],
    ['realpath', () => inline.realpath(file), () => fsp.realpath(file)],
    ['realpath missing', () => inline.realpath(missing), () => fsp.realpath(missing)],
    ['lstat missing', () => inline.lstat(missing), () => fsp.lstat(missing)],
    ['link onto an existing file', () => inline.link(file, file), () => fsp.link(file, file)],
    ['isomorphic-git readFile missing', () => inline.inlinePromiseFs.readFile(missing), () => fsp.readFile(missing)],
  ];
  for (const [what, a, b] of pairs) assert.deepEqual(await outcome(a()), await outcome(b()), what);
  assert.equal((await inline.lstat(file)).isFile(), true);
  assert.deepEqual((await inline.readdir(dir, { withFileTypes: true })).map((d) => [d.name, d.isFile()]), [['a.yaml', true]]);
  await inline.rm(dir, { recursive: true, force: true });
  assert.deepEqual(await outcome(fsp.stat(dir)), await outcome(inline.stat(dir)));
});
