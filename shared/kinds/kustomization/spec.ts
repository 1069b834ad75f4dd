/**
 * The Flux Kustomization API (`kustomize.toolkit.fluxcd.io/v1`), parsed and validated.
 * Every field Flux defines is either supported or rejected with a message naming it;
 * nothing is silently ignored.
 */
import { IgnoreRules, type IgnoreRule } from '../../apply/ignore.js';
import type { ObjectSelector } from '../../apply/selector.js';
import { HealthCheckSet, ReadyExpression, type HealthCheckExpression } from '../../cel/index.js';
import { FluxlessError, ValidationError } from '../../util/errors.js';
import { parseDuration } from '../../util/duration.js';
import type { KubeObject } from '../../kube/object.js';
import type { KubeConfigRef } from '../../kube/targets.js';
import type { KustomizePatch, RenderSpec } from '../../render/types.js';

/** The Kustomization API group. */
export const KUSTOMIZATION_GROUP = 'kustomize.toolkit.fluxcd.io';
/** API versions the parser accepts (removed ones are refused earlier with a migrate message). */
export const KUSTOMIZATION_API_VERSIONS = ['kustomize.toolkit.fluxcd.io/v1'];

/** `spec.sourceRef`: the source to build from (namespace defaulted to the Kustomization's). */
export interface CrossRef {
  kind: string;
  name: string;
  namespace: string;
  apiVersion?: string;
}

/** One `spec.healthChecks[]` entry. */
export interface HealthCheckRef {
  apiVersion: string;
  kind: string;
  name: string;
  namespace?: string;
}

/** One `spec.postBuild.substituteFrom[]` entry. */
export interface SubstituteRef {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  optional: boolean;
}

/** `spec.deletionPolicy`: what finalizing does with the applied objects. */
export type DeletionPolicy = 'MirrorPrune' | 'Delete' | 'WaitForTermination' | 'Orphan';

/** `spec.postBuild.substituteStrategy` (2.9): substitute only with variables (default), or always. */
export type SubstituteStrategy = 'WithVariables' | 'Always';

/** One `spec.dependsOn[]` entry (meta.DependencyReference), its readyExpr compiled. */
export interface DependencyRef {
  name: string;
  namespace: string;
  /** `readyExpr` (2.7): CEL over `self` and `dep`; replaces the built-in readiness check. */
  readyExpr?: ReadyExpression;
}

/** The code of errors in CEL fields (`healthCheckExprs`, `dependsOn[].readyExpr`): Flux's `InvalidCELExpression`. */
export const INVALID_CEL = 'InvalidCELExpression';

/** `spec.decryption`: SOPS with the keys of a Secret in the Kustomization's namespace. */
export interface DecryptionSpec {
  provider: 'sops';
  /** The Secret holding `*.agekey`, `*.asc` and `sops.aws-kms` entries; unset: only KMS with the function's own role. */
  secretRef?: { name: string };
}

/** The code of a spec field that needs a Flux feature gate Fluxless does not offer (Flux's `FeatureGateDisabled`). */
export const FEATURE_GATE_DISABLED = 'FeatureGateDisabled';

/** Kinds a Kustomization may build from. */
export const SOURCE_KINDS = ['GitRepository', 'OCIRepository', 'ExternalArtifact'];

