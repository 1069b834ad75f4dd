/**
 * The ImagePolicy reconciler (`image.toolkit.fluxcd.io/v1`), as image-reflector-controller:
 * read the referenced ImageRepository (registering as its user first, so its next scan wakes
 * us), check cross-namespace access (`accessFrom`), order the stored tags with the policy and
 * `filterTags`, reflect the digest (`digestReflectionPolicy`, one HEAD over the registry API
 * with the repository's credentials), and write `latestRef` / `observedPreviousRef`. When
 * the latest image changed, wake the ImageUpdateAutomations of the namespace whose
 * `policySelector` selects this policy.
 */
import type { KindReconciler, ReconcileRequest, ReconcileResult, ReconcileServices, Wake } from '../../reconcile/contract.js';
import { imagePolicyDescriptor } from './descriptor.js';
import { transientCause } from '../../reconcile/failure.js';
import { liveMembers, registerMember } from '../../reconcile/reverse-index.js';
import { writeStatus, type StatusUpdate } from '../../reconcile/status.js';
import { RegistryUnreachableError } from '../../oci/errors.js';
import { getCondition, isReady, readRecord, type ObjectRecord } from '../../state/records.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { compilePolicy, compileTagFilter, latestTag, PolicyError } from '../../images/policy.js';
import { imageRegistryClient } from '../../images/registry-auth.js';
import { readTags } from '../../images/tags.js';
import { automationsTarget } from '../../images/index-targets.js';
import { compileLabelSelector } from '../../images/label-selector.js';
import { imageRefString, type ImageRef } from '../../images/setters.js';
import type { ObjectKey } from '../../kube/object.js';
import { parseImageRepository, ImageRepositorySpecError, type ImageRepositorySpec, type NamespaceSelector } from '../imagerepository/spec.js';
import { ImagePolicySpecError, parseImagePolicy, type ImagePolicySpec } from './spec.js';

/** Flux's --requeue-dependency default. */
const DEPENDENCY_RETRY_MS = 30_000;

/** A failure with Flux's reason, whether it is Stalled, and when to retry. */
class PolicyFailure extends FluxlessError {
  constructor(
    readonly reason: string,
    message: string,
    readonly opts: { stalled?: boolean; retryMs?: number; cause?: unknown } = {},
  ) {
    super(reason, message, { cause: opts.cause });
  }
}

/** Flux's Ready message for a resolved policy. */
export function readyMessage(latest: ImageRef, previous: ImageRef | undefined): string {
  let msg = `Latest image tag for ${latest.name} resolved to ${latest.tag}`;
  if (latest.digest) msg += ` with digest ${latest.digest}`;
  if (previous && !sameRef(previous, latest)) msg += ` (previously ${previous.name}:${previous.tag}${previous.digest ? `@${previous.digest}` : ''})`;
  return msg;
}

function sameRef(a: ImageRef | undefined, b: ImageRef | undefined): boolean {
  return a?.name === b?.name && a?.tag === b?.tag && (a?.digest ?? '') === (b?.digest ?? '');
}

