/**
 * The Alert and Provider APIs (`notification.toolkit.fluxcd.io/v1beta3`), parsed and
 * validated as the CRD schema does (api/v1beta3/alert_types.go, provider_types.go,
 * api/v1/reference_types.go), with messages that name the field.
 */
import { CelExpressionError } from '../cel/errors.js';
import { cel } from '../cel/load.js';
import type { KubeObject } from '../kube/object.js';
import { parseDuration } from '../util/duration.js';
import { ValidationError } from '../util/errors.js';
import { EVENT_SOURCE_KINDS, THIRD_PARTY_EVENT_SOURCE_KINDS } from './event.js';

/** The group of Alert and Provider. */
export const NOTIFICATION_GROUP = 'notification.toolkit.fluxcd.io';
/** The API version Flux 2.9 serves for both. */
export const NOTIFICATION_API_VERSION = `${NOTIFICATION_GROUP}/v1beta3`;

/** Provider types Fluxless sends to. */
export const SUPPORTED_PROVIDER_TYPES = [
  'generic',
  'generic-hmac',
  'slack',
  'msteams',
  'discord',
  'googlechat',
  'telegram',
  'github',
  'gitlab',
  'gitea',
  'bitbucket',
  'githubpullrequestcomment',
  'alertmanager',
  'rocket',
  'grafana',
  'opsgenie',
  'webex',
  'matrix',
  'githubdispatch',
  'gitlabmergerequestcomment',
  'giteapullrequestcomment',
  'pagerduty',
  'lark',
  'zulip',
  'bitbucketserver',
  'datadog',
] as const;
/** A supported `spec.type`. */
export type ProviderType = (typeof SUPPORTED_PROVIDER_TYPES)[number];

/** Flux's other provider types: valid in Flux, refused here with a clear message. */
const OTHER_FLUX_TYPES = [
  'azuredevops', 'googlepubsub', 'sentry', 'azureeventhub',
  'nats', 'otel',
];

/** Commit-status provider types (provider_commit_status.go; the ones Fluxless sends to). */
export const COMMIT_STATUS_TYPES: readonly string[] = ['github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops'];
/** Change-request comment provider types (provider_change_request.go). */
export const CHANGE_REQUEST_TYPES: readonly string[] = ['githubpullrequestcomment', 'gitlabmergerequestcomment', 'giteapullrequestcomment'];
/** The variables of `spec.commitStatusExpr`. */
export const COMMIT_STATUS_VARIABLES = ['event', 'alert', 'provider'] as const;

/** Provider `timeout` default (Provider.GetTimeout). */
export const DEFAULT_PROVIDER_TIMEOUT_MS = 15_000;

/** One `spec.eventSources[]` entry (CrossNamespaceObjectReference). */
export interface EventSource {
  kind: string;
  name: string;
  /** Defaults to the Alert's namespace. */
  namespace: string;
  matchLabels?: Record<string, string>;
  apiVersion?: string;
}

/** A parsed Alert. */
export interface AlertSpec {
  namespace: string;
  name: string;
  providerRef: string;
  eventSeverity: 'info' | 'error';
  eventSources: EventSource[];
  inclusionList: string[];
  exclusionList: string[];
  eventMetadata: Record<string, string>;
  summary: string;
  suspend: boolean;
}

/** A parsed Provider. */
export interface ProviderSpec {
  namespace: string;
  name: string;
  type: ProviderType;
  channel: string;
  username: string;
  address: string;
  timeoutMs: number;
  /** Deprecated `spec.proxy`. */
  proxy: string;
  proxySecretRef?: string;
  secretRef?: string;
  certSecretRef?: string;
  suspend: boolean;
  commitStatusExpr: string;
}

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(what: string, field: string, message: string, hint?: string): never {
  throw new ValidationError(`${what}: ${field} ${message}`, hint ? { hint } : undefined);
}

