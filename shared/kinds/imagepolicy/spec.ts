/**
 * ImagePolicy (`image.toolkit.fluxcd.io/v1`) spec parsing with Flux's rules: a required
 * `imageRepositoryRef`, `policy` (semver, alphabetical, numerical: first one set wins),
 * `filterTags {pattern, extract}`, `digestReflectionPolicy` (Never default, IfNotPresent,
 * Always), and `interval` only with Always (required then: Stalled `IntervalNotConfigured`).
 */
import type { KubeObject } from '../../kube/object.js';
import { parseDuration } from '../../util/duration.js';
import { ValidationError } from '../../util/errors.js';
import { policyChoice, PolicyError, type PolicyChoice, type TagFilterSpec } from '../../images/policy.js';

/** Flux's default interval for digest refreshes with `Always`. */
export const DEFAULT_ALWAYS_INTERVAL_MS = 10 * 60_000;

/** A spec the policy cannot run with; `reason` is the Stalled reason. */
export class ImagePolicySpecError extends ValidationError {
  readonly reason: string;
  constructor(reason: string, message: string, opts: { hint?: string } = {}) {
    super(message, opts);
    this.reason = reason;
  }
}

/** A parsed ImagePolicy spec. */
export interface ImagePolicySpec {
  repository: { name: string; namespace: string };
  policy: PolicyChoice;
  filterTags?: TagFilterSpec;
  digestReflectionPolicy: 'Never' | 'IfNotPresent' | 'Always';
  /** Set only with Always. */
  intervalMs?: number;
  suspend: boolean;
}

/** Parses an ImagePolicy; throws ImagePolicySpecError or PolicyError (invalid). */
export function parseImagePolicy(obj: KubeObject, defaultNamespace: string): ImagePolicySpec {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  const ref = spec.imageRepositoryRef as { name?: unknown; namespace?: unknown } | undefined;
  if (!ref || typeof ref.name !== 'string' || !ref.name) {
    throw new ImagePolicySpecError('InvalidSpec', 'spec.imageRepositoryRef.name is required', { hint: 'name the ImageRepository whose tags this policy orders' });
  }
  if (spec.policy === undefined) throw new ImagePolicySpecError('InvalidSpec', 'spec.policy is required');
  let policy: PolicyChoice;
  try {
    policy = policyChoice(spec.policy);
  } catch (err) {
    if (err instanceof PolicyError) throw new ImagePolicySpecError('InvalidPolicy', err.message, { hint: err.hint });
    throw err;
  }
  const dr = spec.digestReflectionPolicy ?? 'Never';
  if (dr !== 'Never' && dr !== 'IfNotPresent' && dr !== 'Always') {
    throw new ImagePolicySpecError('InvalidSpec', `spec.digestReflectionPolicy: Unsupported value: ${JSON.stringify(dr)}: supported values: "Always", "IfNotPresent", "Never"`);
  }
  let intervalMs: number | undefined;
  if (spec.interval !== undefined) {
    if (dr !== 'Always') throw new ImagePolicySpecError('InvalidSpec', "spec.interval is only accepted when spec.digestReflectionPolicy is set to 'Always'");
    if (typeof spec.interval !== 'string' || !/^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/.test(spec.interval)) {
      throw new ImagePolicySpecError('InvalidSpec', `spec.interval must be a duration such as 10m, got ${JSON.stringify(spec.interval)}`);
    }
    intervalMs = parseDuration(spec.interval, 'spec.interval') || DEFAULT_ALWAYS_INTERVAL_MS;
  } else if (dr === 'Always') {
    throw new ImagePolicySpecError('IntervalNotConfigured', "spec.interval must be set when spec.digestReflectionPolicy is set to 'Always'");
  }
  let filterTags: TagFilterSpec | undefined;
  if (spec.filterTags !== undefined && spec.filterTags !== null) {
    const f = spec.filterTags as { pattern?: unknown; extract?: unknown };
    filterTags = { pattern: typeof f.pattern === 'string' ? f.pattern : '', extract: typeof f.extract === 'string' ? f.extract : '' };
  }
  return {
    repository: { name: ref.name, namespace: typeof ref.namespace === 'string' && ref.namespace ? ref.namespace : (obj.metadata.namespace ?? defaultNamespace) },
    policy,
    ...(filterTags ? { filterTags } : {}),
    digestReflectionPolicy: dr,
    ...(intervalMs !== undefined ? { intervalMs } : {}),
    suspend: spec.suspend === true,
  };
}
