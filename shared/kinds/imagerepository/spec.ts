/**
 * ImageRepository (`image.toolkit.fluxcd.io/v1`) spec parsing with image-reflector-
 * controller's rules and messages: `image` without scheme or tag (Stalled `ImageURLInvalid`),
 * `interval` (required), `timeout` (default the interval, at least 1s), `exclusionList`
 * (default `^.*\.sig$`, at most 25; a non-empty list replaces the default), `provider`
 * (`generic`, `aws`; `azure` and `gcp` are refused by Fluxless), `secretRef`,
 * `certSecretRef`, `serviceAccountName`, `insecure`, `suspend`, `accessFrom`.
 */
import type { KubeObject } from '../../kube/object.js';
import { parseRepository, type RepositoryName } from '../../oci/reference.js';
import { parseDuration } from '../../util/duration.js';
import { ValidationError, errorMessage } from '../../util/errors.js';
import { canonicalName } from '../../images/match.js';

/** Flux's default exclusion list. */
export const DEFAULT_EXCLUSION_LIST: readonly string[] = ['^.*\\.sig$'];
const DURATION = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;

/** A spec Flux (or Fluxless) refuses; `reason` is the Stalled reason. */
export class ImageRepositorySpecError extends ValidationError {
  readonly reason: string;
  constructor(reason: string, message: string, opts: { hint?: string; cause?: unknown } = {}) {
    super(message, opts);
    this.reason = reason;
  }
}

/** `spec.accessFrom.namespaceSelectors[]`. */
export interface NamespaceSelector {
  matchLabels?: Record<string, string>;
}

/** A parsed ImageRepository spec. */
export interface ImageRepositorySpec {
  /** As written. */
  image: string;
  repository: RepositoryName;
  /** `index.docker.io/library/alpine` for `alpine`. */
  canonicalImageName: string;
  interval: string;
  intervalMs: number;
  timeoutMs: number;
  secretRef?: string;
  certSecretRef?: string;
  serviceAccountName?: string;
  provider: 'generic' | 'aws';
  exclusionList: string[];
  insecure: boolean;
  suspend: boolean;
  accessFrom?: { namespaceSelectors: NamespaceSelector[] };
}

function refName(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  const name = (v as { name?: unknown }).name;
  if (typeof name !== 'string' || !name) throw new ImageRepositorySpecError('InvalidSpec', `${field}.name is required`);
  return name;
}

/** registry.ParseImageReference: no scheme, no tag; returns the repository. */
export function parseImageName(image: string): RepositoryName {
  const scheme = image.split('://');
  if (scheme.length > 1) {
    throw new ImageRepositorySpecError('ImageURLInvalid', `image '${image}' should not include URL scheme; remove '${scheme[0]}://'`);
  }
  let rest = image;
  const slash = image.indexOf('/');
  const first = slash < 0 ? '' : image.slice(0, slash);
  if (first && (first === 'localhost' || /[.:]/.test(first))) rest = image.slice(slash);
  const parts = rest.split(':');
  if (parts.length > 1) throw new ImageRepositorySpecError('ImageURLInvalid', `image '${image}' should not include a tag; remove ':${parts[1]}'`);
  const at = rest.indexOf('@');
  if (at >= 0) throw new ImageRepositorySpecError('ImageURLInvalid', `image '${image}' should not include a digest; remove '${rest.slice(at)}'`);
  try {
    return parseRepository(image);
  } catch (err) {
    throw new ImageRepositorySpecError('ImageURLInvalid', `could not parse reference: ${image}: ${errorMessage(err)}`, { cause: err });
  }
}

function duration(v: unknown, field: string): { text: string; ms: number } {
  if (typeof v !== 'string' || !DURATION.test(v)) {
    throw new ImageRepositorySpecError('InvalidSpec', `${field} must be a duration such as 1m or 5m30s, got ${JSON.stringify(v ?? null)}`);
  }
  return { text: v, ms: parseDuration(v, field) };
}

