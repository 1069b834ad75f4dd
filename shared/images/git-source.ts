/**
 * The Git side of an ImageUpdateAutomation, after image-automation-controller's
 * SourceManager: check out `git.checkout.ref` (else the GitRepository's `spec.ref`, else
 * branch `master`) with the GitRepository's URL and credentials; when the push branch
 * differs from the checkout branch, work on the remote push branch if it exists, else
 * create it from the checkout commit; apply the setters; commit (author, optional
 * signature, rendered message); push the branch, then `push.refspec` if set.
 *
 * Pushes never overwrite anyone's commit: the branch is updated only from the commit it was
 * checked out at (compare-and-swap, git-push.ts). When the branch moved meanwhile, the whole
 * update is made again on the new head (a fresh shallow checkout), a few times at most.
 * Flux force-pushes a switched push branch; Fluxless never needs to, since the commit is
 * always made on top of the remote push branch.
 */
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import type { KubeObject } from '../kube/object.js';
import { fetchGitRepository, parseGitRepository, resolveRemote } from '../sources/git.js';
import { GitRefNotFoundError } from '../sources/git-errors.js';
import { GitPushRaceError, GitPushRejectedError, ZERO_OID, listPushRefs, objectsToPush, pushRefs, type RefUpdate } from '../sources/git-push.js';
import type { GitCredentials, GitRepositorySpec } from '../sources/types.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import type { Logger } from '../util/log.js';
import type { CommitSigner } from './commit-signing.js';
import { applySetters, type ObjectChanges, type SetterPolicy } from './setters.js';

/** Flux's git.DefaultBranch. */
export const DEFAULT_BRANCH = 'master';
/** Attempts at making and pushing the commit when the branch keeps moving. */
export const MAX_PUSH_ATTEMPTS = 4;

/** The source configuration is unusable (Flux: Stalled InvalidSourceConfiguration). */
export class SourceConfigError extends FluxlessError {
  constructor(message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super('InvalidSourceConfiguration', message, opts);
  }
}

/** Where to check out and where to push. */
export interface GitSourceConfig {
  /** The GitRepository's spec with the checkout ref. */
  checkout: GitRepositorySpec;
  auth?: GitCredentials;
  /** The checkout ref's branch, when it has one. */
  checkoutBranch?: string;
  pushBranch: string;
  /** The push branch differs from the checkout branch. */
  switchBranch: boolean;
  refspec?: string;
  pushOptions?: string[];
}

function withRef(gitRepo: KubeObject, ref: Record<string, unknown> | undefined): GitRepositorySpec {
  const spec = { ...((gitRepo.spec ?? {}) as Record<string, unknown>) };
  if (ref) spec.ref = ref;
  else delete spec.ref;
  return parseGitRepository({ ...gitRepo, spec }, { defaultNamespace: gitRepo.metadata.namespace }).spec;
}

/**
 * The checkout and push configuration (Flux's buildGitConfig/configurePush). Throws
 * SourceConfigError when no push branch can be found, ValidationError for a bad ref.
 */
export function configureSource(
  gitRepo: KubeObject,
  auth: GitCredentials | undefined,
  checkoutRef: Record<string, unknown> | undefined,
  push: { branch?: string; refspec?: string; options?: Record<string, string> } | undefined,
): GitSourceConfig {
  const repoRef = (gitRepo.spec as { ref?: Record<string, unknown> } | undefined)?.ref;
  const ref = checkoutRef ?? repoRef;
  const checkout = withRef(gitRepo, ref);
  const checkoutBranch = typeof ref?.branch === 'string' && ref.branch ? ref.branch : undefined;
  let pushBranch: string;
  let switchBranch = false;
  if (push?.branch) {
    pushBranch = push.branch;
    switchBranch = ref ? pushBranch !== (checkoutBranch ?? '') : pushBranch !== DEFAULT_BRANCH;
  } else {
    if (!ref || !checkoutBranch) {
      throw new SourceConfigError('push spec not provided, and cannot be inferred from .spec.git.checkout.ref or GitRepository .spec.ref', {
        hint: 'set spec.git.push.branch, or a branch in spec.git.checkout.ref',
      });
    }
    pushBranch = checkoutBranch;
  }
  const options = push?.options ? Object.keys(push.options).sort().map((k) => `${k}=${push.options![k]}`) : undefined;
  return {
    checkout,
    ...(auth ? { auth } : {}),
    ...(checkoutBranch ? { checkoutBranch } : {}),
    pushBranch,
    switchBranch,
    ...(push?.refspec ? { refspec: push.refspec } : {}),
    ...(options?.length ? { pushOptions: options } : {}),
  };
}