/** A parsed and validated Kustomization: every field Fluxless acts on, defaults applied, CEL compiled. */
export interface KustomizationSpec {
  namespace: string;
  name: string;
  generation: number;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  sourceRef: CrossRef;
  path: string;
  intervalMs: number;
  retryIntervalMs: number;
  timeoutMs: number;
  prune: boolean;
  wait: boolean;
  force: boolean;
  suspend: boolean;
  dependsOn: DependencyRef[];
  healthChecks: HealthCheckRef[];
  /** `spec.healthCheckExprs`, compiled; undefined when there are none. */
  healthCheckExprs?: HealthCheckSet;
  /** `spec.ignore` (2.9), compiled; undefined when there are none. */
  ignore?: IgnoreRules;
  deletionPolicy: DeletionPolicy;
  render: RenderSpec;
  postBuild?: { substitute: Record<string, string>; substituteFrom: SubstituteRef[]; substituteStrategy: SubstituteStrategy };
  /** `spec.kubeConfig`: the remote cluster to apply to (undefined: the management cluster). */
  kubeConfig?: KubeConfigRef;
  /** `spec.serviceAccountName`: the account to impersonate (before the configured default applies). */
  serviceAccountName?: string;
  /** `spec.decryption`. */
  decryption?: DecryptionSpec;
}

const SUPPORTED_SPEC = new Set([
  'sourceRef', 'path', 'interval', 'retryInterval', 'timeout', 'prune', 'wait', 'force', 'suspend',
  'dependsOn', 'healthChecks', 'deletionPolicy', 'targetNamespace', 'namePrefix', 'nameSuffix',
  'patches', 'images', 'components', 'ignoreMissingComponents', 'commonMetadata', 'postBuild',
  'healthCheckExprs', 'ignore', 'kubeConfig', 'serviceAccountName', 'decryption',
]);
const UNSUPPORTED_HINTS: Record<string, string> = {
  buildMetadata: 'kustomize build metadata annotations (originAnnotations, transformerAnnotations) are not supported yet: remove the field',
  patchesStrategicMerge: 'removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches',
  patchesJson6902: 'removed in kustomize.toolkit.fluxcd.io/v1: use spec.patches',
  validation: 'removed in kustomize.toolkit.fluxcd.io/v1',
};

function fail(id: string, field: string, msg: string): never {
  throw new ValidationError(`Kustomization ${id}: ${field}: ${msg}`);
}

function str(v: unknown, id: string, field: string, required = false): string | undefined {
  if (v === undefined || v === null) {
    if (required) fail(id, field, 'is required');
    return undefined;
  }
  if (typeof v !== 'string') fail(id, field, `must be a string, got ${JSON.stringify(v)}`);
  return v;
}

function bool(v: unknown, id: string, field: string, dflt: boolean): boolean {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean') fail(id, field, `must be true or false, got ${JSON.stringify(v)}`);
  return v;
}

function strMap(v: unknown, id: string, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(id, field, 'must be a map of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (typeof val !== 'string') fail(id, `${field}.${k}`, `must be a string, got ${JSON.stringify(val)}`);
    out[k] = val;
  }
  return out;
}

function arr(v: unknown, id: string, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(id, field, 'must be a list');
  return v;
}

function duration(v: unknown, id: string, field: string): number | undefined {
  const s = str(v, id, field);
  if (s === undefined) return undefined;
  try {
    return parseDuration(s, field);
  } catch {
    return fail(id, field, `invalid duration '${s}' (use Go syntax such as 30s, 5m, 1h)`);
  }
}

/** Options of parseKustomization. */
export interface ParseOptions {
  /**
   * Compile the CEL fields (default true). Finalizing does not need them, and as in Flux a
   * bad expression must not stop a deleted Kustomization from being pruned.
   */
  cel?: boolean;
}

