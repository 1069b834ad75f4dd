import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { patchUnbornHead } from '../../shared/sources/git.js';
import { pktLine, pktText, splitPkts } from '../../shared/sources/git-ssh-pktline.js';

describe('unborn HEAD advertisement fix', () => {
  const oid = 'a'.repeat(40);
  const adv = (lines: string[]) => Buffer.concat([pktLine('# service=git-upload-pack\n'), Buffer.from('0000'), ...lines.map((l) => pktLine(`${l}\n`)), Buffer.from('0000')]);

  test('adds symref=HEAD:<first branch> when HEAD is not advertised', () => {
    const patched = patchUnbornHead(adv([`${oid} refs/heads/main\0multi_ack side-band-64k agent=git/2.39`, `${'b'.repeat(40)} refs/tags/v1`]));
    const lines = splitPkts(patched).flatMap((p) => (p.kind === 'data' ? [pktText(p.data)] : [p.kind]));
    assert.deepEqual(lines, ['# service=git-upload-pack', 'flush', `${oid} refs/heads/main\0multi_ack side-band-64k agent=git/2.39 symref=HEAD:refs/heads/main`, `${'b'.repeat(40)} refs/tags/v1`, 'flush']);
  });

  test('leaves advertisements with HEAD, a HEAD symref, no refs, or protocol v2 alone', () => {
    for (const body of [
      adv([`${oid} HEAD\0multi_ack`, `${oid} refs/heads/main`]),
      adv([`${oid} refs/heads/main\0multi_ack symref=HEAD:refs/heads/main`]),
      adv([`${'0'.repeat(40)} capabilities^{}\0multi_ack`]),
      adv(['version 2', 'agent=git/2.39', 'ls-refs=unborn']),
    ]) {
      assert.equal(patchUnbornHead(body), body);
    }
  });
});
