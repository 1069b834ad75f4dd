import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import {
  DEFAULT_BUILD_TIMEOUT_MS,
  DEFAULT_CPU_LIMIT_SECONDS,
  DEFAULT_MAX_OUTPUT_BYTES,
  DEFAULT_MEMORY_LIMIT_MIB,
  effectiveLimits,
  kustomizeMessage,
} from '../../shared/render/kustomize-run.js';

describe('kustomizeMessage', () => {
  const root = path.join(os.tmpdir(), 'fluxless-cache-1-abc', 'w', 'ks-xyz', 'src');

  test('paths inside the artifact become relative; other host paths are hidden', () => {
    const other = path.join(os.tmpdir(), 'fluxless-kbatch-Q1w2e3', 'kustomization.yaml');
    const msg = kustomizeMessage(`error: accumulating resources from '${root}/apps/missing.yaml': open ${root}/apps/missing.yaml: no such file; see ${other}\n`, [root]);
    assert.equal(msg, "accumulating resources from 'apps/missing.yaml': open apps/missing.yaml: no such file; see <host path>");
    assert.equal(kustomizeMessage(`must build at directory: ${root}`, [root]), 'must build at directory: .');
    assert.equal(kustomizeMessage('file apps/tmp/x.yaml', [root]), 'file apps/tmp/x.yaml', 'a relative path that contains the temp dir name stays');
  });

  test('Go runtime dumps are cut to their first lines', () => {
    const dump = 'fatal error: runtime: out of memory\n\nruntime stack:\nruntime.throw({0x23a0458?, 0x3c1a8?})\n\truntime/panic.go:1094\n\ngoroutine 1 [running]:\nmain.main()\n';
    assert.equal(kustomizeMessage(dump, [root]), 'fatal error: runtime: out of memory');
    assert.equal(kustomizeMessage('panic: boom\n\ngoroutine 1 [running]:\nmain.main()\n', [root]), 'panic: boom');
  });

  test('an empty message says so; a huge one is truncated', () => {
    assert.equal(kustomizeMessage('  \n', [root]), 'kustomize exited with an error and no message');
    const long = kustomizeMessage('x'.repeat(10_000), [root]);
    assert.ok(long.length < 4200 && long.endsWith('... (truncated)'));
  });
});

test('limits default to values that fit a Lambda function', () => {
  assert.deepEqual(effectiveLimits({}), {
    timeoutMs: DEFAULT_BUILD_TIMEOUT_MS,
    maxOutputBytes: DEFAULT_MAX_OUTPUT_BYTES,
    memoryLimitMiB: DEFAULT_MEMORY_LIMIT_MIB,
    cpuLimitSeconds: DEFAULT_CPU_LIMIT_SECONDS,
  });
  assert.equal(DEFAULT_MEMORY_LIMIT_MIB, 512);
  assert.equal(effectiveLimits({ memoryLimitMiB: 64 }).memoryLimitMiB, 64);
});
