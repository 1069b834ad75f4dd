/**
 * The ImageUpdateAutomation reconciler (`image.toolkit.fluxcd.io/v1`), as
 * image-automation-controller: list the ImagePolicies of the namespace that `policySelector`
 * selects and that have a `latestRef`; skip the run when they are what was observed last,
 * the branch is not switched, no refspec is set and the remote checkout ref has not moved;
 * otherwise check out, apply the setters under `update.path`, and when something changed,
 * commit with the rendered message (signed when `signingKey` is set) and push
 * (images/git-source.ts). The pushed commit then flows through the normal GitRepository
 * path: the GitRepository is woken at once.
 *
 * Status: `lastAutomationRunTime`, `lastPushCommit`, `lastPushTime`, `observedPolicies`,
 * `observedSourceRevision`; Ready `repository up-to-date`, or Flux's failure reasons
 * (GitOperationFailed, UpdateFailed, SourceManagerFailed, InvalidSourceConfiguration,
 * InvalidPolicySelector, InvalidUpdateStrategy, RemovedTemplateField).
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { imageUpdateAutomationDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { registerMember } from '../../reconcile/reverse-index.js';
import { writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { gitCredentials } from '../gitrepository/credentials.js';
import { parseGitRepository } from '../../sources/git.js';
import { getCondition, isReady, listRecords, readRecord, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, ValidationError, errorMessage } from '../../util/errors.js';
import { jitter } from '../../util/time.js';
import { automationsTarget } from '../../images/index-targets.js';
import { compileLabelSelector } from '../../images/label-selector.js';
import { commitSigner, SigningKeyError, type CommitSigner } from '../../images/commit-signing.js';
import { RemovedTemplateFieldError, renderCommitMessage } from '../../images/commit-message.js';
import { checkoutRevision, configureSource, SourceConfigError, updateSource, type GitSourceConfig } from '../../images/git-source.js';
import type { ImageRef, SetterPolicy } from '../../images/setters.js';
import type { ObjectKey } from '../../kube/object.js';
import { AutomationSpecError, parseImageUpdateAutomation, type AutomationSpec } from './spec.js';

/** Flux's Ready message when nothing had to be pushed. */
export const READY_MESSAGE = 'repository up-to-date';
const RETRY_MS = 60_000;

/** A failure with Flux's reason. */
class AutomationFailure extends FluxlessError {
  constructor(
    readonly reason: string,
    message: string,
    readonly opts: { stalled?: boolean; cause?: unknown; hint?: string } = {},
  ) {
    super(reason, message, { cause: opts.cause, hint: opts.hint });
  }
}

type ObservedPolicies = Record<string, ImageRef>;

function observedChanged(prev: ObservedPolicies | undefined, cur: ObservedPolicies): boolean {
  const p = prev ?? {};
  if (Object.keys(p).length !== Object.keys(cur).length) return true;
  return Object.entries(cur).some(([n, r]) => !p[n] || p[n].name !== r.name || p[n].tag !== r.tag || (p[n].digest ?? '') !== (r.digest ?? ''));
}

/** The policies of the namespace the selector selects, with a latestRef (Flux's getPolicies). */
async function selectedPolicies(svc: ReconcileServices, ns: string, selector: unknown): Promise<SetterPolicy[]> {
  let matcher;
  try {
    matcher = compileLabelSelector(selector, 'spec.policySelector');
  } catch (err) {
    throw new AutomationFailure('InvalidPolicySelector', `failed to parse policy selector: ${errorMessage(err)}`, { stalled: true, cause: err });
  }
  const out: SetterPolicy[] = [];
  for (const read of await listRecords(svc.state, { kind: 'ImagePolicy', namespace: ns })) {
    const rec = read.record;
    if (!rec?.object || rec.deleted) continue;
    if (!matcher.matches(rec.object.metadata.labels)) continue;
    const latest = rec.status.latestRef as ImageRef | undefined;
    if (!latest?.name || !latest.tag) continue;
    out.push({ namespace: ns, name: read.key.name, latestRef: { name: latest.name, tag: latest.tag, ...(latest.digest ? { digest: latest.digest } : {}) } });
  }
  return out;
}