/** The remote revision of the checkout ref (one ref listing), as `status.observedSourceRevision` records it. */
export async function checkoutRevision(cfg: GitSourceConfig, signal?: AbortSignal): Promise<string> {
  return (await resolveRemote(cfg.checkout, cfg.auth, { signal })).revision;
}

/** What a run needs besides the source configuration. */
export interface UpdateRun {
  policies: readonly SetterPolicy[];
  updatePath?: string;
  /** Renders the commit message for the changes (throws for a bad template). */
  message(fileChanges: ReadonlyMap<string, ObjectChanges[]>): string;
  author: { name: string; email: string };
  signer?: CommitSigner;
  now(): Date;
  signal?: AbortSignal;
  log: Logger;
}

/** What a run did. */
export type UpdateOutcome =
  | { pushed: false; checkoutRevision: string; problemFiles: string[] }
  | {
      pushed: true;
      /** Full SHA of the pushed commit. */
      commit: string;
      branch: string;
      refspec?: string;
      message: string;
      checkoutRevision: string;
      fileChanges: ReadonlyMap<string, ObjectChanges[]>;
      attempts: number;
      problemFiles: string[];
    };

interface Base {
  /** The commit the update is made on. */
  commit: string;
  /** What the push branch must be at on the remote for our push (ZERO_OID: absent). */
  expected: string;
  checkoutRevision: string;
  dir: string;
}

function branchSpec(spec: GitRepositorySpec, branch: string): GitRepositorySpec {
  return { ...spec, ref: { kind: 'branch', branch } };
}

/** Checks out what the update is made on (the remote push branch when switching and it exists). */
async function checkoutBase(cfg: GitSourceConfig, dir: string, signal: AbortSignal | undefined): Promise<Base> {
  if (cfg.switchBranch) {
    let pushHead: string | undefined;
    try {
      pushHead = (await resolveRemote(branchSpec(cfg.checkout, cfg.pushBranch), cfg.auth, { signal })).commit;
    } catch (err) {
      if (!(err instanceof GitRefNotFoundError)) throw err;
    }
    const rev = await checkoutRevision(cfg, signal);
    const res = await fetchGitRepository(pushHead ? branchSpec(cfg.checkout, cfg.pushBranch) : cfg.checkout, cfg.auth, { dir, signal });
    if (!res.changed) throw new FluxlessError('GitOperationFailed', 'checkout returned no files');
    return { commit: res.commit, expected: pushHead ? res.commit : ZERO_OID, checkoutRevision: rev, dir: res.dir };
  }
  const res = await fetchGitRepository(cfg.checkout, cfg.auth, { dir, signal });
  if (!res.changed) throw new FluxlessError('GitOperationFailed', 'checkout returned no files');
  return { commit: res.commit, expected: res.commit, checkoutRevision: res.revision, dir: res.dir };
}

function parseRefspec(refspec: string): { force: boolean; src: string; dst: string } {
  const force = refspec.startsWith('+');
  const body = force ? refspec.slice(1) : refspec;
  const i = body.indexOf(':');
  const src = i < 0 ? body : body.slice(0, i);
  const dst = i < 0 ? body : body.slice(i + 1);
  if (!src || !dst) throw new SourceConfigError(`invalid refspec '${refspec}' (spec.git.push.refspec): expected <src>:<dst>, e.g. refs/heads/main:refs/heads/auto`);
  return { force, src, dst: dst.startsWith('refs/') ? dst : `refs/heads/${dst}` };
}