/** Parses a Kustomization definition; throws a ValidationError (or an InvalidCELExpression error) naming the field. */
export function parseKustomization(obj: KubeObject, source = '', opts: ParseOptions = {}): KustomizationSpec {
  const cel = opts.cel !== false;
  const ns = obj.metadata?.namespace ?? 'default';
  const name = obj.metadata?.name;
  const where = source ? ` (in ${source})` : '';
  if (!name) throw new ValidationError(`Kustomization without metadata.name${where}`);
  const id = `${ns}/${name}${where}`;
  if (!KUSTOMIZATION_API_VERSIONS.includes(obj.apiVersion)) {
    fail(id, 'apiVersion', `'${obj.apiVersion}' is not supported; use kustomize.toolkit.fluxcd.io/v1`);
  }
  const spec = (obj.spec ?? {}) as Record<string, unknown>;
  if (typeof spec !== 'object' || Array.isArray(spec)) fail(id, 'spec', 'must be an object');
  for (const key of Object.keys(spec)) {
    if (UNSUPPORTED_HINTS[key]) fail(id, `spec.${key}`, UNSUPPORTED_HINTS[key]);
    if (!SUPPORTED_SPEC.has(key)) fail(id, `spec.${key}`, 'unknown or unsupported field');
  }
  const sr = spec.sourceRef as Record<string, unknown> | undefined;
  if (!sr || typeof sr !== 'object') fail(id, 'spec.sourceRef', 'is required');
  const srcKind = str(sr.kind, id, 'spec.sourceRef.kind', true)!;
  if (!SOURCE_KINDS.includes(srcKind)) {
    fail(id, 'spec.sourceRef.kind', `'${srcKind}' is not supported yet (supported: ${SOURCE_KINDS.join(', ')})`);
  }
  const intervalMs = duration(spec.interval, id, 'spec.interval');
  if (intervalMs === undefined) fail(id, 'spec.interval', 'is required');
  if (spec.prune === undefined) fail(id, 'spec.prune', 'is required (true or false)');
  const dependsOn = arr(spec.dependsOn, id, 'spec.dependsOn').map((d, i): DependencyRef => {
    const o = d as Record<string, unknown>;
    const field = `spec.dependsOn[${i}]`;
    for (const key of Object.keys(o ?? {})) {
      if (key !== 'name' && key !== 'namespace' && key !== 'readyExpr') fail(id, `${field}.${key}`, 'unknown or unsupported field');
    }
    const expr = str(o?.readyExpr, id, `${field}.readyExpr`);
    return {
      name: str(o?.name, id, `${field}.name`, true)!,
      namespace: str(o?.namespace, id, `${field}.namespace`) ?? ns,
      readyExpr: expr && cel ? celField(id, () => ReadyExpression.compile(expr, `${field}.readyExpr`)) : undefined,
    };
  });
  const healthCheckExprs = cel ? parseHealthCheckExprs(spec.healthCheckExprs, id) : undefined;
  const ignore = parseIgnore(spec.ignore, id);
  const healthChecks = arr(spec.healthChecks, id, 'spec.healthChecks').map((h, i) => {
    const o = h as Record<string, unknown>;
    return {
      apiVersion: str(o?.apiVersion, id, `spec.healthChecks[${i}].apiVersion`) ?? '',
      kind: str(o?.kind, id, `spec.healthChecks[${i}].kind`, true)!,
      name: str(o?.name, id, `spec.healthChecks[${i}].name`, true)!,
      namespace: str(o?.namespace, id, `spec.healthChecks[${i}].namespace`),
    };
  });
  const deletionPolicy = (str(spec.deletionPolicy, id, 'spec.deletionPolicy') ?? 'MirrorPrune') as DeletionPolicy;
  if (!['MirrorPrune', 'Delete', 'WaitForTermination', 'Orphan'].includes(deletionPolicy)) {
    fail(id, 'spec.deletionPolicy', `must be one of MirrorPrune, Delete, WaitForTermination, Orphan`);
  }
  let postBuild: KustomizationSpec['postBuild'];
  if (spec.postBuild !== undefined) {
    const pb = spec.postBuild as Record<string, unknown>;
    for (const key of Object.keys(pb ?? {})) {
      if (key !== 'substitute' && key !== 'substituteFrom' && key !== 'substituteStrategy') fail(id, `spec.postBuild.${key}`, 'unknown or unsupported field');
    }
    const strategy = str(pb?.substituteStrategy, id, 'spec.postBuild.substituteStrategy') ?? 'WithVariables';
    if (strategy !== 'WithVariables' && strategy !== 'Always') fail(id, 'spec.postBuild.substituteStrategy', `'${strategy}' must be WithVariables or Always`);
    postBuild = {
      substituteStrategy: strategy,
      substitute: strMap(pb?.substitute, id, 'spec.postBuild.substitute'),
      substituteFrom: arr(pb?.substituteFrom, id, 'spec.postBuild.substituteFrom').map((s, i) => {
        const o = s as Record<string, unknown>;
        const kind = str(o?.kind, id, `spec.postBuild.substituteFrom[${i}].kind`, true);
        if (kind !== 'ConfigMap' && kind !== 'Secret') fail(id, `spec.postBuild.substituteFrom[${i}].kind`, 'must be ConfigMap or Secret');
        return {
          kind,
          name: str(o?.name, id, `spec.postBuild.substituteFrom[${i}].name`, true)!,
          optional: bool(o?.optional, id, `spec.postBuild.substituteFrom[${i}].optional`, false),
        };
      }),
    };
  }
  const cm = spec.commonMetadata as Record<string, unknown> | undefined;
  const render: RenderSpec = {
    targetNamespace: str(spec.targetNamespace, id, 'spec.targetNamespace'),
    namePrefix: str(spec.namePrefix, id, 'spec.namePrefix'),
    nameSuffix: str(spec.nameSuffix, id, 'spec.nameSuffix'),
    patches: arr(spec.patches, id, 'spec.patches').map((p, i) => {
      const o = p as Record<string, unknown>;
      return { patch: str(o?.patch, id, `spec.patches[${i}].patch`, true)!, target: o?.target as KustomizePatch['target'] };
    }),
    images: arr(spec.images, id, 'spec.images').map((im, i) => {
      const o = im as Record<string, unknown>;
      return {
        name: str(o?.name, id, `spec.images[${i}].name`, true)!,
        newName: str(o?.newName, id, `spec.images[${i}].newName`),
        newTag: str(o?.newTag, id, `spec.images[${i}].newTag`),
        digest: str(o?.digest, id, `spec.images[${i}].digest`),
      };
    }),
    components: arr(spec.components, id, 'spec.components').map((c, i) => str(c, id, `spec.components[${i}]`, true)!),
    ignoreMissingComponents: bool(spec.ignoreMissingComponents, id, 'spec.ignoreMissingComponents', false),
    commonMetadata: cm
      ? { labels: strMap(cm.labels, id, 'spec.commonMetadata.labels'), annotations: strMap(cm.annotations, id, 'spec.commonMetadata.annotations') }
      : undefined,
  };
  const kubeConfig = parseKubeConfigRef(spec.kubeConfig, id);
  const serviceAccountName = str(spec.serviceAccountName, id, 'spec.serviceAccountName') || undefined;
  if (serviceAccountName) checkName(serviceAccountName, id, 'spec.serviceAccountName');
  const decryption = parseDecryption(spec.decryption, id);
  // Flux: spec.timeout, else the interval minus 30s, at least 30s.
  const timeoutMs = duration(spec.timeout, id, 'spec.timeout') ?? Math.max(intervalMs - 30_000, 30_000);
  return {
    namespace: ns,
    name,
    generation: Number(obj.metadata.generation ?? 1),
    labels: obj.metadata.labels ?? {},
    annotations: obj.metadata.annotations ?? {},
    sourceRef: {
      kind: srcKind,
      name: str(sr.name, id, 'spec.sourceRef.name', true)!,
      namespace: str(sr.namespace, id, 'spec.sourceRef.namespace') ?? ns,
      apiVersion: str(sr.apiVersion, id, 'spec.sourceRef.apiVersion'),
    },
    path: str(spec.path, id, 'spec.path') ?? './',
    intervalMs,
    retryIntervalMs: duration(spec.retryInterval, id, 'spec.retryInterval') ?? intervalMs,
    timeoutMs,
    prune: bool(spec.prune, id, 'spec.prune', false),
    wait: bool(spec.wait, id, 'spec.wait', false),
    force: bool(spec.force, id, 'spec.force', false),
    suspend: bool(spec.suspend, id, 'spec.suspend', false),
    dependsOn,
    healthChecks,
    healthCheckExprs,
    ignore,
    deletionPolicy,
    render,
    postBuild,
    kubeConfig,
    serviceAccountName,
    decryption,
  };
}

