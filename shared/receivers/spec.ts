/**
 * The Flux `Receiver` API (notification.toolkit.fluxcd.io/v1, Flux 2.9), parsed and
 * validated.
 *
 * Mirrors the CRD schema and the controller's checks of notification-controller
 * (api/v1/receiver_types.go, reference_types.go, internal/controller/receiver_controller.go):
 * every Flux type, `resourceFilter` and `resources[].filter` (CEL, compiled here so a bad
 * expression is refused before any request, with its position), `generic-oidc` with
 * `oidcProviders`. Beyond Flux: type `distribution` for the CNCF distribution registry's
 * own notifications.
 */
import { CelExpressionError } from '../cel/errors.js';
import { cel } from '../cel/load.js';
import { ValidationError } from '../util/errors.js';

/** The only Receiver apiVersion Flux 2.9 serves. */
export const RECEIVER_API_VERSION = 'notification.toolkit.fluxcd.io/v1';
/** The Receiver kind. */
export const RECEIVER_KIND = 'Receiver';

/** Every Receiver type Fluxless serves: Flux's 13 and `distribution`. */
export const SUPPORTED_RECEIVER_TYPES = [
  'github',
  'gitlab',
  'bitbucket',
  'generic',
  'generic-hmac',
  'generic-oidc',
  'harbor',
  'dockerhub',
  'quay',
  'gcr',
  'nexus',
  'acr',
  'cdevents',
  'distribution',
] as const;
/** A `spec.type` value. */
export type ReceiverType = (typeof SUPPORTED_RECEIVER_TYPES)[number];

/** Types whose events are about container images / OCI artifacts. */
export const REGISTRY_RECEIVER_TYPES: readonly ReceiverType[] = ['harbor', 'dockerhub', 'quay', 'gcr', 'nexus', 'acr', 'distribution'];

/** Flux's default `oidcProviders[].audience`. */
export const DEFAULT_OIDC_AUDIENCE = 'notification-controller';

/** Variables of `resourceFilter` / `resources[].filter`; generic-oidc adds `claims`. */
export const FILTER_VARIABLES = ['res', 'req'] as const;
/** Variables of generic-oidc's `variables[]` and `validations[]`. */
export const OIDC_CLAIM_VARIABLES = ['claims', 'vars'] as const;

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
  /** CEL bool over `res` and `req` (and `claims` for generic-oidc), ANDed with `spec.resourceFilter` (2.9). */
  filter?: string;
}

/** A generic-oidc `oidcProviders[].variables[]` entry: evaluated in order, exposed as `vars.<name>`. */
export interface OidcVariable {
  name: string;
  expression: string;
}

/** A generic-oidc `oidcProviders[].validations[]` entry: all must be true. */
export interface OidcValidation {
  expression: string;
  message: string;
}

/** A generic-oidc `oidcProviders[]` entry. */
export interface OidcProvider {
  /** Must equal the token's `iss`; discovery at `<issuerURL>/.well-known/openid-configuration`. */
  issuerURL: string;
  /** Expected `aud`; defaulted to `notification-controller`. */
  audience: string;
  variables: OidcVariable[];
  validations: OidcValidation[];
}

/** A validated Receiver spec. */
export interface ReceiverSpec {
  type: ReceiverType;
  /** Event types to handle (case-insensitive); empty means every event. */
  events: string[];
  resources: ResourceSelector[];
  /**
   * The Secret holding `token` (and for gcr `email` and `audience`). generic-oidc has no
   * Secret: its name is then '' (use `hasSecret`).
   */
  secretRef: { name: string };
  suspend: boolean;
  /** Go duration string; Flux's default `10m`. */
  interval: string;
  /** CEL bool over `res` and `req` (2.5), evaluated for every target. */
  resourceFilter?: string;
  /** generic-oidc only (2.9). */
  oidcProviders?: OidcProvider[];
}

/** Whether Receivers of this type read a Secret (every type but generic-oidc). */
export function hasSecret(spec: Pick<ReceiverSpec, 'type'>): boolean {
  return spec.type !== 'generic-oidc';
}

/** A Receiver's namespace, name and validated spec. */
export interface ParsedReceiver {
  namespace: string;
  name: string;
  spec: ReceiverSpec;
}

