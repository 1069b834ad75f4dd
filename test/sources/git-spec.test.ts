import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { ValidationError } from '../../shared/util/errors.js';
import { formatRevision, normalizeRevision, parseDuration, parseGitRepository, redactUrl } from '../../shared/sources/git-spec.js';

const SHA = '0123456789abcdef0123456789abcdef01234567';

function manifest(spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: 'podinfo', namespace: 'flux-system' },
    spec: { url: 'https://example.com/org/repo.git', interval: '5m', ...spec },
    ...extra,
  };
}

function rejects(spec: Record<string, unknown>, pattern: RegExp, extra?: Record<string, unknown>) {
  assert.throws(
    () => parseGitRepository(manifest(spec, extra)),
    (err: unknown) => {
      assert.ok(err instanceof ValidationError, String(err));
      assert.match(err.message, pattern);
      assert.match(err.message, /GitRepository flux-system\/podinfo/);
      return true;
    },
  );
}

describe('parseGitRepository', () => {
  test('defaults: branch master, timeout 60s, not suspended', () => {
    const g = parseGitRepository(manifest({}));
    assert.deepEqual(g.spec.ref, { kind: 'branch', branch: 'master' });
    assert.equal(g.spec.timeout, '60s');
    assert.equal(g.spec.timeoutMs, 60_000);
    assert.equal(g.spec.intervalMs, 300_000);
    assert.equal(g.spec.suspend, false);
    assert.equal(g.spec.secretRef, undefined);
    assert.equal(g.metadata.namespace, 'flux-system');
  });

  test('ref precedence: commit > name > semver > tag > branch', () => {
    const all = { branch: 'dev', tag: 'v1.0.0', semver: '>=1.0.0', name: 'refs/pull/4/head', commit: SHA.toUpperCase() };
    assert.deepEqual(parseGitRepository(manifest({ ref: all })).spec.ref, { kind: 'commit', commit: SHA, branch: 'dev', name: 'refs/pull/4/head' });
    const { commit: _c, ...noCommit } = all;
    assert.deepEqual(parseGitRepository(manifest({ ref: noCommit })).spec.ref, { kind: 'name', name: 'refs/pull/4/head' });
    const { name: _n, ...noName } = noCommit;
    assert.deepEqual(parseGitRepository(manifest({ ref: noName })).spec.ref, { kind: 'semver', semver: '>=1.0.0' });
    const { semver: _s, ...noSemver } = noName;
    assert.deepEqual(parseGitRepository(manifest({ ref: noSemver })).spec.ref, { kind: 'tag', tag: 'v1.0.0' });
    assert.deepEqual(parseGitRepository(manifest({ ref: { branch: 'dev', tag: '' } })).spec.ref, { kind: 'branch', branch: 'dev' });
  });

  test('secretRef, ignore, suspend, interval and timeout are read', () => {
    const g = parseGitRepository(
      manifest({ secretRef: { name: 'git-creds' }, ignore: '/*\n!/deploy\n', suspend: true, interval: '1h30m', timeout: '1m30s' }),
    );
    assert.deepEqual(g.spec.secretRef, { name: 'git-creds', namespace: 'flux-system' });
    assert.equal(g.spec.ignore, '/*\n!/deploy\n');
    assert.equal(g.spec.suspend, true);
    assert.equal(g.spec.intervalMs, 5_400_000);
    assert.equal(g.spec.timeoutMs, 90_000);
  });

  test('ssh:// URLs are accepted; scp-like addresses are refused with the ssh:// URL to use, as Flux refuses them', () => {
    const g = parseGitRepository(manifest({ url: 'ssh://git@github.com/org/repo.git', secretRef: { name: 'flux-system' } }));
    assert.equal(g.spec.url, 'ssh://git@github.com/org/repo.git');
    assert.equal(parseGitRepository(manifest({ url: 'ssh://git.example.com:2222/~/repo.git' })).spec.url, 'ssh://git.example.com:2222/~/repo.git');
    rejects({ url: 'git@github.com:org/repo.git' }, /scp-like SSH address, which Flux does not accept .*: use 'ssh:\/\/git@github\.com\/org\/repo\.git'/);
    rejects({ url: 'deploy@[::1]:repo.git' }, /use 'ssh:\/\/deploy@\[::1\]\/repo\.git'/);
    rejects({ url: 'ssh://git@github.com' }, /has no repository path/);
    rejects({ url: 'ssh://git@github.com:99999/org/repo' }, /not a valid ssh:\/\/ URL|invalid port/);
    rejects({ url: 'git://example.com/repo.git' }, /only http, https and ssh/);
    rejects({ url: 'not a url' }, /not a valid URL/);
    rejects({ url: undefined }, /spec\.url is required/);
  });

  test('unsupported Flux fields are rejected by name', () => {
    rejects({ verify: { mode: 'head2', secretRef: { name: 'pgp' } } }, /spec\.verify\.mode 'head2' must be HEAD, Tag or TagAndHEAD/);
    rejects({ verify: { mode: 'HEAD' } }, /spec\.verify\.secretRef\.name is required/);
    rejects({ include: [{ repository: { name: 'other' } }] }, /spec\.include is not supported/);
    rejects({ recurseSubmodules: true }, /spec\.recurseSubmodules is not supported/);
    rejects({ proxySecretRef: { name: 'proxy' } }, /spec\.proxySecretRef is not supported/);
    rejects({ sparseCheckout: ['deploy'] }, /spec\.sparseCheckout is not supported/);
    rejects({ provider: 'github' }, /spec\.provider 'github' is not supported/);
    rejects({ refs: { branch: 'main' } }, /spec\.refs is not a GitRepository field/);
    rejects({ ref: { brnach: 'main' } }, /spec\.ref\.brnach is not a GitRepository ref field/);
    // Empty/false values of those fields are harmless.
    assert.doesNotThrow(() => parseGitRepository(manifest({ recurseSubmodules: false, include: [], provider: 'generic' })));
  });

  test('bad values name the field', () => {
    rejects({ interval: undefined }, /spec\.interval is required/);
    rejects({ interval: '5 minutes' }, /spec\.interval '5 minutes'/);
    rejects({ timeout: '1h' }, /spec\.timeout '1h'/);
    rejects({ ref: { commit: 'abc1234' } }, /spec\.ref\.commit 'abc1234' must be a full 40-character/);
    rejects({ ref: { semver: '>=1.0.0 <<2' } }, /spec\.ref\.semver '>=1\.0\.0 <<2' is not a valid semver constraint/);
    rejects({ ref: { name: 'refs/heads/a..b' } }, /spec\.ref\.name 'refs\/heads\/a\.\.b' is not a valid git reference/);
    rejects({ ref: { name: '/refs/heads/main' } }, /must not begin or end with a slash/);
    rejects({ secretRef: {} }, /spec\.secretRef\.name is required/);
    rejects({}, /apiVersion 'source\.toolkit\.fluxcd\.io\/v1alpha1' is not supported/, { apiVersion: 'source.toolkit.fluxcd.io/v1alpha1' });
  });

  test('messages never show credentials from the URL', () => {
    assert.throws(
      () => parseGitRepository(manifest({ url: 'https://user:hunter2@example.com/repo.git', interval: 'bad' })),
      (err: Error) => !err.message.includes('hunter2'),
    );
    assert.equal(redactUrl('https://user:hunter2@example.com/repo.git'), 'https://example.com/repo.git');
    // SSH user names are not secrets and say which account is used; passwords still go.
    assert.equal(redactUrl('ssh://git@example.com/repo.git'), 'ssh://git@example.com/repo.git');
    assert.equal(redactUrl('ssh://git:hunter2@example.com/repo.git'), 'ssh://git@example.com/repo.git');
  });
});

