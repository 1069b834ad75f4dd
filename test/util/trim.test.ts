import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { countTrailing, trimBoth, trimEnd, trimStart } from '../../shared/util/trim.js';

describe('trim', () => {
  test('trimEnd drops only a trailing run of the given characters', () => {
    assert.equal(trimEnd('https://h/a///', '/'), 'https://h/a');
    assert.equal(trimEnd('a/b', '/'), 'a/b');
    assert.equal(trimEnd('////', '/'), '');
    assert.equal(trimEnd('', '/'), '');
    assert.equal(trimEnd('text \t\r\n', ' \t\r\n'), 'text');
    assert.equal(trimEnd('abc==', '='), 'abc');
  });

  test('a long run in the middle is kept whole', () => {
    const s = `quay.io/${'/'.repeat(20_000)}a`;
    assert.equal(trimEnd(s, '/'), s);
    assert.equal(trimBoth(`/${s}/`, '/'), s.replace(/^\/+/, ''));
  });

  test('trimStart and trimBoth', () => {
    assert.equal(trimStart('//a/b/', '/'), 'a/b/');
    assert.equal(trimBoth('//a/b//', '/'), 'a/b');
  });

  test('countTrailing counts the trailing run', () => {
    assert.equal(countTrailing('a\n\n', '\n'), 2);
    assert.equal(countTrailing('a\n\nb', '\n'), 0);
    assert.equal(countTrailing('\n', '\n'), 1);
  });
});
