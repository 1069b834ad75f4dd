/**
 * OCIRepository (`source.toolkit.fluxcd.io/v1`, Flux 2.9) validation. Pure: no I/O.
 * Messages and Stalled reasons follow source-controller where it has them
 * (`URL validation failed for '<url>': ...` -> `URLInvalid`); fields Fluxless does not
 * implement are rejected, never ignored: `verify.provider: notation`, `serviceAccountName`,
 * `proxySecretRef`, providers `azure` and `gcp`. `verify` with `cosign` (keys or keyless) is
 * checked here and carried out by cosign/ before anything is pulled.
 */
import { parseDuration } from '../util/duration.js';
import { OciSpecError } from './errors.js';
import { HELM_CHART_CONTENT } from './media-types.js';
import type { RepositoryName } from './reference.js';
import { parseOciUrl } from './url.js';
import { GoRegexp } from '../util/go-regexp.js';
import { parseConstraint } from './version.js';

export { parseOciUrl };

/** API versions we read (v1beta2 has the same spec). */
export const OCI_REPOSITORY_API_VERSIONS = ['source.toolkit.fluxcd.io/v1', 'source.toolkit.fluxcd.io/v1beta2'] as const;
/** Flux's default `spec.timeout`. */
export const DEFAULT_OCI_TIMEOUT = '60s';

/** The one reference an OCIRepository follows, after Flux's precedence (digest > semver > tag > `latest`). */
export type OciRef =
  | { kind: 'digest'; digest: string }
  /** `semverFilter` is a Go regexp over the tags, only used with semver. */
  | { kind: 'semver'; semver: string; semverFilter?: string }
  | { kind: 'tag'; tag: string };

/** `spec.layerSelector` as written (compared with `status.observedLayerSelector`). */
export interface OciLayerSelector {
  mediaType?: string;
  operation?: 'extract' | 'copy';
}

/** A validated OCIRepository spec. */
export interface OciRepositorySpec {
  /** `oci://host/path`, as written. */
  url: string;
  /** The repository the URL names. */
  repository: RepositoryName;
  ref: OciRef;
  layerSelector?: OciLayerSelector;
  provider: 'generic' | 'aws';
  /** dockerconfigjson pull Secret (namespace = the object's). */
  secretRef?: { name: string };
  /** TLS Secret: `ca.crt`, `tls.crt` + `tls.key`. */
  certSecretRef?: { name: string };
  interval: string;
  intervalMs: number;
  timeout: string;
  timeoutMs: number;
  /** `.sourceignore` patterns replacing the defaults (extract only); undefined = not set. */
  ignore?: string;
  insecure: boolean;
  suspend: boolean;
  /** `spec.verify`: the signatures that must be found before the artifact is pulled. */
  verify?: OciVerification;
}

/** One `spec.verify.matchOIDCIdentity` entry: Go regexps over the Fulcio certificate's issuer and subject. */
export interface OidcIdentityMatch {
  issuer: string;
  subject: string;
}

/** `spec.verify` with provider cosign (the only provider Fluxless implements). */
export interface OciVerification {
  provider: 'cosign';
  /** Secret whose `*.pub` keys are trusted; unset = keyless. */
  secretRef?: { name: string };
  /** Keyless: the identities accepted (any one); empty = any Fulcio identity, as cosign. */
  matchOIDCIdentity: OidcIdentityMatch[];
  /** Secret with `trusted_root.json` (self-hosted Sigstore); unset = the public Sigstore root. */
  trustedRootSecretRef?: { name: string };
}

/** A validated OCIRepository object. */
export interface OciRepository {
  apiVersion: string;
  kind: 'OCIRepository';
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: OciRepositorySpec;
}

const INTERVAL_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const TIMEOUT_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;
const SPEC_FIELDS = new Set(['url', 'ref', 'layerSelector', 'provider', 'secretRef', 'certSecretRef', 'interval', 'timeout', 'ignore', 'insecure', 'suspend', 'verify']);
const VERIFY_FIELDS = new Set(['provider', 'secretRef', 'matchOIDCIdentity', 'trustedRootSecretRef']);
const UNSUPPORTED: Record<string, { reason: string; message: string }> = {
  serviceAccountName: {
    reason: 'UnsupportedField',
    message: 'spec.serviceAccountName is not supported by Fluxless yet (no ServiceAccount pull secrets or object-level workload identity); use spec.secretRef with a kubernetes.io/dockerconfigjson Secret, or provider aws with the function role',
  },
  proxySecretRef: {
    reason: 'UnsupportedField',
    message: 'spec.proxySecretRef is not supported by Fluxless yet: registries are reached directly; remove it',
  },
};
const REF_FIELDS = new Set(['digest', 'semver', 'semverFilter', 'tag']);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmpty(v: unknown): boolean {
  return v === undefined || v === null || v === '' || (isObject(v) && Object.keys(v).length === 0);
}

