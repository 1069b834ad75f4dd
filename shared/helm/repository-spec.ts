/**
 * The HelmRepository API (`source.toolkit.fluxcd.io/v1`, source-controller v1.9),
 * validated and typed with Flux's defaults.
 */
import { ValidationError } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { SpecError } from './errors.js';
import { keptMetadata, objectIdentity } from './release-spec.js';
import { DURATION_NO_HOURS_PATTERN, S, validate, type Schema } from './schema.js';
import { trimEnd } from '../util/trim.js';

export const SOURCE_API_VERSION = 'source.toolkit.fluxcd.io/v1';
/** API versions accepted for sources (v1beta2 is still served by Flux 2.9). */
export const SOURCE_API_VERSIONS = ['source.toolkit.fluxcd.io/v1', 'source.toolkit.fluxcd.io/v1beta2'] as const;

/** A validated HelmRepository spec. */
export interface HelmRepositorySpec {
  type: 'default' | 'oci';
  /** As written. */
  url: string;
  /** source-controller NormalizeURL: a trailing `/` for http(s), none for oci. */
  normalizedUrl: string;
  /** Secret with `username`/`password` (or, for oci, a dockerconfigjson). */
  secretRef?: { name: string };
  /** Secret with `ca.crt`, `tls.crt`, `tls.key`. */
  certSecretRef?: { name: string };
  passCredentials: boolean;
  /** As written ('' when unset); `intervalMs` defaults to 1m (GetRequeueAfter). */
  interval: string;
  intervalMs: number;
  /** Default 60s. */
  timeoutMs: number;
  /** oci only: plain HTTP registry. */
  insecure: boolean;
  suspend: boolean;
  /** oci only; default generic. */
  provider: 'generic' | 'aws';
}

/** A validated HelmRepository. */
export interface HelmRepository {
  apiVersion: string;
  kind: 'HelmRepository';
  metadata: { name: string; namespace: string; generation?: number; uid?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: HelmRepositorySpec;
}

/** The CRD rules of HelmRepository `spec`. */
export const HELMREPOSITORY_SPEC_SCHEMA: Schema = S.obj(
  {
    url: S.str({ pattern: /^(http|https|oci):\/\/.*$/ }),
    secretRef: S.obj({ name: S.str() }, ['name']),
    certSecretRef: S.obj({ name: S.str() }, ['name']),
    passCredentials: S.bool(),
    interval: S.duration(),
    insecure: S.bool(),
    timeout: { t: 'string', pattern: DURATION_NO_HOURS_PATTERN },
    suspend: S.bool(),
    type: S.enumOf('default', 'oci'),
    provider: S.enumOf('generic', 'aws', 'azure', 'gcp'),
  },
  ['url'],
  {
    accessFrom: 'spec.accessFrom is not implemented (by Flux either: it is provisional); remove it',
  },
);

/** source-controller repository.NormalizeURL. */
export function normalizeRepositoryUrl(url: string): string {
  if (!url) return '';
  const u = new URL(url);
  if (u.protocol === 'oci:') {
    // WHATWG URL keeps oci: paths opaque; trim trailing slashes on the string.
    return trimEnd(url, '/');
  }
  u.pathname = trimEnd(u.pathname, '/') + '/';
  return u.toString();
}

/**
 * Validates a HelmRepository and returns it typed. Throws ValidationError (CRD rules) or
 * SpecError with reason `URLInvalid` (an `oci://` URL with type default, or the reverse),
 * as source-controller stalls such objects.
 */
export function parseHelmRepository(o: unknown, opts: { defaultNamespace?: string } = {}): HelmRepository {
  const { raw, name, namespace, id, meta } = objectIdentity(o, 'HelmRepository', SOURCE_API_VERSIONS, opts.defaultNamespace);
  if (raw.spec === undefined || raw.spec === null) throw new ValidationError(`${id}: spec: Required value`);
  const problems = validate(HELMREPOSITORY_SPEC_SCHEMA, raw.spec, 'spec');
  if (problems.length) {
    const lines = problems.map((p) => `${p.path}: ${p.message}`);
    throw new ValidationError(`${id}: ${lines.length === 1 ? lines[0] : `invalid spec:\n  ${lines.join('\n  ')}`}`);
  }
  const spec = raw.spec as Record<string, unknown>;
  const type = (spec.type as 'default' | 'oci' | undefined) ?? 'default';
  const url = spec.url as string;
  const isOci = /^oci:\/\//.test(url);
  if (type === 'default' && isOci) {
    throw new SpecError(`${id}: invalid Helm repository URL: 'oci' URL scheme cannot be used with 'default' HelmRepository type`, 'URLInvalid', {
      hint: "set spec.type: oci, or use the repository's http(s) URL",
    });
  }
  if (type === 'oci' && !isOci) {
    throw new SpecError(`${id}: invalid OCI registry URL '${url}': spec.type is 'oci', so spec.url must start with oci://`, 'URLInvalid');
  }
  let normalizedUrl: string;
  try {
    normalizedUrl = normalizeRepositoryUrl(url);
    if (!isOci && !new URL(url).host) throw new Error('missing host');
  } catch (err) {
    throw new SpecError(`${id}: invalid Helm repository URL: ${err instanceof Error ? err.message : String(err)}`, 'URLInvalid');
  }
  const provider = (spec.provider as string | undefined) ?? 'generic';
  if (type === 'oci' && (provider === 'azure' || provider === 'gcp')) {
    throw new ValidationError(`${id}: spec.provider '${provider}' is not supported by Fluxless: only 'generic' (spec.secretRef) and 'aws' (ECR) are`);
  }
  const interval = typeof spec.interval === 'string' ? spec.interval : '';
  const intervalMs = interval ? parseDuration(interval, 'spec.interval') : 60_000;
  return {
    apiVersion: raw.apiVersion as string,
    kind: 'HelmRepository',
    metadata: keptMetadata(meta, name, namespace),
    spec: {
      type,
      url,
      normalizedUrl,
      ...(spec.secretRef ? { secretRef: { name: (spec.secretRef as { name: string }).name } } : {}),
      ...(spec.certSecretRef ? { certSecretRef: { name: (spec.certSecretRef as { name: string }).name } } : {}),
      passCredentials: spec.passCredentials === true,
      interval,
      intervalMs: intervalMs > 0 ? intervalMs : 60_000,
      timeoutMs: typeof spec.timeout === 'string' && spec.timeout ? parseDuration(spec.timeout, 'spec.timeout') : 60_000,
      insecure: spec.insecure === true,
      suspend: spec.suspend === true,
      provider: type === 'oci' && provider === 'aws' ? 'aws' : 'generic',
    },
  };
}
