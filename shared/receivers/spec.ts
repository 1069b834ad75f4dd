/**
 * The Flux `Receiver` API (notification.toolkit.fluxcd.io/v1), parsed and validated.
 *
 * Mirrors the CRD schema of notification-controller (api/v1/receiver_types.go,
 * reference_types.go). Fluxless supports the Git-hosting receiver types only; the others
 * Flux knows are rejected with a "not supported yet" ValidationError instead of being
 * silently accepted.
 */
import { ValidationError } from '../util/errors.js';

export const RECEIVER_API_VERSION = 'notification.toolkit.fluxcd.io/v1';
export const RECEIVER_KIND = 'Receiver';

export const SUPPORTED_RECEIVER_TYPES = ['github', 'gitlab', 'bitbucket', 'generic', 'generic-hmac'] as const;
export type ReceiverType = (typeof SUPPORTED_RECEIVER_TYPES)[number];

/** Types Flux's CRD accepts that Fluxless does not implement (yet). */
const FLUX_ONLY_TYPES = ['harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'cdevents', 'generic-oidc'];

/** CRD enum of `spec.resources[].kind` (notification-controller api/v1 1.8+). */
export const RECEIVER_TARGET_KINDS = [
  'Bucket',
  'GitRepository',
  'Kustomization',
  'HelmRelease',
  'HelmChart',
  'HelmRepository',
  'ImageRepository',
  'ImagePolicy',
  'ImageUpdateAutomation',
  'OCIRepository',
  'ArtifactGenerator',
  'ExternalArtifact',
] as const;

/**
 * apiVersion Flux fills in when a resource reference omits it
 * (receiver_handlers.go `defaultFluxAPIVersions`). Other kinds need an explicit apiVersion.
 */
export const DEFAULT_TARGET_API_VERSIONS: Readonly<Record<string, string>> = {
  Bucket: 'source.toolkit.fluxcd.io/v1',
  HelmChart: 'source.toolkit.fluxcd.io/v1',
  HelmRepository: 'source.toolkit.fluxcd.io/v1',
  GitRepository: 'source.toolkit.fluxcd.io/v1',
  OCIRepository: 'source.toolkit.fluxcd.io/v1',
  ImageRepository: 'image.toolkit.fluxcd.io/v1',
  ArtifactGenerator: 'source.extensions.fluxcd.io/v1beta1',
};

/** What to suggest when apiVersion is missing for a kind Flux does not default. */
const SUGGESTED_API_VERSIONS: Readonly<Record<string, string>> = {
  Kustomization: 'kustomize.toolkit.fluxcd.io/v1',
  HelmRelease: 'helm.toolkit.fluxcd.io/v2',
};

/** A `spec.resources[]` entry: one object by name, or every object of a kind matching labels (`name: '*'`). */
export interface ResourceSelector {
  apiVersion?: string;
  kind: string;
  /** Object name, or `*` together with `matchLabels`. */
  name: string;
  /** Defaults to the Receiver's namespace. */
  namespace?: string;
  /** Only meaningful when `name` is `*` (Flux ignores it otherwise). */
  matchLabels?: Record<string, string>;
}

export interface ReceiverSpec {
  type: ReceiverType;
  /** Event types to handle (case-insensitive); empty means every event. */
  events: string[];
  resources: ResourceSelector[];
  secretRef: { name: string };
  suspend: boolean;
  /** Go duration string; Flux's default `10m`. */
  interval: string;
}

export interface ParsedReceiver {
  namespace: string;
  name: string;
  spec: ReceiverSpec;
}

const INTERVAL_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
const NAME_MAX = 53;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parse and validate a Receiver object (as read from the API server or a manifest).
 * Returns the namespace/name together with the validated spec. `apiVersion` of
 * `spec.resources[]` entries is filled in for the kinds Flux defaults.
 */
export function parseReceiverObject(obj: unknown): ParsedReceiver {
  if (!isObj(obj)) throw new ValidationError('Receiver: expected an object with apiVersion, kind, metadata and spec');
  const meta = isObj(obj.metadata) ? obj.metadata : {};
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' && meta.namespace !== '' ? meta.namespace : 'default';
  const id = `Receiver ${namespace}/${name || '<unnamed>'}`;
  const fail = (field: string, msg: string, hint?: string): never => {
    throw new ValidationError(`${id}: ${field} ${msg}`, hint ? { hint } : undefined);
  };

  if (obj.kind !== RECEIVER_KIND) fail('kind', `must be "${RECEIVER_KIND}", got ${JSON.stringify(obj.kind)}`);
  if (obj.apiVersion !== RECEIVER_API_VERSION) {
    fail('apiVersion', `must be "${RECEIVER_API_VERSION}", got ${JSON.stringify(obj.apiVersion)}`,
      `Update the manifest to apiVersion: ${RECEIVER_API_VERSION} (the spec fields are the same).`);
  }
  if (!name) fail('metadata.name', 'is required');

  if (!isObj(obj.spec)) fail('spec', 'is required');
  const spec = obj.spec as Obj;

  // spec.type
  const type = spec.type;
  if (typeof type !== 'string' || type === '') {
    fail('spec.type', `is required (one of: ${SUPPORTED_RECEIVER_TYPES.join(', ')})`);
  }
  if (!(SUPPORTED_RECEIVER_TYPES as readonly string[]).includes(type as string)) {
    if (FLUX_ONLY_TYPES.includes(type as string)) {
      fail('spec.type', `"${type}" is not supported yet by Fluxless (supported: ${SUPPORTED_RECEIVER_TYPES.join(', ')})`,
        'Use a generic or generic-hmac Receiver for this sender, or run Flux notification-controller for it.');
    }
    fail('spec.type', `"${type}" is not a Flux Receiver type (supported: ${SUPPORTED_RECEIVER_TYPES.join(', ')})`);
  }

  // spec.interval
  let interval = '10m';
  if (spec.interval !== undefined && spec.interval !== null) {
    if (typeof spec.interval !== 'string' || !INTERVAL_RE.test(spec.interval)) {
      fail('spec.interval', `${JSON.stringify(spec.interval)} is not a duration like "10m", "1h30m" or "90s"`);
    }
    interval = spec.interval as string;
  }

  // spec.events
  const events: string[] = [];
  if (spec.events !== undefined && spec.events !== null) {
    if (!Array.isArray(spec.events)) fail('spec.events', 'must be a list of event type names');
    (spec.events as unknown[]).forEach((e, i) => {
      if (typeof e !== 'string') fail(`spec.events[${i}]`, 'must be a string');
      events.push(e as string);
    });
  }

  // spec.resources
  if (!Array.isArray(spec.resources)) {
    fail('spec.resources', 'is required: list the Flux objects to reconcile when the webhook fires');
  }
  const resources = (spec.resources as unknown[]).map((r, i) => parseResource(r, `spec.resources[${i}]`, fail));

  // spec.secretRef
  if (!isObj(spec.secretRef) || typeof spec.secretRef.name !== 'string' || spec.secretRef.name === '') {
    fail('spec.secretRef.name', 'is required: name the Secret (same namespace) whose "token" key holds the webhook token');
  }
  const secretName = (spec.secretRef as Obj).name as string;

  // spec.suspend
  if (spec.suspend !== undefined && spec.suspend !== null && typeof spec.suspend !== 'boolean') {
    fail('spec.suspend', 'must be true or false');
  }

  if (spec.resourceFilter !== undefined && spec.resourceFilter !== null && spec.resourceFilter !== '') {
    fail('spec.resourceFilter', '(CEL) is not supported yet by Fluxless',
      'Remove spec.resourceFilter and narrow spec.resources (names or matchLabels) instead.');
  }

  return {
    namespace,
    name,
    spec: {
      type: type as ReceiverType,
      events,
      resources,
      secretRef: { name: secretName },
      suspend: spec.suspend === true,
      interval,
    },
  };
}

/** Parse and validate a Receiver object; returns only its spec. See parseReceiverObject. */
export function parseReceiver(obj: unknown): ReceiverSpec {
  return parseReceiverObject(obj).spec;
}

function parseResource(
  raw: unknown,
  field: string,
  fail: (field: string, msg: string, hint?: string) => never,
): ResourceSelector {
  if (!isObj(raw)) fail(field, 'must be an object with kind and name');
  const r = raw as Obj;
  const kind = r.kind;
  if (typeof kind !== 'string' || kind === '') fail(`${field}.kind`, 'is required');
  if (!(RECEIVER_TARGET_KINDS as readonly string[]).includes(kind as string)) {
    fail(`${field}.kind`, `"${kind}" is not a kind a Receiver can notify (one of: ${RECEIVER_TARGET_KINDS.join(', ')})`);
  }
  const name = r.name;
  if (typeof name !== 'string' || name === '') fail(`${field}.name`, "is required (an object name, or '*' with matchLabels)");
  if ((name as string).length > NAME_MAX) fail(`${field}.name`, `must be at most ${NAME_MAX} characters`);

  const out: ResourceSelector = { kind: kind as string, name: name as string };

  if (r.apiVersion !== undefined && r.apiVersion !== null && r.apiVersion !== '') {
    if (typeof r.apiVersion !== 'string' || !/^([a-z0-9.-]+\/)?v[0-9a-z]+$/.test(r.apiVersion)) {
      fail(`${field}.apiVersion`, `${JSON.stringify(r.apiVersion)} is not an apiVersion like "kustomize.toolkit.fluxcd.io/v1"`);
    }
    out.apiVersion = r.apiVersion as string;
  } else {
    const dflt = DEFAULT_TARGET_API_VERSIONS[kind as string];
    if (!dflt) {
      const suggestion = SUGGESTED_API_VERSIONS[kind as string];
      fail(`${field}.apiVersion`, `is required for kind ${kind} (Flux only defaults it for ${Object.keys(DEFAULT_TARGET_API_VERSIONS).join(', ')})`,
        suggestion ? `Add apiVersion: ${suggestion}` : undefined);
    }
    out.apiVersion = dflt;
  }

  if (r.namespace !== undefined && r.namespace !== null && r.namespace !== '') {
    if (typeof r.namespace !== 'string' || r.namespace.length > NAME_MAX) {
      fail(`${field}.namespace`, `must be a namespace name of at most ${NAME_MAX} characters`);
    }
    out.namespace = r.namespace as string;
  }

  if (r.matchLabels !== undefined && r.matchLabels !== null) {
    if (!isObj(r.matchLabels)) fail(`${field}.matchLabels`, 'must be a map of label keys to values');
    const labels: Record<string, string> = {};
    for (const [k, v] of Object.entries(r.matchLabels as Obj)) {
      if (typeof v !== 'string') fail(`${field}.matchLabels.${k}`, 'must be a string');
      labels[k] = v as string;
    }
    out.matchLabels = labels;
  }

  if (out.name === '*' && out.matchLabels === undefined) {
    fail(`${field}.matchLabels`, "is required when name is '*' (Flux refuses a wildcard without labels)",
      "Add matchLabels (use matchLabels: {} to select every object of this kind in the namespace).");
  }
  return out;
}