/**
 * Validates and normalises an OCIRepository manifest (already parsed from YAML/JSON).
 * Throws OciSpecError naming the object and the field; `reason` is the Stalled reason.
 */
export function parseOciRepository(obj: unknown, opts: { defaultNamespace?: string } = {}): OciRepository {
  if (!isObject(obj)) throw new OciSpecError('InvalidSpec', 'OCIRepository: expected an object');
  const meta = isObject(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : (opts.defaultNamespace ?? 'default');
  const id = `OCIRepository ${namespace}/${name || '<unnamed>'}`;
  const fail = (msg: string, reason = 'InvalidSpec', hint?: string): never => {
    throw new OciSpecError(reason, `${id}: ${msg}`, hint ? { hint } : undefined);
  };

  if (obj.kind !== 'OCIRepository') fail(`kind is '${String(obj.kind)}', expected OCIRepository`);
  if (typeof obj.apiVersion !== 'string' || !(OCI_REPOSITORY_API_VERSIONS as readonly string[]).includes(obj.apiVersion)) {
    fail(`apiVersion '${String(obj.apiVersion)}' is not supported: use source.toolkit.fluxcd.io/v1`);
  }
  if (!name) fail('metadata.name is required');
  if (!isObject(obj.spec)) fail('spec is required');
  const spec = obj.spec as Record<string, unknown>;

  for (const [key, value] of Object.entries(spec)) {
    const u = UNSUPPORTED[key];
    if (u) {
      if (!isEmpty(value)) fail(u.message, u.reason);
      continue;
    }
    if (!SPEC_FIELDS.has(key)) fail(`spec.${key} is not an OCIRepository field (check the spelling)`);
  }

  // provider
  const provider = spec.provider === undefined || spec.provider === null || spec.provider === '' ? 'generic' : spec.provider;
  if (provider === 'azure' || provider === 'gcp') {
    fail(`spec.provider '${provider}' is not supported by Fluxless yet: use 'aws' (ECR with the function role) or 'generic' with spec.secretRef`, 'UnsupportedField');
  }
  if (provider !== 'generic' && provider !== 'aws') fail(`spec.provider '${String(provider)}' is not one of generic, aws, azure, gcp`);

  // url
  if (typeof spec.url !== 'string' || !spec.url) fail('spec.url is required (oci://<domain>/<org>/<repo>)');
  let repository: RepositoryName;
  try {
    repository = parseOciUrl(spec.url as string);
  } catch (err) {
    if (err instanceof OciSpecError) throw new OciSpecError(err.reason, `${id}: ${err.message}`);
    throw err;
  }

  // ref
  if (spec.ref !== undefined && spec.ref !== null && !isObject(spec.ref)) fail('spec.ref must be an object');
  const r = (spec.ref ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(r)) {
    if (!REF_FIELDS.has(key)) fail(`spec.ref.${key} is not an OCIRepository ref field (use digest, semver, semverFilter or tag)`);
    if (value !== undefined && value !== null && typeof value !== 'string') fail(`spec.ref.${key} must be a string`);
  }
  const str = (k: string) => (typeof r[k] === 'string' && r[k] ? (r[k] as string) : undefined);
  const layerSelector = parseLayerSelector(spec.layerSelector, fail);
  let ref: OciRef;
  const digest = str('digest');
  const semverRange = str('semver');
  const tag = str('tag');
  if (digest) {
    if (!/^sha256:[a-f0-9]{64}$/.test(digest)) fail(`spec.ref.digest '${digest}' must be 'sha256:' followed by 64 lowercase hex digits`);
    ref = { kind: 'digest', digest };
  } else if (semverRange) {
    try {
      parseConstraint(semverRange);
    } catch (err) {
      fail(`spec.ref.semver: semver '${semverRange}' parse error: ${(err as Error).message}`);
    }
    const filter = str('semverFilter');
    if (filter) {
      try {
        GoRegexp.compile(filter);
      } catch (err) {
        fail(`spec.ref.semverFilter '${filter}' is not a valid regular expression: ${(err as Error).message}`);
      }
    }
    ref = { kind: 'semver', semver: semverRange, ...(filter ? { semverFilter: filter } : {}) };
  } else if (tag) {
    if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/.test(tag)) fail(`spec.ref.tag '${tag}' is not a valid tag (letters, digits, '_', '.', '-', at most 128, not starting with '.' or '-')`);
    ref = { kind: 'tag', tag };
  } else {
    ref = { kind: 'tag', tag: 'latest' };
  }

  const secretRef = parseLocalRef(spec.secretRef, 'spec.secretRef', fail);
  const verify = parseVerification(spec.verify, 'spec.verify', fail);
  const certSecretRef = parseLocalRef(spec.certSecretRef, 'spec.certSecretRef', fail);

  // interval, timeout
  if (typeof spec.interval !== 'string' || !spec.interval) fail('spec.interval is required (e.g. 5m)');
  const interval = spec.interval as string;
  if (!INTERVAL_RE.test(interval)) fail(`spec.interval '${interval}' is not a duration like 30s, 5m or 1h`);
  const intervalMs = parseDuration(interval, 'spec.interval');
  if (intervalMs <= 0) fail('spec.interval must be greater than zero');
  const timeout = spec.timeout === undefined || spec.timeout === null || spec.timeout === '' ? DEFAULT_OCI_TIMEOUT : spec.timeout;
  if (typeof timeout !== 'string' || !TIMEOUT_RE.test(timeout)) fail(`spec.timeout '${String(timeout)}' is not a duration like 500ms, 60s or 2m`);
  const timeoutMs = parseDuration(timeout as string, 'spec.timeout');
  if (timeoutMs <= 0) fail('spec.timeout must be greater than zero');

  if (spec.ignore !== undefined && spec.ignore !== null && typeof spec.ignore !== 'string') fail('spec.ignore must be a string (one pattern per line)');
  if (spec.insecure !== undefined && spec.insecure !== null && typeof spec.insecure !== 'boolean') fail('spec.insecure must be a boolean');
  if (spec.suspend !== undefined && spec.suspend !== null && typeof spec.suspend !== 'boolean') fail('spec.suspend must be a boolean');

  const labels = isObject(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const annotations = isObject(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
  return {
    apiVersion: obj.apiVersion as string,
    kind: 'OCIRepository',
    metadata: {
      name,
      namespace,
      ...(typeof meta.generation === 'number' ? { generation: meta.generation } : {}),
      ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
      ...(labels ? { labels } : {}),
      ...(annotations ? { annotations } : {}),
    },
    spec: {
      url: spec.url as string,
      repository: repository!,
      ref,
      ...(layerSelector ? { layerSelector } : {}),
      provider: provider as 'generic' | 'aws',
      ...(secretRef ? { secretRef } : {}),
      ...(certSecretRef ? { certSecretRef } : {}),
      interval,
      intervalMs,
      timeout: timeout as string,
      timeoutMs,
      ...(typeof spec.ignore === 'string' ? { ignore: spec.ignore } : {}),
      insecure: spec.insecure === true,
      suspend: spec.suspend === true,
      ...(verify ? { verify } : {}),
    },
  };
}

/**
 * `spec.verify` (OCIRepository, and HelmChart for OCI charts): provider `cosign` (default),
 * `secretRef` with `*.pub` keys, or keyless with `matchOIDCIdentity` (Go regexps, checked
 * here) and an optional `trustedRootSecretRef`. `notation` is refused: Fluxless does not
 * verify Notation signatures, and an object is never reported verified when it was not.
 */
export function parseVerification(v: unknown, field: string, fail: (msg: string, reason?: string) => never, opts: { trustedRoot?: boolean } = {}): OciVerification | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return fail(`${field} must be an object`);
  for (const k of Object.keys(v)) {
    if (!VERIFY_FIELDS.has(k) || (k === 'trustedRootSecretRef' && opts.trustedRoot === false)) fail(`${field}.${k} is not a verify field (use provider, secretRef, matchOIDCIdentity${opts.trustedRoot === false ? '' : ', trustedRootSecretRef'})`);
  }
  const provider = v.provider === undefined || v.provider === null || v.provider === '' ? 'cosign' : v.provider;
  if (provider === 'notation') {
    fail(
      `${field}.provider 'notation' is not supported by Fluxless yet: Notation signatures would not be verified, so the object is not reconciled rather than reported verified; sign with cosign and use provider cosign, or remove ${field}`,
      'VerificationError',
    );
  }
  if (provider !== 'cosign') fail(`${field}.provider '${String(provider)}' is not one of cosign, notation`);
  const secretRef = parseLocalRef(v.secretRef, `${field}.secretRef`, fail);
  const trustedRootSecretRef = parseLocalRef(v.trustedRootSecretRef, `${field}.trustedRootSecretRef`, fail);
  const matchOIDCIdentity: OidcIdentityMatch[] = [];
  if (v.matchOIDCIdentity !== undefined && v.matchOIDCIdentity !== null) {
    if (!Array.isArray(v.matchOIDCIdentity)) fail(`${field}.matchOIDCIdentity must be a list of {issuer, subject}`);
    (v.matchOIDCIdentity as unknown[]).forEach((m, i) => {
      const at = `${field}.matchOIDCIdentity[${i}]`;
      if (!isObject(m)) fail(`${at} must be an object with issuer and subject`);
      const entry = m as Record<string, unknown>;
      for (const k of Object.keys(entry)) if (k !== 'issuer' && k !== 'subject') fail(`${at}.${k} is not a field (use issuer, subject)`);
      for (const k of ['issuer', 'subject'] as const) {
        if (typeof entry[k] !== 'string' || !entry[k]) fail(`${at}.${k} is required (a Go regular expression)`);
        try {
          GoRegexp.compile(entry[k] as string);
        } catch (err) {
          fail(`${at}.${k} '${String(entry[k])}' is not a valid regular expression: ${(err as Error).message}`);
        }
      }
      matchOIDCIdentity.push({ issuer: entry.issuer as string, subject: entry.subject as string });
    });
  }
  return { provider: 'cosign', ...(secretRef ? { secretRef } : {}), matchOIDCIdentity, ...(trustedRootSecretRef ? { trustedRootSecretRef } : {}) };
}

function parseLocalRef(v: unknown, field: string, fail: (msg: string, reason?: string) => never): { name: string } | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v) || typeof v.name !== 'string' || !v.name) return fail(`${field}.name is required when ${field} is set`);
  for (const k of Object.keys(v)) if (k !== 'name') fail(`${field}.${k} is not a field of a local object reference (only name)`);
  return { name: v.name as string };
}