const INTERVAL_RE = /^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$/;
/** CrossNamespaceObjectReference name / namespace MaxLength in notification-controller api/v1. */
const NAME_MAX = 253;

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
    fail('spec.type', `"${type}" is not a Flux Receiver type (supported: ${SUPPORTED_RECEIVER_TYPES.join(', ')})`);
  }
  const oidc = type === 'generic-oidc';

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
  const filterVars: string[] = oidc ? [...FILTER_VARIABLES, 'claims'] : [...FILTER_VARIABLES];
  const resources = (spec.resources as unknown[]).map((r, i) => parseResource(r, `spec.resources[${i}]`, fail, id, filterVars));

  // spec.secretRef (the CRD's XValidation rules, also enforced by the controller)
  let secretName = '';
  if (oidc) {
    if (spec.secretRef !== undefined && spec.secretRef !== null) {
      fail('spec.secretRef', 'cannot be set when type is generic-oidc (the OIDC token authenticates the request)',
        'Remove spec.secretRef; the webhook path is /hook/sha256("" + name + namespace).');
    }
  } else {
    if (!isObj(spec.secretRef) || typeof spec.secretRef.name !== 'string' || spec.secretRef.name === '') {
      fail('spec.secretRef.name', `is required: name the Secret (same namespace) whose "token" key holds the webhook token${type === 'gcr' ? ' (and "email" and "audience" for gcr)' : ''}`);
    }
    secretName = (spec.secretRef as Obj).name as string;
  }

  // spec.oidcProviders
  let oidcProviders: OidcProvider[] | undefined;
  const rawProviders = spec.oidcProviders;
  const hasProviders = Array.isArray(rawProviders) && rawProviders.length > 0;
  if (oidc && !hasProviders) {
    fail('spec.oidcProviders', 'is required for generic-oidc: list at least one OIDC issuer whose tokens may call this webhook');
  }
  if (!oidc && hasProviders) fail('spec.oidcProviders', `can only be set when type is generic-oidc (type is ${type})`);
  if (oidc) oidcProviders = parseOidcProviders(rawProviders, fail, id);

  // spec.suspend
  if (spec.suspend !== undefined && spec.suspend !== null && typeof spec.suspend !== 'boolean') {
    fail('spec.suspend', 'must be true or false');
  }

  let resourceFilter: string | undefined;
  if (spec.resourceFilter !== undefined && spec.resourceFilter !== null && spec.resourceFilter !== '') {
    if (typeof spec.resourceFilter !== 'string') fail('spec.resourceFilter', 'must be a CEL expression (a string)');
    resourceFilter = spec.resourceFilter as string;
    compileFilter(resourceFilter, filterVars, `${id}: spec.resourceFilter`);
  }

  const out: ReceiverSpec = {
    type: type as ReceiverType,
    events,
    resources,
    secretRef: { name: secretName },
    suspend: spec.suspend === true,
    interval,
  };
  if (resourceFilter !== undefined) out.resourceFilter = resourceFilter;
  if (oidcProviders !== undefined) out.oidcProviders = oidcProviders;
  return { namespace, name, spec: out };
}

/** Compile a filter (cached), naming the field in the error. */
function compileFilter(expr: string, vars: readonly string[], context: string): void {
  try {
    cel().compileCelBoolean(expr, vars);
  } catch (err) {
    if (!(err instanceof CelExpressionError)) throw err;
    const hint = /undeclared reference to 'claims'/.test(err.reason)
      ? 'claims is only available to generic-oidc Receivers.'
      : err.hint ?? `A filter is a CEL bool over ${vars.join(', ')}, e.g. res.metadata.name == req.repository.name`;
    throw new CelExpressionError(err.expression, err.reason, err.position, { cause: err, context, hint });
  }
}

const ISSUER_RE = /^https?:\/\//;
const CEL_IDENT = /^[_a-zA-Z][_a-zA-Z0-9]*$/;

