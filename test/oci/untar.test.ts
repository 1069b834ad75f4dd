/**
 * OCI layer extraction (layerSelector operation extract) against hostile layers: a few deep
 * names must not create directories without bound, and data the extractor skips (a
 * symlink's body) still counts against the decompression limit, so a small layer cannot
 * make the worker gunzip without end.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { LayerExtractError, untarLayer } from '../../shared/oci/untar.js';
import { tempDir } from '../helm/helpers.js';

/** A ustar header (type '0' file, '2' symlink, 'x' PAX), written by hand so a test can lie in it. */
function header(name: string, type: string, size: number, linkname = ''): Buffer {
  const b = Buffer.alloc(512);
  b.write(name, 0, 100, 'utf8');
  b.write('0000644\0', 100, 'latin1');
  b.write('0000000\0', 108, 'latin1');
  b.write('0000000\0', 116, 'latin1');
  b.write(size.toString(8).padStart(11, '0') + '\0', 124, 'latin1');
  b.write('00000000000\0', 136, 'latin1');
  b.fill(0x20, 148, 156);
  b.write(type, 156, 1, 'latin1');
  b.write(linkname, 157, 100, 'utf8');
  b.write('ustar\0', 257, 'latin1');
  b.write('00', 263, 'latin1');
  let sum = 0;
  for (const c of b) sum += c;
  b.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'latin1');
  return b;
}
const padding = (n: number) => Buffer.alloc(n % 512 ? 512 - (n % 512) : 0);
function paxPath(p: string): Buffer {
  const body = ` path=${p}\n`;
  let n = Buffer.byteLength(body) + 1;
  while (String(n).length + Buffer.byteLength(body) !== n) n = String(n).length + Buffer.byteLength(body);
  const rec = Buffer.from(`${n}${body}`);
  return Buffer.concat([header('PaxHeader', 'x', rec.length), rec, padding(rec.length)]);
}
const file = (name: string, data: string) => Buffer.concat([header(name, '0', data.length), Buffer.from(data), padding(data.length)]);
const END = Buffer.alloc(1024);

function countDirs(d: string): number {
  if (!existsSync(d)) return 0;
  let n = 0;
  for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) n += 1 + countDirs(path.join(d, e.name));
  return n;
}

describe('OCI layer extraction limits', () => {
  test('directories implied by deep names count as entries', async () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 20; i++) parts.push(paxPath(`d${i}/` + 'a/'.repeat(200) + 'f'), file('x', 'z'));
    const layer = zlib.gzipSync(Buffer.concat([...parts, END]));
    const dest = path.join(await tempDir('fluxless-layer-'), 'out');
    await assert.rejects(untarLayer(Readable.from([layer]), dest, { maxEntries: 500 }), (err: unknown) => err instanceof LayerExtractError && /more than 500 entries/.test(err.message));
    assert.ok(countDirs(dest) <= 500, `${countDirs(dest)} directories made`);
    // The same layer within a limit that allows it extracts every file.
    const ok = await untarLayer(Readable.from([layer]), path.join(await tempDir('fluxless-layer-'), 'out'), { maxEntries: 5000 });
    assert.equal(ok.files, 20);
  });

  test('the body of a skipped symlink counts against the decompressed size', async () => {
    const body = Buffer.alloc(8 << 20);
    const layer = zlib.gzipSync(Buffer.concat([header('l', '2', body.length, 'target'), body, END]));
    await assert.rejects(
      untarLayer(Readable.from([layer]), path.join(await tempDir('fluxless-layer-'), 'out'), { maxBytes: 1024, maxEntries: 10 }),
      (err: unknown) => err instanceof LayerExtractError && /decompresses to more than \d+ bytes/.test(err.message),
    );
  });
});