async function sourceConfig(svc: ReconcileServices, spec: AutomationSpec): Promise<GitSourceConfig> {
  const { name, namespace } = spec.sourceRef;
  const gitRec = await readRecord(svc.state, { kind: 'GitRepository', namespace, name });
  if (!gitRec?.object || gitRec.deleted) {
    throw new AutomationFailure('SourceManagerFailed', `failed configuring source manager: referenced git repository does not exist: gitrepositories.source.toolkit.fluxcd.io "${name}" not found`, {
      hint: `define GitRepository ${namespace}/${name} (spec.sourceRef)`,
    });
  }
  let auth;
  try {
    const repo = parseGitRepository(gitRec.object, { defaultNamespace: namespace });
    if (repo.spec.secretRef) {
      try {
        auth = gitCredentials(await svc.secrets.get(repo.spec.secretRef.namespace, repo.spec.secretRef.name));
      } catch (err) {
        if (transientCause(err)) throw err;
        throw new AutomationFailure('SourceManagerFailed', `failed configuring source manager: failed to get auth secret '${repo.spec.secretRef.namespace}/${repo.spec.secretRef.name}': ${errorMessage(err)}`, { cause: err });
      }
    }
    return configureSource(gitRec.object, auth, spec.checkoutRef, spec.push);
  } catch (err) {
    if (err instanceof AutomationFailure || transientCause(err)) throw err;
    if (err instanceof SourceConfigError) throw new AutomationFailure('InvalidSourceConfiguration', err.message, { stalled: true, hint: err.hint });
    if (err instanceof ValidationError) throw new AutomationFailure('SourceManagerFailed', `failed configuring source manager: ${err.message}`, { cause: err, hint: err.hint });
    throw err;
  }
}

async function signerFor(svc: ReconcileServices, ns: string, spec: AutomationSpec): Promise<CommitSigner | undefined> {
  const sk = spec.commit.signingKey;
  if (!sk) return undefined;
  let data: Record<string, string>;
  try {
    data = await svc.secrets.get(ns, sk.secretRef);
  } catch (err) {
    if (transientCause(err)) throw err;
    throw new AutomationFailure('SourceManagerFailed', `failed configuring source manager: could not find signing key secret '${sk.secretRef}': ${errorMessage(err)}`, { cause: err });
  }
  try {
    return await commitSigner(data, sk.type, sk.secretRef);
  } catch (err) {
    if (err instanceof SigningKeyError) throw new AutomationFailure('SourceManagerFailed', `failed configuring source manager: ${err.message}`, { cause: err, hint: err.hint });
    throw err;
  }
}

function gitFailure(err: unknown, prefix: string): AutomationFailure {
  if (err instanceof AutomationFailure) return err;
  if (err instanceof RemovedTemplateFieldError) return new AutomationFailure('RemovedTemplateField', err.message, { stalled: true });
  const hint = err instanceof FluxlessError ? err.hint : undefined;
  return new AutomationFailure('GitOperationFailed', `${prefix}: ${errorMessage(err)}`, { cause: err, hint });
}