/** A DNS-1123 subdomain (object names). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function checkName(v: string, id: string, field: string): void {
  if (!OBJECT_NAME.test(v) || v.length > 253) fail(id, field, `'${v}' is not a valid object name (lowercase letters, digits, '-' and '.')`);
}

function onlyFields(o: Record<string, unknown>, allowed: string[], id: string, field: string): void {
  for (const key of Object.keys(o)) if (!allowed.includes(key)) fail(id, `${field}.${key}`, 'unknown or unsupported field');
}

function objectField(v: unknown, id: string, field: string): Record<string, unknown> | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(id, field, 'must be an object');
  return v as Record<string, unknown>;
}

/** `spec.kubeConfig`: exactly one of `secretRef {name, key?}` or `configMapRef {name}` (Flux's CEL rule). */
function parseKubeConfigRef(v: unknown, id: string): KubeConfigRef | undefined {
  const o = objectField(v, id, 'spec.kubeConfig');
  if (!o) return undefined;
  onlyFields(o, ['secretRef', 'configMapRef'], id, 'spec.kubeConfig');
  const sr = objectField(o.secretRef, id, 'spec.kubeConfig.secretRef');
  const cm = objectField(o.configMapRef, id, 'spec.kubeConfig.configMapRef');
  if (Boolean(sr) === Boolean(cm)) fail(id, 'spec.kubeConfig', 'exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified');
  if (sr) {
    onlyFields(sr, ['name', 'key'], id, 'spec.kubeConfig.secretRef');
    const name = str(sr.name, id, 'spec.kubeConfig.secretRef.name', true)!;
    checkName(name, id, 'spec.kubeConfig.secretRef.name');
    const key = str(sr.key, id, 'spec.kubeConfig.secretRef.key') || undefined;
    return { secretRef: { name, ...(key ? { key } : {}) } };
  }
  onlyFields(cm!, ['name'], id, 'spec.kubeConfig.configMapRef');
  const name = str(cm!.name, id, 'spec.kubeConfig.configMapRef.name', true)!;
  checkName(name, id, 'spec.kubeConfig.configMapRef.name');
  return { configMapRef: { name } };
}

