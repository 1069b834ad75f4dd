/** Test helpers over the git server in shared/devenv/git-server.ts: repositories to commit, tag and push. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

import { AUTH_FILE, type GitServerInfo } from '../../shared/devenv/git-server.js';
export { AUTH_FILE, REQUEST_LOG_FILE, clearRequestLog, readRequestLog, startGitServer } from '../../shared/devenv/git-server.js';
export type { GitRequestLogEntry, GitServerInfo } from '../../shared/devenv/git-server.js';

const execFileP = promisify(execFile);
export type TestRepoAuth = { username: string; password: string } | { bearerToken: string };

export interface TestRepo {
  name: string;
  /** `${info.url}/${name}.git` */
  url: string;
  /** A normal git checkout with origin = url. */
  workdir: string;
  /** Writes (string/Buffer) or deletes (null) files, commits everything; returns the commit sha. */
  commit(files: Record<string, string | Buffer | null>, message?: string): Promise<string>;
  tag(name: string, opts?: { annotated?: boolean; ref?: string }): Promise<void>;
  branch(name: string, opts?: { from?: string }): Promise<void>;
  checkout(name: string): Promise<void>;
  /** Default: all branches and tags, forced. */
  push(refspec?: string): Promise<void>;
  head(): Promise<string>;
  cleanup(): Promise<void>;
}

/** Environment for the git CLI in tests: no user/system config, never prompt. */
export function gitTestEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: os.tmpdir(),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
    GIT_TERMINAL_PROMPT: '0',
    GIT_AUTHOR_NAME: 'Fluxless Test',
    GIT_AUTHOR_EMAIL: 'test@fluxless.invalid',
    GIT_COMMITTER_NAME: 'Fluxless Test',
    GIT_COMMITTER_EMAIL: 'test@fluxless.invalid',
    ...extra,
  };
}

/** The `-c http.extraHeader=...` arguments that make the git CLI send these credentials. */
export function gitAuthArgs(auth?: TestRepoAuth): string[] {
  if (!auth) return [];
  const header =
    'bearerToken' in auth
      ? `Authorization: Bearer ${auth.bearerToken}`
      : `Authorization: Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}`;
  return ['-c', `http.extraHeader=${header}`];
}

export async function createTestRepo(
  info: GitServerInfo,
  opts: { name?: string; defaultBranch?: string; auth?: TestRepoAuth } = {},
): Promise<TestRepo> {
  const name = opts.name ?? `repo-${randomBytes(5).toString('hex')}`;
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/.test(name)) {
    throw new Error(`invalid test repo name '${name}'`);
  }
  const defaultBranch = opts.defaultBranch ?? 'main';
  const bare = path.join(info.root, `${name}.git`);
  const url = `${info.url}/${name}.git`;
  const env = gitTestEnv();
  const git = async (cwd: string, args: string[]): Promise<string> => {
    try {
      const { stdout } = await execFileP('git', args, { cwd, env, maxBuffer: 64 * 1024 * 1024 });
      return stdout.trim();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`git ${args.filter((a) => !a.startsWith('http.extraHeader')).join(' ')} failed: ${e.stderr?.trim() || e.message}`);
    }
  };

  await mkdir(path.dirname(bare), { recursive: true });
  await git(info.root, ['init', '-q', '--bare', `--initial-branch=${defaultBranch}`, bare]);
  await git(bare, ['config', 'http.receivepack', 'true']);
  if (opts.auth) await writeFile(path.join(bare, AUTH_FILE), JSON.stringify(opts.auth), { mode: 0o600 });

  // Work dirs live under root/.work so that stopping the server removes forgotten ones too.
  await mkdir(path.join(info.root, '.work'), { recursive: true });
  const workdir = await mkdtemp(path.join(info.root, '.work', `${path.basename(name)}-`));
  await git(workdir, ['init', '-q', `--initial-branch=${defaultBranch}`]);
  for (const [k, v] of [
    ['user.name', 'Fluxless Test'],
    ['user.email', 'test@fluxless.invalid'],
    ['commit.gpgSign', 'false'],
    ['tag.gpgSign', 'false'],
    ['core.autocrlf', 'false'],
  ]) {
    await git(workdir, ['config', k, v]);
  }
  await git(workdir, ['remote', 'add', 'origin', url]);
  const authArgs = gitAuthArgs(opts.auth);
  let counter = 0;

  return {
    name,
    url,
    workdir,
    async commit(files, message) {
      for (const [file, content] of Object.entries(files)) {
        const target = path.resolve(workdir, file);
        if (!target.startsWith(workdir + path.sep)) throw new Error(`file path '${file}' escapes the work dir`);
        if (content === null) {
          await rm(target, { recursive: true, force: true });
        } else {
          await mkdir(path.dirname(target), { recursive: true });
          await writeFile(target, content);
        }
      }
      await git(workdir, ['add', '-A']);
      await git(workdir, ['commit', '-q', '--allow-empty', '-m', message ?? `commit ${++counter}`]);
      return git(workdir, ['rev-parse', 'HEAD']);
    },
    async tag(tagName, o = {}) {
      const args = ['tag', '-f'];
      if (o.annotated) args.push('-a', '-m', `tag ${tagName}`);
      args.push(tagName);
      if (o.ref) args.push(o.ref);
      await git(workdir, args);
    },
    async branch(branchName, o = {}) {
      await git(workdir, ['branch', '-f', branchName, ...(o.from ? [o.from] : [])]);
    },
    async checkout(ref) {
      await git(workdir, ['checkout', '-q', ref]);
    },
    async push(refspec) {
      const specs = refspec ? [refspec] : ['refs/heads/*:refs/heads/*', 'refs/tags/*:refs/tags/*'];
      await git(workdir, [...authArgs, 'push', '-q', '--force', 'origin', ...specs]);
    },
    head() {
      return git(workdir, ['rev-parse', 'HEAD']);
    },
    async cleanup() {
      await rm(workdir, { recursive: true, force: true });
      await rm(bare, { recursive: true, force: true });
    },
  };
}