/** Reconciles one ImageUpdateAutomation. */
export async function reconcileImageUpdateAutomation(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  const handledRequest = rec.requestedAt;
  const runTime = svc.now().toISOString();
  const write = (u: Omit<StatusUpdate, 'handledRequest'>) =>
    writeStatus(svc.state, key, { ...u, handledRequest, fields: { lastAutomationRunTime: runTime, ...(u.fields ?? {}) } }, svc.now());

  let spec: AutomationSpec;
  try {
    spec = parseImageUpdateAutomation(rec.object!, key.namespace);
  } catch (err) {
    const reason = err instanceof AutomationSpecError ? err.reason : 'InvalidSpec';
    const message = errorMessage(err);
    await write({ ready: false, reason, message, stalled: true, event: { severity: 'error', reason, message } });
    return { ready: false, reason, message, wake: [] };
  }
  if (spec.suspend || rec.suspended) return { ready: isReady(rec), reason: 'Suspended', message: 'ImageUpdateAutomation is suspended', wake: [] };
  const nextRunMs = jitter(spec.intervalMs);

  try {
    // Register before listing: a policy that changes after the list wakes us.
    await registerMember(svc.state, 'SourceUsersIndex', automationsTarget(key.namespace), key);
    const policies = await selectedPolicies(svc, key.namespace, spec.policySelector);
    const observedPolicies: ObservedPolicies = Object.fromEntries(policies.map((p) => [p.name, p.latestRef]));
    const cfg = await sourceConfig(svc, spec);
    const signer = await signerFor(svc, key.namespace, spec);

    const syncNeeded = observedChanged(rec.status.observedPolicies as ObservedPolicies | undefined, observedPolicies) || cfg.switchBranch || Boolean(cfg.refspec);
    const lastObserved = rec.status.observedSourceRevision as string | undefined;
    if (!syncNeeded && lastObserved) {
      let rev: string;
      try {
        rev = await checkoutRevision(cfg, req.signal);
      } catch (err) {
        if (transientCause(err)) throw err;
        throw gitFailure(err, 'failed to checkout source');
      }
      if (rev === lastObserved) {
        await write({ ready: true, reason: 'Succeeded', message: READY_MESSAGE, nextRunMs, ...(isReady(rec) ? {} : { event: { severity: 'info', reason: 'Succeeded', message: READY_MESSAGE } }) });
        return { ready: true, reason: 'Succeeded', message: READY_MESSAGE, wake: [] };
      }
    }

    let outcome;
    try {
      outcome = await updateSource(cfg, {
        policies,
        updatePath: spec.updatePath,
        message: (fileChanges) => renderCommitMessage(spec.commit.messageTemplate, { automation: { namespace: key.namespace, name: key.name }, fileChanges, values: spec.commit.messageTemplateValues }),
        author: spec.commit.author,
        signer,
        now: () => svc.now(),
        signal: req.signal,
        log: req.log,
      });
    } catch (err) {
      if (err instanceof ValidationError && /spec\.update\.path|walking path/.test(err.message)) throw new AutomationFailure('UpdateFailed', `failed to apply policies: ${err.message}`, { cause: err, hint: err.hint });
      throw gitFailure(err, 'failed to update source');
    }

    if (!outcome.pushed) {
      await write({
        ready: true,
        reason: 'Succeeded',
        message: READY_MESSAGE,
        fields: { observedPolicies, observedSourceRevision: outcome.checkoutRevision },
        nextRunMs,
        ...(getCondition(rec, 'Ready')?.status === 'True' ? {} : { event: { severity: 'info' as const, reason: 'Succeeded', message: READY_MESSAGE } }),
      });
      return { ready: true, reason: 'Succeeded', message: READY_MESSAGE, wake: [] };
    }

    const short = outcome.commit.slice(0, 7);
    const summary = `pushed commit '${short}' to branch '${outcome.branch}'${outcome.refspec ? ` and refspecs '${outcome.refspec}'` : ''}${outcome.message ? `\n${outcome.message}` : ''}`;
    const observedSourceRevision = cfg.switchBranch ? outcome.checkoutRevision : `${outcome.branch}@sha1:${outcome.commit}`;
    await write({
      ready: true,
      reason: 'Succeeded',
      message: READY_MESSAGE,
      fields: { observedPolicies, observedSourceRevision, lastPushCommit: outcome.commit, lastPushTime: svc.now().toISOString() },
      nextRunMs,
      event: { severity: 'info', reason: 'Succeeded', message: summary, revision: `${outcome.branch}@sha1:${outcome.commit}` },
    });
    req.log.info('image update pushed', { commit: outcome.commit, branch: outcome.branch, attempts: outcome.attempts, files: outcome.fileChanges.size });
    const source: ObjectKey = { kind: 'GitRepository', namespace: spec.sourceRef.namespace, name: spec.sourceRef.name };
    const wake: Wake[] = [{ key: source, reason: 'image-update', dedupKey: `image-update-${outcome.commit}`, revision: `${outcome.branch}@sha1:${outcome.commit}` }];
    return { ready: true, reason: 'Succeeded', message: summary, revision: `${outcome.branch}@sha1:${outcome.commit}`, wake };
  } catch (err) {
    const f = err instanceof AutomationFailure ? err : undefined;
    const t = f ? undefined : transientCause(err);
    const reason = f?.reason ?? (t ? 'GitOperationFailed' : 'UpdateFailed');
    const message = errorMessage(err);
    await write({ ready: false, reason, message, stalled: f?.opts.stalled ?? false, ...(f?.opts.stalled ? {} : { nextRunMs: jitter(Math.min(spec.intervalMs, RETRY_MS)) }), event: { severity: 'error', reason, message } });
    req.log.warn('image update automation failed', { reason, error: message });
    return { ready: false, reason, message, wake: [], transientError: t };
  }
}

/** An ImageUpdateAutomation removed from Git: only its record goes. */
export async function finalizeImageUpdateAutomation(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  await svc.state.delete(req.key);
  return { ready: false, reason: 'Finalized', message: 'ImageUpdateAutomation deleted', wake: [] };
}

/** The ImageUpdateAutomation kind. */
export const imageUpdateAutomationKind: KindReconciler = {
  ...imageUpdateAutomationDescriptor,
  reconcile: reconcileImageUpdateAutomation,
  finalize: finalizeImageUpdateAutomation,
  summary: (rec: ObjectRecord) => ({ revision: (rec.status.lastPushCommit as string | undefined) ?? (rec.status.observedSourceRevision as string | undefined) ?? '' }),
  sourceOf: (rec) => {
    try {
      const s = parseImageUpdateAutomation(rec.object!, rec.object?.metadata.namespace ?? 'default');
      return { kind: 'GitRepository', namespace: s.sourceRef.namespace, name: s.sourceRef.name };
    } catch {
      return undefined;
    }
  },
  validate: (obj) => void parseImageUpdateAutomation(obj, obj.metadata.namespace ?? 'default'),
};