/** `spec.decryption`: `provider: sops` and an optional `secretRef`; `serviceAccountName` needs a gate Fluxless does not have. */
function parseDecryption(v: unknown, id: string): DecryptionSpec | undefined {
  const o = objectField(v, id, 'spec.decryption');
  if (!o) return undefined;
  onlyFields(o, ['provider', 'secretRef', 'serviceAccountName'], id, 'spec.decryption');
  const provider = str(o.provider, id, 'spec.decryption.provider', true);
  if (provider !== 'sops') fail(id, 'spec.decryption.provider', `'${provider}' is not supported: the only provider is sops`);
  if (o.serviceAccountName !== undefined && o.serviceAccountName !== null && o.serviceAccountName !== '') {
    throw new FluxlessError(
      FEATURE_GATE_DISABLED,
      `Kustomization ${id}: to use spec.decryption.serviceAccountName for decryption authentication please enable the ObjectLevelWorkloadIdentity feature gate in the controller`,
      { hint: "Fluxless has no object-level workload identity: remove spec.decryption.serviceAccountName (KMS uses the function's own role) or put static credentials in the Secret's sops.aws-kms entry" },
    );
  }
  const sr = objectField(o.secretRef, id, 'spec.decryption.secretRef');
  if (!sr) return { provider: 'sops' };
  onlyFields(sr, ['name'], id, 'spec.decryption.secretRef');
  const name = str(sr.name, id, 'spec.decryption.secretRef.name', true)!;
  checkName(name, id, 'spec.decryption.secretRef.name');
  return { provider: 'sops', secretRef: { name } };
}