/** Parses an ImageRepository; throws ImageRepositorySpecError with the Stalled reason. */
export function parseImageRepository(obj: KubeObject): ImageRepositorySpec {
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (typeof spec.image !== 'string' || spec.image === '') throw new ImageRepositorySpecError('InvalidSpec', 'spec.image is required', { hint: 'set spec.image to the repository to scan, e.g. ghcr.io/org/app' });
  const repository = parseImageName(spec.image);
  if (spec.interval === undefined) throw new ImageRepositorySpecError('InvalidSpec', 'spec.interval is required', { hint: 'set spec.interval, e.g. 5m' });
  const interval = duration(spec.interval, 'spec.interval');
  const timeoutMs = Math.max(1000, spec.timeout === undefined ? interval.ms : duration(spec.timeout, 'spec.timeout').ms);
  let exclusionList = [...DEFAULT_EXCLUSION_LIST];
  if (spec.exclusionList !== undefined && spec.exclusionList !== null) {
    if (!Array.isArray(spec.exclusionList) || !spec.exclusionList.every((e) => typeof e === 'string')) {
      throw new ImageRepositorySpecError('InvalidSpec', 'spec.exclusionList must be a list of regular expressions');
    }
    if (spec.exclusionList.length > 25) throw new ImageRepositorySpecError('InvalidSpec', `spec.exclusionList has ${spec.exclusionList.length} entries: at most 25 are allowed`);
    if (spec.exclusionList.length > 0) exclusionList = spec.exclusionList as string[];
  }
  const provider = spec.provider === undefined || spec.provider === '' ? 'generic' : spec.provider;
  if (provider === 'azure' || provider === 'gcp') {
    throw new ImageRepositorySpecError('UnsupportedField', `spec.provider '${provider}' is not supported by Fluxless (only 'generic' and 'aws')`, {
      hint: "use provider 'generic' with spec.secretRef (a pull Secret), or 'aws' for ECR",
    });
  }
  if (provider !== 'generic' && provider !== 'aws') {
    throw new ImageRepositorySpecError('InvalidSpec', `spec.provider: Unsupported value: ${JSON.stringify(provider)}: supported values: "generic", "aws", "azure", "gcp"`);
  }
  if (spec.proxySecretRef !== undefined) {
    throw new ImageRepositorySpecError('UnsupportedField', 'spec.proxySecretRef is not supported by Fluxless', { hint: 'remove spec.proxySecretRef: Fluxless reaches registries directly' });
  }
  const sa = spec.serviceAccountName;
  if (sa !== undefined && (typeof sa !== 'string' || sa.length > 253)) throw new ImageRepositorySpecError('InvalidSpec', 'spec.serviceAccountName must be a name of at most 253 characters');
  if (sa && provider !== 'generic') {
    throw new ImageRepositorySpecError('FeatureGateDisabled', 'to use spec.serviceAccountName for provider authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller', {
      hint: 'Fluxless authenticates to ECR with its own AWS role: remove spec.serviceAccountName',
    });
  }
  let accessFrom: ImageRepositorySpec['accessFrom'];
  if (spec.accessFrom !== undefined && spec.accessFrom !== null) {
    const sel = (spec.accessFrom as { namespaceSelectors?: unknown }).namespaceSelectors;
    if (!Array.isArray(sel)) throw new ImageRepositorySpecError('InvalidSpec', 'spec.accessFrom.namespaceSelectors is required');
    accessFrom = { namespaceSelectors: sel.map((s) => ({ matchLabels: ((s ?? {}) as NamespaceSelector).matchLabels ?? {} })) };
  }
  return {
    image: spec.image,
    repository,
    canonicalImageName: canonicalName(repository),
    interval: interval.text,
    intervalMs: interval.ms,
    timeoutMs,
    ...(refName(spec.secretRef, 'spec.secretRef') ? { secretRef: refName(spec.secretRef, 'spec.secretRef') } : {}),
    ...(refName(spec.certSecretRef, 'spec.certSecretRef') ? { certSecretRef: refName(spec.certSecretRef, 'spec.certSecretRef') } : {}),
    ...(typeof sa === 'string' && sa ? { serviceAccountName: sa } : {}),
    provider,
    exclusionList,
    insecure: spec.insecure === true,
    suspend: spec.suspend === true,
    ...(accessFrom ? { accessFrom } : {}),
  };
}