function str(spec: Obj, key: string, what: string, opts: { max?: number; required?: boolean; field?: string } = {}): string {
  const field = opts.field ?? `spec.${key}`;
  const v = spec[key];
  if (v === undefined || v === null) {
    if (opts.required) fail(what, field, 'is required');
    return '';
  }
  if (typeof v !== 'string') fail(what, field, `must be a string, got ${Array.isArray(v) ? 'a list' : typeof v}`);
  if (opts.required && v === '') fail(what, field, 'must not be empty');
  if (opts.max !== undefined && v.length > opts.max) fail(what, field, `must be at most ${opts.max} characters, got ${v.length}`);
  return v;
}

function stringMap(v: unknown, what: string, field: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) fail(what, field, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') fail(what, `${field}.${k}`, 'must be a string');
    out[k] = x;
  }
  return out;
}

function stringList(v: unknown, what: string, field: string): string[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) fail(what, field, 'must be a list of strings');
  return [...(v as string[])];
}

function localRef(spec: Obj, key: string, what: string): string | undefined {
  const v = spec[key];
  if (v === undefined || v === null) return undefined;
  if (!isObj(v) || typeof v.name !== 'string' || v.name === '') fail(what, `spec.${key}.name`, 'is required');
  return v.name as string;
}

function meta(obj: KubeObject | undefined, kind: string): { namespace: string; name: string; spec: Obj; what: string } {
  if (!obj || typeof obj !== 'object') throw new ValidationError(`${kind}: not an object`);
  const namespace = obj.metadata?.namespace ?? 'default';
  const name = obj.metadata?.name ?? '';
  const what = `${kind} ${namespace}/${name}`;
  if (obj.apiVersion !== NOTIFICATION_API_VERSION) {
    fail(what, 'apiVersion', `must be ${NOTIFICATION_API_VERSION}, got ${JSON.stringify(obj.apiVersion)}`, `change apiVersion to ${NOTIFICATION_API_VERSION} (as 'flux migrate' does)`);
  }
  if (obj.spec !== undefined && !isObj(obj.spec)) fail(what, 'spec', 'must be an object');
  return { namespace, name, spec: (obj.spec ?? {}) as Obj, what };
}

/** Parses and validates an Alert; throws a ValidationError naming the field. */
export function parseAlert(obj: KubeObject | undefined): AlertSpec {
  const { namespace, name, spec, what } = meta(obj, 'Alert');
  const providerRef = spec.providerRef;
  if (!isObj(providerRef) || typeof providerRef.name !== 'string' || providerRef.name === '') fail(what, 'spec.providerRef.name', 'is required');
  const sev = spec.eventSeverity ?? 'info';
  if (sev !== 'info' && sev !== 'error') fail(what, 'spec.eventSeverity', `must be info or error, got ${JSON.stringify(sev)}`);
  const rawSources = spec.eventSources;
  if (!Array.isArray(rawSources)) fail(what, 'spec.eventSources', 'is required (a list of {kind, name})');
  const eventSources: EventSource[] = rawSources.map((s: unknown, i: number) => {
    const f = `spec.eventSources[${i}]`;
    if (!isObj(s)) fail(what, f, 'must be an object {kind, name, namespace?, matchLabels?}');
    const kind = str(s, 'kind', what, { required: true, field: `${f}.kind` });
    if (!(kind in EVENT_SOURCE_KINDS) && !THIRD_PARTY_EVENT_SOURCE_KINDS.includes(kind)) {
      fail(what, `${f}.kind`, `must be one of ${Object.keys(EVENT_SOURCE_KINDS).join(', ')} (or ${THIRD_PARTY_EVENT_SOURCE_KINDS.join(', ')} of Flux-compatible controllers), got ${JSON.stringify(kind)}`);
    }
    const n = str(s, 'name', what, { required: true, max: 253, field: `${f}.name` });
    const ns = str(s, 'namespace', what, { max: 63, field: `${f}.namespace` });
    const src: EventSource = { kind, name: n, namespace: ns || namespace };
    const labels = stringMap(s.matchLabels, what, `${f}.matchLabels`);
    if (labels !== undefined) src.matchLabels = labels;
    const av = str(s, 'apiVersion', what, { field: `${f}.apiVersion` });
    if (av) src.apiVersion = av;
    return src;
  });
  if (spec.suspend !== undefined && typeof spec.suspend !== 'boolean') fail(what, 'spec.suspend', 'must be true or false');
  return {
    namespace,
    name,
    providerRef: providerRef.name as string,
    eventSeverity: sev,
    eventSources,
    inclusionList: stringList(spec.inclusionList, what, 'spec.inclusionList'),
    exclusionList: stringList(spec.exclusionList, what, 'spec.exclusionList'),
    eventMetadata: stringMap(spec.eventMetadata, what, 'spec.eventMetadata') ?? {},
    summary: str(spec, 'summary', what, { max: 255 }),
    suspend: spec.suspend === true,
  };
}