function parseLayerSelector(v: unknown, fail: (msg: string) => never): OciLayerSelector | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) return fail('spec.layerSelector must be an object');
  const out: OciLayerSelector = {};
  for (const [k, val] of Object.entries(v)) {
    if (k === 'mediaType') {
      if (val === undefined || val === null || val === '') continue;
      if (typeof val !== 'string') fail('spec.layerSelector.mediaType must be a string');
      out.mediaType = val as string;
    } else if (k === 'operation') {
      if (val === undefined || val === null || val === '') continue;
      if (val !== 'extract' && val !== 'copy') fail(`spec.layerSelector.operation '${String(val)}' must be 'extract' or 'copy'`);
      out.operation = val as 'extract' | 'copy';
    } else {
      fail(`spec.layerSelector.${k} is not a layerSelector field (use mediaType, operation)`);
    }
  }
  return out;
}

/** The layer operation in effect (Flux GetLayerOperation: default extract). */
export function layerOperation(sel: OciLayerSelector | undefined): 'extract' | 'copy' {
  return sel?.operation ?? 'extract';
}

/** Flux's layerSelectorEqual: both unset, or both set with equal fields. */
export function layerSelectorEqual(a: OciLayerSelector | undefined, b: OciLayerSelector | undefined): boolean {
  if ((a === undefined) !== (b === undefined)) return false;
  if (!a || !b) return true;
  return (a.mediaType ?? '') === (b.mediaType ?? '') && (a.operation ?? '') === (b.operation ?? '');
}

/** True when `_` in tags is read as `+` (the Helm chart layer type is selected). */
export function isHelmChartSelector(sel: OciLayerSelector | undefined): boolean {
  return sel?.mediaType === HELM_CHART_CONTENT;
}
