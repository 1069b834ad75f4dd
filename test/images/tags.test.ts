/**
 * The stored tags' checksum (`lastScanResult.revision`) is Flux's default one: the decimal
 * Adler-32 of the JSON array, checked against zlib's own Adler-32 (the trailer of a zlib
 * stream); tags are stored in descending byte-wise order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import { adler32, sortTagsDescending, tagsRevision } from '../../shared/images/tags.js';

function zlibAdler32(data: Buffer): number {
  const z = deflateSync(data);
  return z.readUInt32BE(z.length - 4);
}

test('Adler-32 matches zlib, also past the 5552-byte blocks', () => {
  for (const data of [Buffer.alloc(0), Buffer.from('[]'), Buffer.from('["1.10.0","1.9.3","latest"]'), Buffer.alloc(100_000, 0xff), Buffer.from('x'.repeat(5553))]) {
    assert.equal(adler32(data), zlibAdler32(data));
  }
});

test('the revision is the decimal checksum of the JSON array', () => {
  const tags = ['latest', '1.9.3', '1.10.0'];
  assert.equal(tagsRevision(tags), String(zlibAdler32(Buffer.from(JSON.stringify(tags)))));
  assert.notEqual(tagsRevision(tags), tagsRevision([...tags, '1.11.0']));
});

test('tags are sorted descending by bytes, as Go compares strings', () => {
  assert.deepEqual(sortTagsDescending(['1.10.0', '1.9.3', 'Latest', 'latest', 'v1', '1.2']), ['v1', 'latest', 'Latest', '1.9.3', '1.2', '1.10.0']);
});