describe('revision strings', () => {
  test('formats like Flux', () => {
    assert.equal(formatRevision({ kind: 'branch', branch: 'main' }, SHA), `main@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'branch', branch: 'feature/x' }, SHA), `feature/x@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'tag', tag: 'v1.2.3' }, SHA), `v1.2.3@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'semver', semver: '1.x' }, SHA, 'refs/tags/v1.2.3'), `v1.2.3@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'name', name: 'refs/pull/4/head' }, SHA), `refs/pull/4/head@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'commit', commit: SHA }, SHA), `sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'commit', commit: SHA, branch: 'main' }, SHA), `main@sha1:${SHA}`);
    assert.equal(formatRevision({ kind: 'commit', commit: SHA, branch: 'main', name: 'refs/heads/main' }, SHA), `refs/heads/main@sha1:${SHA}`);
  });

  test('legacy revisions are normalised', () => {
    assert.equal(normalizeRevision(`main/${SHA}`), `main@sha1:${SHA}`);
    assert.equal(normalizeRevision(`feature/x/${SHA}`), `feature/x@sha1:${SHA}`);
    assert.equal(normalizeRevision(SHA), `sha1:${SHA}`);
    assert.equal(normalizeRevision(`main@sha1:${SHA}`), `main@sha1:${SHA}`);
  });

  test('durations', () => {
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('2h3m4s'), 7_384_000);
    assert.throws(() => parseDuration('10'), /not a duration/);
  });
});
