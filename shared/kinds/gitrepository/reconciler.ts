/**
 * The GitRepository reconciler (`source.toolkit.fluxcd.io/v1`), as source-controller: ask
 * the remote for its refs; when the revision is new (or the stored artifact is missing or
 * corrupt, or was built with other ignore rules), fetch it shallowly, archive it, store the
 * artifact (keeping the last 2) and record it in the status; then wake the objects that
 * use this source (through the users index, no scan). With `spec.verify`, a new checkout's
 * commit and/or tag signature is checked before it is archived (SourceVerified).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact, buildArtifactOf } from '../../artifacts/build.js';
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices } from '../../reconcile/contract.js';
import { gitRepositoryDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { dropIndex } from '../../reconcile/reverse-index.js';
import { sourceUsers } from '../../reconcile/source-users.js';
import { writeStatus } from '../../reconcile/status.js';
import { fetchGitRepository, parseGitRepository } from '../../sources/git.js';
import { checkoutCommit, commitTree } from '../../sources/git-tree.js';
import { GitAuthError, GitVerificationError } from '../../sources/git-errors.js';
import { gitTrustedKeys, verifyGitObject, type GitTrustedKeys } from '../../sources/git-verify.js';
import type { GitFetchResult, GitVerification } from '../../sources/types.js';
import type { ArtifactInfo } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { gitCredentials } from './credentials.js';

const DEFAULT_INTERVAL_MS = 60_000;
/** The condition Flux sets for `spec.verify`. */
const SOURCE_VERIFIED = 'SourceVerified';

/** True when the stored artifact can still be read and matches its digest. */
async function artifactIntact(svc: ReconcileServices, a: ArtifactInfo): Promise<boolean> {
  try {
    await svc.artifacts.get(a.key, a.digest);
    return true;
  } catch {
    return false;
  }
}

/** True when the stored artifact was not verified the way `verify` asks now (Flux: no observed mode, or one that misses the commit or the tag). */
function requiresVerification(verify: GitVerification | undefined, observed: string | undefined): boolean {
  if (!verify) return false;
  if (!observed) return true;
  const wantsHead = verify.mode !== 'Tag';
  const wantsTag = verify.mode !== 'HEAD';
  return (observed === 'Tag' && wantsHead) || (observed === 'HEAD' && wantsTag);
}