function parseOidcProviders(raw: unknown, fail: (field: string, msg: string, hint?: string) => never, id: string): OidcProvider[] {
  const seen = new Set<string>();
  return (raw as unknown[]).map((p, i) => {
    const at = `spec.oidcProviders[${i}]`;
    if (!isObj(p)) fail(at, 'must be an object with issuerURL and validations');
    const o = p as Obj;
    if (typeof o.issuerURL !== 'string' || o.issuerURL === '') fail(`${at}.issuerURL`, 'is required');
    const issuerURL = o.issuerURL as string;
    if (!ISSUER_RE.test(issuerURL)) fail(`${at}.issuerURL`, `${JSON.stringify(issuerURL)} must start with http:// or https://`);
    if (seen.has(issuerURL)) fail(`${at}.issuerURL`, `duplicate issuerURL ${JSON.stringify(issuerURL)}`);
    seen.add(issuerURL);
    let audience = DEFAULT_OIDC_AUDIENCE;
    if (o.audience !== undefined && o.audience !== null && o.audience !== '') {
      if (typeof o.audience !== 'string') fail(`${at}.audience`, 'must be a string');
      audience = o.audience as string;
    }
    const variables: OidcVariable[] = [];
    if (o.variables !== undefined && o.variables !== null) {
      if (!Array.isArray(o.variables)) fail(`${at}.variables`, 'must be a list of {name, expression}');
      (o.variables as unknown[]).forEach((v, j) => {
        const vat = `${at}.variables[${j}]`;
        if (!isObj(v)) fail(vat, 'must be an object with name and expression');
        const vo = v as Obj;
        if (typeof vo.name !== 'string' || vo.name === '') fail(`${vat}.name`, 'is required');
        if (!CEL_IDENT.test(vo.name as string)) fail(`${vat}.name`, `${JSON.stringify(vo.name)} must be a CEL identifier (letters, digits, _)`);
        if (typeof vo.expression !== 'string' || vo.expression === '') fail(`${vat}.expression`, 'is required');
        try {
          cel().compileCel(vo.expression as string, { variables: OIDC_CLAIM_VARIABLES });
        } catch (err) {
          throw err instanceof CelExpressionError ? err.withContext(`${id}: ${vat}.expression`) : err;
        }
        variables.push({ name: vo.name as string, expression: vo.expression as string });
      });
    }
    if (!Array.isArray(o.validations) || o.validations.length === 0) {
      fail(`${at}.validations`, `at least one validation is required; without validations any caller able to obtain a token from ${issuerURL} can trigger the Receiver`,
        "Constrain the caller's identity, e.g. {expression: \"claims.repository_owner == 'my-org'\", message: 'wrong owner'}.");
    }
    const validations: OidcValidation[] = (o.validations as unknown[]).map((v, j) => {
      const vat = `${at}.validations[${j}]`;
      if (!isObj(v)) fail(vat, 'must be an object with expression and message');
      const vo = v as Obj;
      if (typeof vo.expression !== 'string' || vo.expression === '') fail(`${vat}.expression`, 'is required');
      if (typeof vo.message !== 'string' || vo.message === '') fail(`${vat}.message`, 'is required');
      try {
        cel().compileCelBoolean(vo.expression as string, OIDC_CLAIM_VARIABLES);
      } catch (err) {
        throw err instanceof CelExpressionError ? err.withContext(`${id}: ${vat}.expression`) : err;
      }
      return { expression: vo.expression as string, message: vo.message as string };
    });
    return { issuerURL, audience, variables, validations };
  });
}

/** Parse and validate a Receiver object; returns only its spec. See parseReceiverObject. */
export function parseReceiver(obj: unknown): ReceiverSpec {
  return parseReceiverObject(obj).spec;
}

function parseResource(
  raw: unknown,
  field: string,
  fail: (field: string, msg: string, hint?: string) => never,
  id: string,
  filterVars: readonly string[],
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

  if (r.filter !== undefined && r.filter !== null && r.filter !== '') {
    if (typeof r.filter !== 'string') fail(`${field}.filter`, 'must be a CEL expression (a string)');
    compileFilter(r.filter as string, filterVars, `${id}: ${field}.filter`);
    out.filter = r.filter as string;
  }

  if (out.name === '*' && out.matchLabels === undefined) {
    fail(`${field}.matchLabels`, "is required when name is '*' (Flux refuses a wildcard without labels)",
      "Add matchLabels (use matchLabels: {} to select every object of this kind in the namespace).");
  }
  return out;
}