/** Runs a CEL compile; its error becomes an InvalidCELExpression error naming the Kustomization. */
function celField<T>(id: string, compile: () => T): T {
  try {
    return compile();
  } catch (err) {
    const e = err as Error & { hint?: string };
    throw new FluxlessError(INVALID_CEL, `Kustomization ${id}: ${e.message}`, { cause: err, hint: e.hint });
  }
}

/** `spec.healthCheckExprs`: `{apiVersion, kind?, current, inProgress?, failed?}` entries, compiled. */
function parseHealthCheckExprs(v: unknown, id: string): HealthCheckSet | undefined {
  const list = arr(v, id, 'spec.healthCheckExprs');
  if (!list.length) return undefined;
  const entries = list.map((e, i): HealthCheckExpression => {
    const o = e as Record<string, unknown>;
    const field = `spec.healthCheckExprs[${i}]`;
    if (!o || typeof o !== 'object' || Array.isArray(o)) fail(id, field, 'must be an object');
    for (const key of Object.keys(o)) {
      if (!['apiVersion', 'kind', 'current', 'inProgress', 'failed'].includes(key)) fail(id, `${field}.${key}`, 'unknown or unsupported field');
    }
    return {
      apiVersion: str(o.apiVersion, id, `${field}.apiVersion`, true)!,
      kind: str(o.kind, id, `${field}.kind`),
      current: str(o.current, id, `${field}.current`, true)!,
      inProgress: str(o.inProgress, id, `${field}.inProgress`),
      failed: str(o.failed, id, `${field}.failed`),
    };
  });
  return celField(id, () => HealthCheckSet.compile(entries, 'spec.healthCheckExprs'));
}

const SELECTOR_FIELDS = ['group', 'version', 'kind', 'name', 'namespace', 'labelSelector', 'annotationSelector'];

/** `spec.ignore`: `{paths: [JSON pointer], target?: selector}` rules, compiled. */
function parseIgnore(v: unknown, id: string): IgnoreRules | undefined {
  const list = arr(v, id, 'spec.ignore');
  if (!list.length) return undefined;
  const rules = list.map((r, i): IgnoreRule => {
    const o = r as Record<string, unknown>;
    const field = `spec.ignore[${i}]`;
    if (!o || typeof o !== 'object' || Array.isArray(o)) fail(id, field, 'must be an object');
    for (const key of Object.keys(o)) if (key !== 'paths' && key !== 'target') fail(id, `${field}.${key}`, 'unknown or unsupported field');
    const paths = arr(o.paths, id, `${field}.paths`).map((p, j) => str(p, id, `${field}.paths[${j}]`, true)!);
    if (!paths.length) fail(id, `${field}.paths`, 'is required (a list of JSON pointers, e.g. /spec/replicas)');
    let target: ObjectSelector | undefined;
    if (o.target !== undefined && o.target !== null) {
      const t = o.target as Record<string, unknown>;
      if (typeof t !== 'object' || Array.isArray(t)) fail(id, `${field}.target`, 'must be an object');
      for (const key of Object.keys(t)) if (!SELECTOR_FIELDS.includes(key)) fail(id, `${field}.target.${key}`, 'unknown or unsupported field');
      target = Object.fromEntries(SELECTOR_FIELDS.map((k) => [k, str(t[k], id, `${field}.target.${k}`)]).filter(([, val]) => val !== undefined));
    }
    return { paths, target };
  });
  try {
    return IgnoreRules.compile(rules, 'spec.ignore');
  } catch (err) {
    throw new ValidationError(`Kustomization ${id}: ${(err as Error).message}`, { cause: err });
  }
}