/** The trusted keys of the verify Secret; a Secret that cannot be read is Flux's `public keys secret error`. */
async function verifyKeys(svc: ReconcileServices, namespace: string, name: string): Promise<GitTrustedKeys> {
  try {
    return gitTrustedKeys(await svc.secrets.get(namespace, name));
  } catch (err) {
    throw new GitVerificationError('VerificationError', `public keys secret error: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * source-controller's verifySignature on a new checkout: the tag object (Tag, TagAndHEAD),
 * then the commit (HEAD, TagAndHEAD). Returns the SourceVerified message.
 */
async function verifyCheckout(res: Extract<GitFetchResult, { changed: true }>, verify: GitVerification, keys: GitTrustedKeys): Promise<string> {
  const lines: string[] = [];
  if (verify.mode !== 'HEAD') {
    const tag = res.tag;
    if (!tag) {
      if (!res.ref?.startsWith('refs/tags/')) throw new GitVerificationError('InvalidVerificationMode', "cannot verify tag object's signature if a tag reference is not specified", { stalled: true });
      throw new GitVerificationError('InvalidGitObject', `cannot verify signature of tag '${res.ref.slice('refs/tags/'.length)}' since it is not signed`);
    }
    if (!tag.signature) throw new GitVerificationError('InvalidGitObject', `cannot verify signature of tag '${tag.name}@${tag.oid}' since it is not signed`);
    try {
      lines.push(`tag '${tag.name}@${tag.oid}' with key '${await verifyGitObject(tag, keys)}'`);
    } catch (err) {
      throw new GitVerificationError('InvalidTagSignature', `signature verification of tag '${tag.name}@${tag.oid}' failed: ${errorMessage(err)}`, { cause: err });
    }
  }
  if (verify.mode !== 'Tag') {
    try {
      lines.push(`commit '${res.commit}' with key '${await verifyGitObject(res.signed, keys)}'`);
    } catch (err) {
      throw new GitVerificationError('InvalidCommitSignature', `signature verification of commit '${res.commit}' failed: ${errorMessage(err)}`, { cause: err });
    }
  }
  return `verified signature of\n${lines.map((l) => `\t- ${l}`).join('\n')}`;
}

/** The artifact of `commit`, fetched into `dir` without a checkout: from its objects, or from a checkout when only one can tell. */
async function buildGitArtifact(dir: string, commit: string, ignore: string | undefined) {
  const tree = await commitTree(dir, commit);
  if (tree) return buildArtifactOf(tree, { ignore });
  await checkoutCommit(dir, commit);
  return buildArtifact(dir, { ignore });
}

/** Reconciles one GitRepository. */
export async function reconcileGitRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec, signal } = req;
  let intervalMs = DEFAULT_INTERVAL_MS;
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-git-'));
  const handledRequest = rec.requestedAt;
  try {
    const repo = parseGitRepository(rec.object, { defaultNamespace: key.namespace });
    intervalMs = repo.spec.intervalMs;
    if (repo.spec.suspend || rec.suspended) return { ready: true, reason: 'Suspended', message: 'GitRepository is suspended', wake: [] };
    const auth = repo.spec.secretRef ? gitCredentials(await svc.secrets.get(key.namespace, repo.spec.secretRef.name)) : undefined;
    // Skip the fetch only when the stored artifact was built from the same ignore rules, is
    // intact, and was verified the way spec.verify asks (source-controller requiresVerification).
    const cur = rec.status.artifact;
    const verify = repo.spec.verify;
    const sameRules = cur && (cur.ignore ?? '') === (repo.spec.ignore ?? '') && !requiresVerification(verify, rec.status.sourceVerificationMode as string | undefined);
    // No checkout: the artifact is built from the commit's objects (git-tree.ts).
    const dir = path.join(work, 'checkout');
    let res = await fetchGitRepository(repo.spec, auth, { dir, lastRevision: sameRules ? cur.revision : undefined, signal, checkout: false });
    if (!res.changed && cur && !(await artifactIntact(svc, cur))) {
      req.log.warn('stored artifact is missing or corrupt: rebuilding it', { revision: cur.revision });
      res = await fetchGitRepository(repo.spec, auth, { dir, signal, checkout: false });
    }
    if (!res.changed) {
      const message = `stored artifact for revision '${res.revision}'`;
      const unverified = verify ? {} : { removeConditions: [SOURCE_VERIFIED], fields: { sourceVerificationMode: undefined } };
      await writeStatus(svc.state, key, { ready: true, reason: 'Succeeded', message, handledRequest, nextRunMs: jitter(intervalMs), ...unverified }, svc.now());
      return { ready: true, reason: 'Succeeded', message, revision: res.revision, wake: [] };
    }
    // Signatures first: a checkout that fails verification is not archived (the last artifact stays).
    const verified = verify ? await verifyCheckout(res, verify, await verifyKeys(svc, key.namespace, verify.secretRef.name)) : undefined;
    const art = await buildGitArtifact(res.dir, res.commit, repo.spec.ignore);
    const stored = await svc.artifacts.put(key, res.revision, art.tarGz);
    await svc.artifacts.gc(key, 2, { protect: [stored.key] }).catch((err: unknown) => req.log.warn('artifact gc failed', { error: errorMessage(err) }));
    const message = `stored artifact for revision '${res.revision}'`;
    const artifact: ArtifactInfo = {
      revision: res.revision,
      digest: stored.digest,
      key: stored.key,
      size: stored.size,
      url: stored.url,
      lastUpdateTime: stored.lastUpdateTime,
      ignore: repo.spec.ignore,
    };
    await writeStatus(
      svc.state,
      key,
      {
        ready: true,
        reason: 'Succeeded',
        message,
        handledRequest,
        fields: { artifact, sourceVerificationMode: verify?.mode },
        conditions: [
          { type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message },
          ...(verified ? [{ type: SOURCE_VERIFIED, status: 'True' as const, reason: 'Succeeded', message: verified }] : []),
        ],
        ...(verify ? {} : { removeConditions: [SOURCE_VERIFIED] }),
        event: { severity: 'info', reason: 'NewArtifact', message: `stored artifact for commit '${res.message.split('\n')[0]}'`, revision: res.revision },
        nextRunMs: jitter(intervalMs),
      },
      svc.now(),
    );
    req.log.info('new artifact', { revision: res.revision, files: art.fileCount, size: art.size });
    return { ready: true, reason: 'Succeeded', message, revision: res.revision, wake: await sourceUsers(svc, key, res.revision) };
  } catch (err) {
    const reason =
      err instanceof GitVerificationError
        ? err.reason
        : err instanceof GitAuthError
          ? 'AuthenticationFailed'
          : err instanceof FluxlessError && err.code === 'ValidationFailed'
            ? 'InvalidSpec'
            : 'GitOperationFailed';
    const message = errorMessage(err);
    const stalled = reason === 'InvalidSpec' || (err instanceof GitVerificationError && err.stalled);
    const verification = err instanceof GitVerificationError ? { conditions: [{ type: SOURCE_VERIFIED, status: 'False' as const, reason, message }] } : {};
    await writeStatus(
      svc.state,
      key,
      { ready: false, reason, message, stalled, handledRequest, nextRunMs: jitter(intervalMs), event: { severity: 'error', reason, message }, ...verification },
      svc.now(),
    );
    req.log.warn('source failed', { reason, error: message });
    // A remote that fails is retried on the interval; only a store that fails retries the message.
    return { ready: false, reason, message, wake: [], transientError: transientCause(err) };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A GitRepository removed from Git: delete its artifacts and its record. */
export async function finalizeGitRepository(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const n = await svc.artifacts.deleteAll(req.key);
  await svc.state.delete(req.key);
  await dropIndex(svc.state, 'SourceUsersIndex', req.key);
  return { ready: false, reason: 'Finalized', message: `GitRepository deleted, ${n} artifact(s) removed`, wake: [] };
}

/** The GitRepository kind. */
export const gitRepositoryKind: KindReconciler = {
  ...gitRepositoryDescriptor,
  reconcile: reconcileGitRepository,
  finalize: finalizeGitRepository,
  summary: (rec) => ({ revision: rec.status.artifact?.revision ?? '' }),
  validate: (obj) => void parseGitRepository(obj, { defaultNamespace: obj.metadata.namespace ?? 'default' }),
};
