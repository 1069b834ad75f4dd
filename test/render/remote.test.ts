import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { classifyReference, isHostLike, isLocalNetworkHost, looksRemote } from '../../shared/render/remote.js';

describe('classifyReference', () => {
  test('URLs and git remotes are remote, with their host', () => {
    const cases: Array<[string, string | undefined]> = [
      ['https://github.com/org/repo//deploy?ref=v1', 'github.com'],
      ['HTTP://Example.org/x.yaml', 'example.org'],
      ['http:127.0.0.1/x', '127.0.0.1'],
      ['git::https://gitlab.com/org/repo.git', 'gitlab.com'],
      ['ssh://git@git.example:2222/org/repo', 'git.example'],
      ['git@github.com:org/repo', 'github.com'],
      ['gh:org/repo', 'github.com'],
      ['https://user:pw@[::1]:8443/x', '[::1]'],
    ];
    for (const [ref, host] of cases) assert.deepEqual(classifyReference(ref), { kind: 'remote', host }, ref);
  });

  test('file: URLs and NUL bytes are forbidden', () => {
    for (const ref of ['file:///etc/passwd', 'FILE://x', 'git::file:///srv/repo', 'a\0b']) {
      assert.equal(classifyReference(ref).kind, 'forbidden', ref);
    }
  });

  test('paths are local; host-like paths are recognised as kustomize would clone them', () => {
    for (const ref of ['base', './base', '../base', '/abs/path', '//host/path', 'C:/x', 'foo:bar.yaml', 'github.com/org/repo']) {
      assert.equal(classifyReference(ref).kind, 'local', ref);
    }
    assert.equal(isHostLike('github.com/org/repo'), true);
    assert.equal(isHostLike('example.org/x?ref=main'), true);
    assert.equal(isHostLike('../base'), false);
    assert.equal(isHostLike('config.d/x.yaml'), true, 'a dotted first segment reads as a host');
    assert.equal(looksRemote('./base'), false);
    assert.equal(looksRemote('https://x/y'), true);
  });
});

describe('isLocalNetworkHost', () => {
  test('loopback, unspecified and link-local addresses in every spelling', () => {
    for (const host of [
      '127.0.0.1', '127.255.0.9', '127.1', '2130706433', '0x7f000001', '0x7f.0.0.1', '0177.0.0.1', '0', '0.0.0.0',
      'localhost', 'LOCALHOST.', 'api.localhost', '[::1]', '::1', '::', '::ffff:127.0.0.1', '[::ffff:7f00:1]',
      '169.254.169.254', 'fe80::1%eth0', 'fd00:ec2::254', '',
    ]) {
      assert.equal(isLocalNetworkHost(host), true, host);
    }
  });

  test('public and private hosts are not', () => {
    for (const host of ['github.com', '10.0.0.1', '192.168.1.10', '172.16.0.1', '8.8.8.8', '2001:db8::1', 'localhost.example.com', '1277.0.0.1']) {
      assert.equal(isLocalNetworkHost(host), false, host);
    }
  });
});