async function namespaceLabels(svc: ReconcileServices, ns: string): Promise<Record<string, string>> {
  const obj = await svc.client.request<{ metadata?: { labels?: Record<string, string> } }>('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}`);
  return obj.metadata?.labels ?? {};
}

/** fluxcd/pkg acl HasAccessToRef: same namespace, or a namespace selector of `accessFrom` matches. */
async function checkAccess(svc: ReconcileServices, policyNs: string, repo: ObjectKey, accessFrom: { namespaceSelectors: NamespaceSelector[] } | undefined): Promise<void> {
  if (repo.namespace === policyNs) return;
  const ref = `${repo.namespace}/${repo.name}`;
  if (!accessFrom) {
    throw new PolicyFailure('AccessDenied', `failed to get the referred ImageRepository: access denied: '${ref}' can't be accessed due to missing ACL labels on 'accessFrom'`, {
      retryMs: DEPENDENCY_RETRY_MS,
    });
  }
  const labels = await namespaceLabels(svc, policyNs);
  for (const sel of accessFrom.namespaceSelectors) {
    if (compileLabelSelector({ matchLabels: sel.matchLabels ?? {} }).matches(labels)) return;
  }
  throw new PolicyFailure('AccessDenied', `failed to get the referred ImageRepository: access denied: '${ref}' can't be accessed due to ACL labels mismatch on namespace '${policyNs}'`, {
    retryMs: DEPENDENCY_RETRY_MS,
  });
}

/** The automations that registered for the namespace and select this policy. */
async function automationsFor(svc: ReconcileServices, key: ObjectKey, labels: Record<string, string> | undefined, ref: ImageRef): Promise<Wake[]> {
  const live = await liveMembers(svc.state, 'SourceUsersIndex', automationsTarget(key.namespace), (rec, m) => {
    if (rec.object?.kind !== 'ImageUpdateAutomation' || m.namespace !== key.namespace) return false;
    try {
      return compileLabelSelector((rec.object.spec as { policySelector?: unknown } | undefined)?.policySelector).matches(labels);
    } catch {
      return true; // a selector that does not parse: let the automation report it
    }
  });
  return live.map(({ key: k }) => ({ key: k, reason: 'dependency', dedupKey: `imagepolicy-${key.name}-${imageRefString(ref)}` }));
}

async function resolveDigest(svc: ReconcileServices, repoKey: ObjectKey, repo: ImageRepositorySpec, tag: string, signal: AbortSignal | undefined): Promise<string> {
  const ref = `${repo.image}:${tag}`;
  const timeout = AbortSignal.timeout(repo.timeoutMs);
  const s = signal ? AbortSignal.any([signal, timeout]) : timeout;
  try {
    const client = await imageRegistryClient(svc, { namespace: repoKey.namespace, ...repo }, { signal: s });
    const desc = await client.headManifest({ ...repo.repository, tag }, { signal: s });
    return desc.digest;
  } catch (err) {
    const t = transientCause(err);
    if (t && !(t instanceof RegistryUnreachableError)) throw err;
    throw new PolicyFailure('Failure', `failed fetching digest of ${ref}: failed fetching descriptor for "${ref}": ${errorMessage(err)}`, { cause: err, retryMs: DEPENDENCY_RETRY_MS });
  }
}

/** Reconciles one ImagePolicy. */
export async function reconcileImagePolicy(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  const { key, record: rec } = req;
  const handledRequest = rec.requestedAt;
  const prevLatest = rec.status.latestRef as ImageRef | undefined;
  const write = (u: Omit<StatusUpdate, 'handledRequest'>) => writeStatus(svc.state, key, { ...u, handledRequest }, svc.now());

  let spec: ImagePolicySpec;
  try {
    spec = parseImagePolicy(rec.object!, key.namespace);
  } catch (err) {
    const reason = err instanceof ImagePolicySpecError ? err.reason : 'InvalidSpec';
    const message = errorMessage(err);
    await write({ ready: false, reason, message, stalled: true, event: { severity: 'error', reason, message } });
    return { ready: false, reason, message, wake: [] };
  }
  if (spec.suspend || rec.suspended) return { ready: isReady(rec), reason: 'Suspended', message: 'ImagePolicy is suspended', wake: [] };

  const repoKey: ObjectKey = { kind: 'ImageRepository', namespace: spec.repository.namespace, name: spec.repository.name };
  try {
    // Register before reading: either we see the repository's new scan, or it sees us.
    await registerMember(svc.state, 'SourceUsersIndex', repoKey, key);
    const repoRec = await readRecord(svc.state, repoKey);
    if (!repoRec?.object || repoRec.deleted) {
      throw new PolicyFailure(
        'DependencyNotReady',
        `failed to get the referred ImageRepository: referenced ImageRepository does not exist: imagerepositories.image.toolkit.fluxcd.io "${repoKey.name}" not found`,
        { retryMs: DEPENDENCY_RETRY_MS },
      );
    }
    let repo: ImageRepositorySpec;
    try {
      repo = parseImageRepository(repoRec.object);
    } catch (err) {
      if (err instanceof ImageRepositorySpecError && err.reason === 'ImageURLInvalid') throw new PolicyFailure('ImageURLInvalid', err.message, { stalled: true });
      throw new PolicyFailure('DependencyNotReady', `the referred ImageRepository ${repoKey.namespace}/${repoKey.name} is invalid: ${errorMessage(err)}`, { retryMs: DEPENDENCY_RETRY_MS });
    }
    await checkAccess(svc, key.namespace, repoKey, repo.accessFrom);

    let policer;
    let filter;
    try {
      policer = compilePolicy(spec.policy);
      filter = spec.filterTags ? compileTagFilter(spec.filterTags) : undefined;
    } catch (err) {
      throw new PolicyFailure('InvalidPolicy', errorMessage(err), { stalled: true });
    }
    const stored = await readTags(svc.state, repoKey);
    const canonical = (repoRec.status as { canonicalImageName?: string }).canonicalImageName;
    if (!stored || stored.tags.length === 0 || stored.canonicalImageName !== repo.canonicalImageName || (canonical && canonical !== stored.canonicalImageName)) {
      throw new PolicyFailure('DependencyNotReady', `retrying in ${DEPENDENCY_RETRY_MS / 1000}s error: no tags in database`, { retryMs: DEPENDENCY_RETRY_MS });
    }
    let tag: string;
    try {
      tag = latestTag(stored.tags, policer, filter);
    } catch (err) {
      if (err instanceof PolicyError) throw new PolicyFailure(err.invalid ? 'InvalidPolicy' : 'Failure', err.message, { stalled: err.invalid });
      throw err;
    }

    const latest: ImageRef = { name: repo.image, tag };
    const dr = spec.digestReflectionPolicy;
    if (dr === 'IfNotPresent' && prevLatest && prevLatest.name === latest.name && prevLatest.tag === latest.tag && prevLatest.digest) latest.digest = prevLatest.digest;
    else if (dr === 'IfNotPresent' || dr === 'Always') latest.digest = await resolveDigest(svc, repoKey, repo, tag, req.signal);

    const changed = !sameRef(prevLatest, latest);
    const observedPreviousRef = changed ? prevLatest : (rec.status.observedPreviousRef as ImageRef | undefined);
    const message = readyMessage(latest, observedPreviousRef);
    const before = getCondition(rec, 'Ready');
    const event = before?.status !== 'True' || before.message !== message ? { severity: 'info' as const, reason: 'Succeeded', message } : undefined;
    await write({
      ready: true,
      reason: 'Succeeded',
      message,
      fields: { latestRef: latest, ...(changed ? { observedPreviousRef: prevLatest } : {}) },
      ...(spec.intervalMs !== undefined ? { nextRunMs: spec.intervalMs } : {}),
      ...(event ? { event } : {}),
    });
    req.log.info('image policy resolved', { latest: imageRefString(latest), changed });
    const wake = changed ? await automationsFor(svc, key, rec.object!.metadata.labels, latest) : [];
    return { ready: true, reason: 'Succeeded', message, revision: imageRefString(latest), wake };
  } catch (err) {
    const f = err instanceof PolicyFailure ? err : undefined;
    const reason = f?.reason ?? 'Failure';
    const message = errorMessage(err);
    const retryMs = f?.opts.retryMs ?? (f ? undefined : DEPENDENCY_RETRY_MS);
    await write({
      ready: false,
      reason,
      message,
      stalled: f?.opts.stalled ?? false,
      ...(retryMs !== undefined ? { nextRunMs: retryMs } : {}),
      event: { severity: 'error', reason, message },
    });
    req.log.warn('image policy failed', { reason, error: message });
    return { ready: false, reason, message, wake: [], transientError: f ? undefined : transientCause(err) };
  }
}

/** An ImagePolicy removed from Git: only its record goes (it owns nothing else). */
export async function finalizeImagePolicy(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult> {
  await svc.state.delete(req.key);
  return { ready: false, reason: 'Finalized', message: 'ImagePolicy deleted', wake: [] };
}

/** The ImagePolicy kind. */
export const imagePolicyKind: KindReconciler = {
  ...imagePolicyDescriptor,
  reconcile: reconcileImagePolicy,
  finalize: finalizeImagePolicy,
  summary: (rec: ObjectRecord) => {
    const r = rec.status.latestRef as ImageRef | undefined;
    return { revision: r ? imageRefString(r) : '' };
  },
  sourceOf: (rec) => {
    try {
      const s = parseImagePolicy(rec.object!, rec.object?.metadata.namespace ?? 'default');
      return { kind: 'ImageRepository', namespace: s.repository.namespace, name: s.repository.name };
    } catch {
      return undefined;
    }
  },
  validate: (obj) => void parseImagePolicy(obj, obj.metadata.namespace ?? 'default'),
};
