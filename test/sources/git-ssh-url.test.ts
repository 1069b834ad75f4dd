import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ValidationError } from '../../shared/util/errors.js';
import { displaySshUrl, gitShellQuote, parseScpLike, parseSshUrl, sshUrlForScpLike, uploadPackCommand } from '../../shared/sources/git-ssh-url.js';

const execFileP = promisify(execFile);

describe('SSH remote URLs', () => {
  test('ssh:// URLs: user defaults to git, port to 22, /~ paths are home-relative', () => {
    assert.deepEqual(parseSshUrl('ssh://git@github.com/fluxcd/flux2-kustomize-helm-example'), { user: 'git', host: 'github.com', port: 22, path: '/fluxcd/flux2-kustomize-helm-example' });
    assert.deepEqual(parseSshUrl('ssh://Git.Example.com:2222/~/fleet.git'), { user: 'git', host: 'git.example.com', port: 2222, path: '~/fleet.git' });
    assert.deepEqual(parseSshUrl('ssh://deploy@[::1]:2200/srv/git/my%20repo.git'), { user: 'deploy', host: '::1', port: 2200, path: '/srv/git/my repo.git' });
    assert.equal(displaySshUrl(parseSshUrl('ssh://[::1]:2200/r.git')), 'ssh://git@[::1]:2200/r.git');
    assert.throws(() => parseSshUrl('ssh://git@github.com:org/repo.git'), (err: Error) => err instanceof ValidationError && /mixes the ssh:\/\/ and scp-like forms: use 'ssh:\/\/git@github\.com\/org\/repo\.git'/.test(err.message));
    for (const bad of ['ssh://github.com', 'ssh://github.com/', 'ssh:///path', 'ssh://h/r.git?x=1']) {
      assert.throws(() => parseSshUrl(bad), ValidationError, bad);
    }
  });

  test('scp-like addresses are recognised only to say which ssh:// URL to use', () => {
    assert.deepEqual(parseScpLike('git@github.com:org/repo.git'), { user: 'git', host: 'github.com', path: 'org/repo.git' });
    assert.equal(sshUrlForScpLike('git@github.com:org/repo.git'), 'ssh://git@github.com/org/repo.git');
    assert.equal(sshUrlForScpLike('example.com:/srv/repo.git'), 'ssh://example.com/srv/repo.git');
    for (const notScp of ['https://github.com/org/repo', 'ssh://git@h/r', 'C:\\repo', '/local/path', 'relative/path:x']) assert.equal(parseScpLike(notScp), undefined, notScp);
  });

  test('the remote command is quoted like git does, so git-shell accepts it', async () => {
    for (const p of ["/srv/it's here!.git", '/srv/plain.git', '~/a b.git']) {
      const cmd = uploadPackCommand(p);
      // The shell git-shell and sshd use reads it back as one argument.
      const { stdout } = await execFileP('sh', ['-c', `printf %s ${gitShellQuote(p)}`]);
      assert.equal(stdout, p);
      assert.ok(cmd.startsWith("git-upload-pack '"));
    }
  });
});