/** The refspec push (Flux's second push). */
async function pushRefspec(cfg: GitSourceConfig, base: Base, commit: string, signal: AbortSignal | undefined): Promise<void> {
  const { force, src, dst } = parseRefspec(cfg.refspec!);
  const local = new Map<string, string>([
    ['HEAD', commit],
    [cfg.pushBranch, commit],
    [`refs/heads/${cfg.pushBranch}`, commit],
  ]);
  if (cfg.switchBranch && cfg.checkoutBranch && base.expected === ZERO_OID) {
    local.set(cfg.checkoutBranch, base.commit);
    local.set(`refs/heads/${cfg.checkoutBranch}`, base.commit);
  }
  const newOid = local.get(src);
  if (!newOid) throw new GitPushRejectedError(dst, 'src refspec does not match any', `refspec '${cfg.refspec}': '${src}' is not a reference of the checkout (use HEAD or the push branch '${cfg.pushBranch}')`);
  const adv = await listPushRefs(cfg.checkout, cfg.auth, { signal });
  const current = adv.refs.get(dst);
  const update: RefUpdate = { ref: dst, oldOid: current ?? ZERO_OID, newOid };
  if (current && current !== newOid && current !== base.commit && !force) {
    throw new GitPushRejectedError(dst, 'non-fast-forward', `pushing refspec '${cfg.refspec}' to ${dst} was refused: non-fast-forward update (the ref is at ${current.slice(0, 7)})`);
  }
  if (current === newOid) return;
  await pushRefs(cfg.checkout, cfg.auth, [update], { dir: base.dir, objects: await objectsToPush(base.dir, newOid, base.commit), pushOptions: cfg.pushOptions, signal });
}

/**
 * Checks out, updates, commits and pushes; retries on a fresh checkout when the branch
 * moved. Returns `pushed: false` when the setters changed nothing. Git errors are thrown.
 */
export async function updateSource(cfg: GitSourceConfig, run: UpdateRun): Promise<UpdateOutcome> {
  for (let attempt = 1; ; attempt++) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-automation-'));
    try {
      const base = await checkoutBase(cfg, path.join(dir, 'checkout'), run.signal);
      const result = await applySetters(base.dir, run.updatePath, run.policies);
      if (result.problemFiles.length) run.log.info('files with the marker that are not valid YAML were skipped', { files: result.problemFiles });
      if (result.fileChanges.size === 0) return { pushed: false, checkoutRevision: base.checkoutRevision, problemFiles: result.problemFiles };
      const message = run.message(result.fileChanges);
      const cache = {};
      for (const filepath of result.written) await git.add({ fs, dir: base.dir, filepath, cache });
      const when = run.now();
      const sig = { name: run.author.name, email: run.author.email, timestamp: Math.floor(when.getTime() / 1000), timezoneOffset: 0 };
      const signer = run.signer;
      const commit = await git.commit({
        fs,
        dir: base.dir,
        message,
        author: sig,
        committer: sig,
        parent: [base.commit],
        ref: `refs/heads/${cfg.pushBranch}`,
        cache,
        ...(signer ? { signingKey: 'spec.git.commit.signingKey', onSign: async ({ payload }: { payload: string }) => ({ signature: await signer(payload) }) } : {}),
      });
      try {
        await pushRefs(cfg.checkout, cfg.auth, [{ ref: `refs/heads/${cfg.pushBranch}`, oldOid: base.expected, newOid: commit }], {
          dir: base.dir,
          objects: await objectsToPush(base.dir, commit, base.commit, cache),
          pushOptions: cfg.pushOptions,
          signal: run.signal,
        });
      } catch (err) {
        if (err instanceof GitPushRaceError && attempt < MAX_PUSH_ATTEMPTS) {
          run.log.info('the push branch moved: making the update again on its new head', { branch: cfg.pushBranch, attempt, error: errorMessage(err) });
          continue;
        }
        if (err instanceof GitPushRaceError) {
          throw new FluxlessError('GitOperationFailed', `${err.message}; gave up after ${attempt} attempts (the branch keeps moving)`, { cause: err, hint: err.hint });
        }
        throw err;
      }
      if (cfg.refspec) await pushRefspec(cfg, base, commit, run.signal);
      return {
        pushed: true,
        commit,
        branch: cfg.pushBranch,
        ...(cfg.refspec ? { refspec: cfg.refspec } : {}),
        message,
        checkoutRevision: base.checkoutRevision,
        fileChanges: result.fileChanges,
        attempts: attempt,
        problemFiles: result.problemFiles,
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