const TIMEOUT = /^([0-9]+(\.[0-9]+)?(ms|s|m))+$/;

/** Parses and validates a Provider; throws a ValidationError naming the field. */
export function parseProvider(obj: KubeObject | undefined): ProviderSpec {
  const { namespace, name, spec, what } = meta(obj, 'Provider');
  const type = str(spec, 'type', what, { required: true });
  if (!(SUPPORTED_PROVIDER_TYPES as readonly string[]).includes(type)) {
    if (OTHER_FLUX_TYPES.includes(type)) {
      fail(what, 'spec.type', `'${type}' is a Flux provider type Fluxless does not send to yet`, `use one of: ${SUPPORTED_PROVIDER_TYPES.join(', ')}`);
    }
    fail(what, 'spec.type', `must be one of ${SUPPORTED_PROVIDER_TYPES.join(', ')}, got ${JSON.stringify(type)}`);
  }
  let timeoutMs = DEFAULT_PROVIDER_TIMEOUT_MS;
  const timeout = str(spec, 'timeout', what);
  if (timeout) {
    if (!TIMEOUT.test(timeout)) fail(what, 'spec.timeout', `must be a duration in ms, s or m (e.g. 15s), got ${JSON.stringify(timeout)}`);
    timeoutMs = parseDuration(timeout, `${what}: spec.timeout`);
  }
  const proxy = str(spec, 'proxy', what, { max: 2048 });
  if (proxy && !/^(http|https):\/\/.*$/.test(proxy)) fail(what, 'spec.proxy', `must be an http:// or https:// URL, got ${JSON.stringify(proxy)}`);
  const commitStatusExpr = str(spec, 'commitStatusExpr', what);
  if (commitStatusExpr) {
    if (!COMMIT_STATUS_TYPES.includes(type)) {
      fail(what, 'spec.commitStatusExpr', `is only supported for the 'github', 'gitlab', 'gitea', 'bitbucketserver', 'bitbucket', 'azuredevops' provider types`);
    }
    try {
      cel().compileCel(commitStatusExpr, { variables: COMMIT_STATUS_VARIABLES });
    } catch (err) {
      if (err instanceof CelExpressionError) fail(what, 'spec.commitStatusExpr', `is not a valid CEL expression: ${err.message}`);
      throw err;
    }
  }
  if (spec.serviceAccountName) fail(what, 'spec.serviceAccountName', 'is not supported by Fluxless (workload identity for notifications)', 'give credentials in spec.secretRef instead');
  if (spec.suspend !== undefined && typeof spec.suspend !== 'boolean') fail(what, 'spec.suspend', 'must be true or false');
  const out: ProviderSpec = {
    namespace,
    name,
    type: type as ProviderType,
    channel: str(spec, 'channel', what, { max: 2048 }),
    username: str(spec, 'username', what, { max: 2048 }),
    address: str(spec, 'address', what, { max: 2048 }),
    timeoutMs,
    proxy,
    suspend: spec.suspend === true,
    commitStatusExpr,
  };
  const secretRef = localRef(spec, 'secretRef', what);
  if (secretRef) out.secretRef = secretRef;
  const certSecretRef = localRef(spec, 'certSecretRef', what);
  if (certSecretRef) out.certSecretRef = certSecretRef;
  const proxySecretRef = localRef(spec, 'proxySecretRef', what);
  if (proxySecretRef) out.proxySecretRef = proxySecretRef;
  return out;
}
