/**
 * The HelmRelease API (`helm.toolkit.fluxcd.io/v2`, helm-controller v1.6 / Flux 2.9),
 * validated against the CRD's rules and typed with Flux's defaults applied. Every field is
 * either supported or rejected with a message naming it; nothing is silently ignored.
 */
import { createHash } from 'node:crypto';
import { ValidationError } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import type { KubeConfigSecretRef } from '../kube/remote-kubeconfig.js';
import { goJsonEncode, goStruct } from '../util/gojson.js';
import { helmChartNameOf, helmReleaseName, releaseNamespaceOf } from './names.js';
import { S, validate, type Schema } from './schema.js';
import type { Values, ValuesReference } from './values.js';
import { parseVerification } from '../oci/spec.js';

export const HELMRELEASE_API_VERSION = 'helm.toolkit.fluxcd.io/v2';
export const HELM_TOOLKIT_GROUP = 'helm.toolkit.fluxcd.io';

/** kustomize selector (fluxcd/pkg apis/kustomize Selector). */
export interface KustomizeSelector {
  group?: string;
  version?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  annotationSelector?: string;
  labelSelector?: string;
}
/** A kustomize patch (strategic merge or JSON6902 in YAML), optionally targeted. */
export interface KustomizePatch {
  patch: string;
  target?: KustomizeSelector;
}
/** A kustomize image override. */
export interface KustomizeImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}
/** `postRenderers[]`: only `kustomize` exists in v2. */
export interface PostRenderer {
  kustomize?: { patches: KustomizePatch[]; images: KustomizeImage[] };
}
/** `commonMetadata`. */
export interface CommonMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export type CrdsPolicy = 'Skip' | 'Create' | 'CreateReplace';
export type ServerSideApplyMode = 'enabled' | 'disabled' | 'auto';
export type RemediationStrategy = 'rollback' | 'uninstall';
export type ActionStrategyName = 'RemediateOnFailure' | 'RetryOnFailure';
export type PostRenderStrategy = 'combined' | 'nohooks' | 'separate';
export type DriftDetectionMode = 'enabled' | 'warn' | 'disabled';

/** `spec.install`. `crds` is undefined when unset (the code's default then is Create). */
export interface InstallSpec {
  timeoutMs?: number;
  strategy?: { name: ActionStrategyName; retryIntervalMs?: number };
  remediation: { retries: number; ignoreTestFailures?: boolean; remediateLastFailure?: boolean };
  disableTakeOwnership: boolean;
  disableWait: boolean;
  disableWaitForJobs: boolean;
  disableHooks: boolean;
  disableOpenAPIValidation: boolean;
  disableSchemaValidation: boolean;
  replace: boolean;
  /** Deprecated: use crds: Skip. */
  skipCRDs: boolean;
  crds?: CrdsPolicy;
  createNamespace: boolean;
  /** Default true (Helm 4). */
  serverSideApply: boolean;
}

/** `spec.upgrade`. */
export interface UpgradeSpec {
  timeoutMs?: number;
  strategy?: { name: ActionStrategyName; retryIntervalMs?: number };
  remediation: { retries: number; ignoreTestFailures?: boolean; remediateLastFailure?: boolean; strategy?: RemediationStrategy };
  disableTakeOwnership: boolean;
  disableWait: boolean;
  disableWaitForJobs: boolean;
  disableHooks: boolean;
  disableOpenAPIValidation: boolean;
  disableSchemaValidation: boolean;
  force: boolean;
  preserveValues: boolean;
  cleanupOnFail: boolean;
  crds?: CrdsPolicy;
  /** Default `auto`. */
  serverSideApply: ServerSideApplyMode;
  /** Default `Reinstall`. */
  chartNameChangeStrategy: 'InPlaceUpdate' | 'Reinstall';
}

/** `spec.test`. */
export interface TestSpec {
  enable: boolean;
  timeoutMs?: number;
  ignoreFailures: boolean;
  filters: { name: string; exclude: boolean }[];
}

/** `spec.rollback`. */
export interface RollbackSpec {
  timeoutMs?: number;
  disableWait: boolean;
  disableWaitForJobs: boolean;
  disableHooks: boolean;
  /** No effect with Helm 4 (kept for compatibility, as in Flux). */
  recreate: boolean;
  force: boolean;
  cleanupOnFail: boolean;
  serverSideApply: ServerSideApplyMode;
}

/** `spec.uninstall`. */
export interface UninstallSpec {
  timeoutMs?: number;
  disableHooks: boolean;
  keepHistory: boolean;
  disableWait: boolean;
  /** Default `background`. */
  deletionPropagation: 'background' | 'foreground' | 'orphan';
}

/** `spec.chart` (the HelmChart template). */
export interface HelmChartTemplate {
  metadata?: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: {
    chart: string;
    /** Default `*`. */
    version: string;
    sourceRef: { apiVersion?: string; kind: 'HelmRepository' | 'GitRepository' | 'Bucket'; name: string; namespace?: string };
    /** As written; undefined = the HelmRelease's interval. */
    interval?: string;
    /** Default `ChartVersion`. */
    reconcileStrategy: 'ChartVersion' | 'Revision';
    valuesFiles: string[];
    ignoreMissingValuesFiles: boolean;
    /** `verify` (cosign; keyless without secretRef), passed to the generated HelmChart. */
    verify?: { provider: 'cosign'; secretRef?: { name: string } };
  };
}

/** `spec.chartRef`. */
export interface ChartRef {
  apiVersion?: string;
  kind: 'OCIRepository' | 'HelmChart' | 'ExternalArtifact';
  name: string;
  /** Defaulted to the HelmRelease's namespace. */
  namespace: string;
}

/** `spec.dependsOn[]`. */
export interface DependencyReference {
  name: string;
  /** Defaulted to the HelmRelease's namespace. */
  namespace: string;
  readyExpr?: string;
}

/** `spec.healthCheckExprs[]`. */
export interface CustomHealthCheck {
  apiVersion: string;
  kind?: string;
  current: string;
  inProgress?: string;
  failed?: string;
}

/** `spec.driftDetection.ignore[]`. */
export interface DriftIgnoreRule {
  paths: string[];
  target?: KustomizeSelector;
}

/** `spec.kubeConfig` (meta.KubeConfigReference): exactly one of the two (Flux's CEL rule). */
export interface HelmReleaseKubeConfig {
  secretRef?: KubeConfigSecretRef;
  configMapRef?: { name: string };
}

/** A validated HelmRelease spec with Flux's defaults. */
export interface HelmReleaseSpec {
  chart?: HelmChartTemplate;
  chartRef?: ChartRef;
  interval: string;
  intervalMs: number;
  suspend: boolean;
  releaseName?: string;
  targetNamespace?: string;
  storageNamespace?: string;
  dependsOn: DependencyReference[];
  /** Default 5m. */
  timeoutMs: number;
  /** Default 5; 0 = unlimited. */
  maxHistory: number;
  /** Default true. Fluxless runs a fresh helm process per action either way. */
  persistentClient: boolean;
  driftDetection: { mode: DriftDetectionMode; ignore: DriftIgnoreRule[] };
  install: InstallSpec;
  upgrade: UpgradeSpec;
  test: TestSpec;
  rollback: RollbackSpec;
  uninstall: UninstallSpec;
  valuesFrom: ValuesReference[];
  values?: Values;
  commonMetadata?: CommonMetadata;
  postRenderers: PostRenderer[];
  /** Default `combined` (helm-controller 1.6). */
  postRenderStrategy: PostRenderStrategy;
  /** Default `poller`. */
  waitStrategy: 'poller' | 'legacy';
  healthCheckExprs: CustomHealthCheck[];
  /** The remote cluster to release to (undefined: the management cluster). */
  kubeConfig?: HelmReleaseKubeConfig;
  /** The ServiceAccount to impersonate (before the configured default applies). */
  serviceAccountName?: string;
}

/** A validated HelmRelease. */
export interface HelmRelease {
  apiVersion: string;
  kind: 'HelmRelease';
  metadata: {
    name: string;
    namespace: string;
    generation?: number;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec: HelmReleaseSpec;
  /** The release name Helm gets (`[targetNamespace-]name` or releaseName, shortened past 53 chars). */
  releaseName: string;
  /** Where the chart's objects go (targetNamespace or the HelmRelease's namespace). */
  releaseNamespace: string;
  /**
   * Where Helm keeps the release Secrets. The helm CLI stores releases in the namespace it
   * installs to, so this is always releaseNamespace (see parseHelmRelease).
   */
  storageNamespace: string;
  /** Name of the HelmChart generated from spec.chart (`<namespace>-<name>`). */
  helmChartName: string;
}

const selector: Schema = S.obj({
  group: S.str(), version: S.str(), kind: S.str(), namespace: S.str(), name: S.str(), annotationSelector: S.str(), labelSelector: S.str(),
});
const strategy: Schema = S.obj({ name: S.enumOf('RemediateOnFailure', 'RetryOnFailure'), retryInterval: S.duration() }, ['name']);
const crds = S.enumOf('Skip', 'Create', 'CreateReplace');
const ssaMode = S.enumOf('enabled', 'disabled', 'auto');

/** The CRD rules of helm.toolkit.fluxcd.io/v2 HelmRelease `spec`. */
export const HELMRELEASE_SPEC_SCHEMA: Schema = S.obj(
  {
    chart: S.obj(
      {
        metadata: S.obj({ labels: S.strMap(), annotations: S.strMap() }),
        spec: S.obj(
          {
            chart: S.str({ minLength: 1, maxLength: 2048 }),
            version: S.str(),
            sourceRef: S.obj(
              {
                apiVersion: S.str(),
                kind: S.enumOf('HelmRepository', 'GitRepository', 'Bucket'),
                name: S.str({ minLength: 1, maxLength: 253 }),
                namespace: S.str({ minLength: 1, maxLength: 63 }),
              },
              ['kind', 'name'],
            ),
            interval: S.duration(),
            reconcileStrategy: S.enumOf('ChartVersion', 'Revision'),
            valuesFiles: S.arr(S.str()),
            ignoreMissingValuesFiles: S.bool(),
            verify: S.obj({ provider: S.enumOf('cosign', 'notation'), secretRef: S.obj({ name: S.str() }, ['name']) }, []),
          },
          ['chart', 'sourceRef'],
        ),
      },
      ['spec'],
    ),
    chartRef: S.obj(
      {
        apiVersion: S.str(),
        kind: S.enumOf('OCIRepository', 'HelmChart', 'ExternalArtifact'),
        name: S.str({ minLength: 1, maxLength: 253 }),
        namespace: S.str({ minLength: 1, maxLength: 63 }),
      },
      ['kind', 'name'],
    ),
    interval: S.duration(),
    suspend: S.bool(),
    releaseName: S.str({ minLength: 1, maxLength: 53 }),
    targetNamespace: S.str({ minLength: 1, maxLength: 63 }),
    storageNamespace: S.str({ minLength: 1, maxLength: 63 }),
    dependsOn: S.arr(S.obj({ name: S.str(), namespace: S.str(), readyExpr: S.str() }, ['name'])),
    timeout: S.duration(),
    maxHistory: S.int(),
    persistentClient: S.bool(),
    driftDetection: S.obj({
      mode: S.enumOf('enabled', 'warn', 'disabled'),
      ignore: S.arr(S.obj({ paths: S.arr(S.str()), target: selector }, ['paths'])),
    }),
    install: S.obj({
      timeout: S.duration(),
      strategy,
      remediation: S.obj({ retries: S.int(), ignoreTestFailures: S.bool(), remediateLastFailure: S.bool() }),
      disableTakeOwnership: S.bool(),
      disableWait: S.bool(),
      disableWaitForJobs: S.bool(),
      disableHooks: S.bool(),
      disableOpenAPIValidation: S.bool(),
      disableSchemaValidation: S.bool(),
      replace: S.bool(),
      skipCRDs: S.bool(),
      crds,
      createNamespace: S.bool(),
      serverSideApply: S.bool(),
    }),
    upgrade: S.obj({
      timeout: S.duration(),
      strategy,
      remediation: S.obj({ retries: S.int(), ignoreTestFailures: S.bool(), remediateLastFailure: S.bool(), strategy: S.enumOf('rollback', 'uninstall') }),
      disableTakeOwnership: S.bool(),
      disableWait: S.bool(),
      disableWaitForJobs: S.bool(),
      disableHooks: S.bool(),
      disableOpenAPIValidation: S.bool(),
      disableSchemaValidation: S.bool(),
      force: S.bool(),
      preserveValues: S.bool(),
      cleanupOnFail: S.bool(),
      crds,
      serverSideApply: ssaMode,
      chartNameChangeStrategy: S.enumOf('InPlaceUpdate', 'Reinstall'),
    }),
    test: S.obj({
      enable: S.bool(),
      timeout: S.duration(),
      ignoreFailures: S.bool(),
      filters: S.arr(S.obj({ name: S.str({ minLength: 1, maxLength: 253 }), exclude: S.bool() }, ['name'])),
    }),
    rollback: S.obj({
      timeout: S.duration(),
      disableWait: S.bool(),
      disableWaitForJobs: S.bool(),
      disableHooks: S.bool(),
      recreate: S.bool(),
      force: S.bool(),
      cleanupOnFail: S.bool(),
      serverSideApply: ssaMode,
    }),
    uninstall: S.obj({
      timeout: S.duration(),
      disableHooks: S.bool(),
      keepHistory: S.bool(),
      disableWait: S.bool(),
      deletionPropagation: S.enumOf('background', 'foreground', 'orphan'),
    }),
    valuesFrom: S.arr(
      S.obj(
        {
          kind: S.enumOf('Secret', 'ConfigMap'),
          name: S.str({ minLength: 1, maxLength: 253 }),
          valuesKey: S.str({ maxLength: 253, pattern: /^[-._a-zA-Z0-9]+$/ }),
          targetPath: S.str({ maxLength: 250, pattern: /^([a-zA-Z0-9_\-.\\/]|\[[0-9]{1,5}\])+$/ }),
          optional: S.bool(),
          literal: S.bool(),
        },
        ['kind', 'name'],
      ),
    ),
    values: S.json(),
    commonMetadata: S.obj({ annotations: S.strMap(), labels: S.strMap() }),
    postRenderers: S.arr(
      S.obj({
        kustomize: S.obj({
          patches: S.arr(S.obj({ patch: S.str(), target: selector }, ['patch'])),
          images: S.arr(S.obj({ name: S.str(), newName: S.str(), newTag: S.str(), digest: S.str() }, ['name'])),
        }),
      }),
    ),
    postRenderStrategy: S.enumOf('nohooks', 'combined', 'separate'),
    waitStrategy: S.obj({ name: S.enumOf('poller', 'legacy') }, ['name']),
    healthCheckExprs: S.arr(S.obj({ apiVersion: S.str(), kind: S.str(), current: S.str(), inProgress: S.str(), failed: S.str() }, ['apiVersion', 'current'])),
    kubeConfig: S.obj({
      secretRef: S.obj({ name: S.str(), key: S.str() }, ['name']),
      configMapRef: S.obj({ name: S.str() }, ['name']),
    }),
    serviceAccountName: S.str({ minLength: 1, maxLength: 253 }),
  },
  ['interval'],
);

type Raw = Record<string, unknown>;

function obj(v: unknown): Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : {};
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}
function bool(v: unknown): boolean {
  return v === true;
}
function optBool(v: unknown): boolean | undefined {
  return typeof v === 'boolean' ? v : undefined;
}
function ms(v: unknown): number | undefined {
  return typeof v === 'string' && v ? parseDuration(v) : undefined;
}
function strMap(v: unknown): Record<string, string> | undefined {
  return typeof v === 'object' && v !== null ? (v as Record<string, string>) : undefined;
}
function selectorOf(v: unknown): KustomizeSelector | undefined {
  if (v === undefined || v === null) return undefined;
  const s = obj(v);
  const out: KustomizeSelector = {};
  for (const k of ['group', 'version', 'kind', 'namespace', 'name', 'annotationSelector', 'labelSelector'] as const) {
    const x = str(s[k]);
    if (x !== undefined) out[k] = x;
  }
  return out;
}
function strategyOf(v: unknown): InstallSpec['strategy'] {
  if (v === undefined || v === null) return undefined;
  const s = obj(v);
  return { name: s.name as ActionStrategyName, ...(ms(s.retryInterval) !== undefined ? { retryIntervalMs: ms(s.retryInterval) } : {}) };
}

/** Fails with every schema problem of a Flux object, one per line. */
function failProblems(id: string, problems: { path: string; message: string }[]): never {
  const lines = problems.map((p) => `${p.path}: ${p.message}`);
  throw new ValidationError(`${id}: ${lines.length === 1 ? lines[0] : `invalid spec:\n  ${lines.join('\n  ')}`}`, {
    hint: 'fix the field as the message says; the HelmRelease API is documented at https://fluxcd.io/flux/components/helm/helmreleases/',
  });
}

/** Reads and validates `metadata`, the apiVersion and the kind; returns name, namespace and an id for messages. */
export function objectIdentity(
  o: unknown,
  kind: string,
  apiVersions: readonly string[],
  defaultNamespace = 'default',
): { raw: Raw; name: string; namespace: string; id: string; meta: Raw } {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new ValidationError(`${kind}: expected an object`);
  const raw = o as Raw;
  const meta = obj(raw.metadata);
  const name = typeof meta.name === 'string' ? meta.name : '';
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : defaultNamespace;
  const id = `${kind} ${namespace}/${name || '<unnamed>'}`;
  if (raw.kind !== kind) throw new ValidationError(`${id}: kind is '${String(raw.kind)}', expected ${kind}`);
  if (typeof raw.apiVersion !== 'string' || !apiVersions.includes(raw.apiVersion)) {
    throw new ValidationError(`${id}: apiVersion '${String(raw.apiVersion)}' is not supported: use ${apiVersions[0]}`, {
      hint: raw.apiVersion === 'helm.toolkit.fluxcd.io/v2beta1' || raw.apiVersion === 'helm.toolkit.fluxcd.io/v2beta2' ? 'run `flux migrate` to move to helm.toolkit.fluxcd.io/v2' : undefined,
    });
  }
  if (!name) throw new ValidationError(`${id}: metadata.name: Required value`);
  if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(name) || name.length > 253) {
    throw new ValidationError(`${id}: metadata.name: Invalid value: ${JSON.stringify(name)}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'`);
  }
  return { raw, name, namespace, id, meta };
}

/** The metadata fields a parsed Flux object keeps. */
export function keptMetadata(meta: Raw, name: string, namespace: string): HelmRelease['metadata'] {
  const labels = strMap(meta.labels);
  const annotations = strMap(meta.annotations);
  return {
    name,
    namespace,
    ...(typeof meta.generation === 'number' ? { generation: meta.generation } : {}),
    ...(typeof meta.uid === 'string' ? { uid: meta.uid } : {}),
    ...(labels ? { labels } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

/**
 * Validates a HelmRelease (already parsed from YAML/JSON) and returns it typed with Flux's
 * defaults. Throws ValidationError naming the object and every offending field.
 *
 * `chart.spec.verify` (cosign) is passed to the generated HelmChart (`notation` is refused). Because the helm CLI keeps a release's
 * storage in the namespace it installs to, a `storageNamespace` that differs from the
 * release namespace is rejected too; without it, storage is the release namespace.
 */
export function parseHelmRelease(o: unknown, opts: { defaultNamespace?: string } = {}): HelmRelease {
  const { raw, name, namespace, id, meta } = objectIdentity(o, 'HelmRelease', [HELMRELEASE_API_VERSION], opts.defaultNamespace);
  if (raw.spec === undefined || raw.spec === null) throw new ValidationError(`${id}: spec: Required value`);
  const problems = validate(HELMRELEASE_SPEC_SCHEMA, raw.spec, 'spec');
  const spec = obj(raw.spec);

  // x-kubernetes-validations
  const hasChart = spec.chart !== undefined && spec.chart !== null;
  const hasRef = spec.chartRef !== undefined && spec.chartRef !== null;
  if (hasChart === hasRef) problems.push({ path: 'spec', message: 'Invalid value: "object": either chart or chartRef must be set' });
  const installStrategy = obj(obj(spec.install).strategy);
  if (installStrategy.retryInterval !== undefined && installStrategy.name === 'RemediateOnFailure') {
    problems.push({ path: 'spec.install.strategy', message: `Invalid value: "object": .retryInterval cannot be set when .name is 'RemediateOnFailure'` });
  }
  const upgradeStrategy = obj(obj(spec.upgrade).strategy);
  if (upgradeStrategy.retryInterval !== undefined && upgradeStrategy.name !== 'RetryOnFailure') {
    problems.push({ path: 'spec.upgrade.strategy', message: `Invalid value: "object": .retryInterval can only be set when .name is 'RetryOnFailure'` });
  }
  for (const [i, p] of ((spec.postRenderers as unknown[]) ?? []).entries()) {
    for (const [j, patch] of ((obj(obj(p).kustomize).patches as unknown[]) ?? []).entries()) {
      if (typeof obj(patch).patch === 'string' && !(obj(patch).patch as string).trim()) {
        problems.push({ path: `spec.postRenderers[${i}].kustomize.patches[${j}].patch`, message: 'Required value: the patch is empty' });
      }
    }
  }
  if (spec.kubeConfig !== undefined && spec.kubeConfig !== null) {
    const kc = obj(spec.kubeConfig);
    const has = (k: string) => kc[k] !== undefined && kc[k] !== null;
    if (has('secretRef') === has('configMapRef')) {
      problems.push({ path: 'spec.kubeConfig', message: 'Invalid value: "object": exactly one of spec.kubeConfig.configMapRef or spec.kubeConfig.secretRef must be specified' });
    }
  }
  if (problems.length) failProblems(id, problems);

  const intervalMs = parseDuration(spec.interval as string, 'spec.interval');
  const targetNamespace = str(spec.targetNamespace);
  const storageNamespace = str(spec.storageNamespace);
  const releaseNamespace = targetNamespace ?? namespace;
  if (storageNamespace && storageNamespace !== releaseNamespace) {
    throw new ValidationError(
      `${id}: spec.storageNamespace '${storageNamespace}' differs from the release namespace '${releaseNamespace}': not supported by Fluxless, which drives the helm CLI, and the CLI keeps a release's storage in the namespace it installs to`,
      { hint: `remove spec.storageNamespace, or set it to '${releaseNamespace}'` },
    );
  }

  const chartRaw = obj(spec.chart);
  const chartSpecRaw = obj(chartRaw.spec);
  const chart: HelmChartTemplate | undefined = hasChart
    ? {
        ...(chartRaw.metadata ? { metadata: { ...(strMap(obj(chartRaw.metadata).labels) ? { labels: strMap(obj(chartRaw.metadata).labels) } : {}), ...(strMap(obj(chartRaw.metadata).annotations) ? { annotations: strMap(obj(chartRaw.metadata).annotations) } : {}) } } : {}),
        spec: {
          chart: chartSpecRaw.chart as string,
          version: str(chartSpecRaw.version) ?? '*',
          sourceRef: (() => {
            const r = obj(chartSpecRaw.sourceRef);
            return {
              ...(str(r.apiVersion) ? { apiVersion: str(r.apiVersion) } : {}),
              kind: r.kind as HelmChartTemplate['spec']['sourceRef']['kind'],
              name: r.name as string,
              ...(str(r.namespace) ? { namespace: str(r.namespace) } : {}),
            };
          })(),
          ...(str(chartSpecRaw.interval) ? { interval: str(chartSpecRaw.interval) } : {}),
          reconcileStrategy: (str(chartSpecRaw.reconcileStrategy) ?? 'ChartVersion') as 'ChartVersion' | 'Revision',
          valuesFiles: ((chartSpecRaw.valuesFiles as string[] | undefined) ?? []).slice(),
          ignoreMissingValuesFiles: bool(chartSpecRaw.ignoreMissingValuesFiles),
          ...(() => {
            const v = parseVerification(chartSpecRaw.verify, 'spec.chart.spec.verify', (msg) => {
              throw new ValidationError(`${id}: ${msg}`);
            }, { trustedRoot: false });
            return v ? { verify: { provider: v.provider, ...(v.secretRef ? { secretRef: v.secretRef } : {}) } } : {};
          })(),
        },
      }
    : undefined;
  const refRaw = obj(spec.chartRef);
  const chartRef: ChartRef | undefined = hasRef
    ? {
        ...(str(refRaw.apiVersion) ? { apiVersion: str(refRaw.apiVersion) } : {}),
        kind: refRaw.kind as ChartRef['kind'],
        name: refRaw.name as string,
        namespace: str(refRaw.namespace) ?? namespace,
      }
    : undefined;

  const inst = obj(spec.install);
  const instRem = obj(inst.remediation);
  const upg = obj(spec.upgrade);
  const upgRem = obj(upg.remediation);
  const tst = obj(spec.test);
  const rb = obj(spec.rollback);
  const un = obj(spec.uninstall);
  const dd = obj(spec.driftDetection);

  const typed: HelmReleaseSpec = {
    ...(chart ? { chart } : {}),
    ...(chartRef ? { chartRef } : {}),
    interval: spec.interval as string,
    intervalMs,
    suspend: bool(spec.suspend),
    ...(str(spec.releaseName) ? { releaseName: str(spec.releaseName) } : {}),
    ...(targetNamespace ? { targetNamespace } : {}),
    ...(storageNamespace ? { storageNamespace } : {}),
    dependsOn: ((spec.dependsOn as Raw[] | undefined) ?? []).map((d) => ({
      name: d.name as string,
      namespace: str(d.namespace) ?? namespace,
      ...(str(d.readyExpr) ? { readyExpr: str(d.readyExpr) } : {}),
    })),
    timeoutMs: ms(spec.timeout) ?? 300_000,
    maxHistory: typeof spec.maxHistory === 'number' ? spec.maxHistory : 5,
    persistentClient: spec.persistentClient === undefined || spec.persistentClient === null ? true : bool(spec.persistentClient),
    driftDetection: {
      mode: (str(dd.mode) ?? 'disabled') as DriftDetectionMode,
      ignore: ((dd.ignore as Raw[] | undefined) ?? []).map((r) => ({ paths: (r.paths as string[]).slice(), ...(r.target ? { target: selectorOf(r.target) } : {}) })),
    },
    install: {
      ...(ms(inst.timeout) !== undefined ? { timeoutMs: ms(inst.timeout) } : {}),
      ...(inst.strategy ? { strategy: strategyOf(inst.strategy) } : {}),
      remediation: {
        retries: typeof instRem.retries === 'number' ? instRem.retries : 0,
        ...(optBool(instRem.ignoreTestFailures) !== undefined ? { ignoreTestFailures: optBool(instRem.ignoreTestFailures) } : {}),
        ...(optBool(instRem.remediateLastFailure) !== undefined ? { remediateLastFailure: optBool(instRem.remediateLastFailure) } : {}),
      },
      disableTakeOwnership: bool(inst.disableTakeOwnership),
      disableWait: bool(inst.disableWait),
      disableWaitForJobs: bool(inst.disableWaitForJobs),
      disableHooks: bool(inst.disableHooks),
      disableOpenAPIValidation: bool(inst.disableOpenAPIValidation),
      disableSchemaValidation: bool(inst.disableSchemaValidation),
      replace: bool(inst.replace),
      skipCRDs: bool(inst.skipCRDs),
      ...(str(inst.crds) ? { crds: str(inst.crds) as CrdsPolicy } : {}),
      createNamespace: bool(inst.createNamespace),
      serverSideApply: inst.serverSideApply === undefined || inst.serverSideApply === null ? true : bool(inst.serverSideApply),
    },
    upgrade: {
      ...(ms(upg.timeout) !== undefined ? { timeoutMs: ms(upg.timeout) } : {}),
      ...(upg.strategy ? { strategy: strategyOf(upg.strategy) } : {}),
      remediation: {
        retries: typeof upgRem.retries === 'number' ? upgRem.retries : 0,
        ...(optBool(upgRem.ignoreTestFailures) !== undefined ? { ignoreTestFailures: optBool(upgRem.ignoreTestFailures) } : {}),
        ...(optBool(upgRem.remediateLastFailure) !== undefined ? { remediateLastFailure: optBool(upgRem.remediateLastFailure) } : {}),
        ...(str(upgRem.strategy) ? { strategy: str(upgRem.strategy) as RemediationStrategy } : {}),
      },
      disableTakeOwnership: bool(upg.disableTakeOwnership),
      disableWait: bool(upg.disableWait),
      disableWaitForJobs: bool(upg.disableWaitForJobs),
      disableHooks: bool(upg.disableHooks),
      disableOpenAPIValidation: bool(upg.disableOpenAPIValidation),
      disableSchemaValidation: bool(upg.disableSchemaValidation),
      force: bool(upg.force),
      preserveValues: bool(upg.preserveValues),
      cleanupOnFail: bool(upg.cleanupOnFail),
      ...(str(upg.crds) ? { crds: str(upg.crds) as CrdsPolicy } : {}),
      serverSideApply: (str(upg.serverSideApply) ?? 'auto') as ServerSideApplyMode,
      chartNameChangeStrategy: (str(upg.chartNameChangeStrategy) ?? 'Reinstall') as 'InPlaceUpdate' | 'Reinstall',
    },
    test: {
      enable: bool(tst.enable),
      ...(ms(tst.timeout) !== undefined ? { timeoutMs: ms(tst.timeout) } : {}),
      ignoreFailures: bool(tst.ignoreFailures),
      filters: ((tst.filters as Raw[] | undefined) ?? []).map((f) => ({ name: f.name as string, exclude: bool(f.exclude) })),
    },
    rollback: {
      ...(ms(rb.timeout) !== undefined ? { timeoutMs: ms(rb.timeout) } : {}),
      disableWait: bool(rb.disableWait),
      disableWaitForJobs: bool(rb.disableWaitForJobs),
      disableHooks: bool(rb.disableHooks),
      recreate: bool(rb.recreate),
      force: bool(rb.force),
      cleanupOnFail: bool(rb.cleanupOnFail),
      serverSideApply: (str(rb.serverSideApply) ?? 'auto') as ServerSideApplyMode,
    },
    uninstall: {
      ...(ms(un.timeout) !== undefined ? { timeoutMs: ms(un.timeout) } : {}),
      disableHooks: bool(un.disableHooks),
      keepHistory: bool(un.keepHistory),
      disableWait: bool(un.disableWait),
      deletionPropagation: (str(un.deletionPropagation) ?? 'background') as UninstallSpec['deletionPropagation'],
    },
    valuesFrom: ((spec.valuesFrom as Raw[] | undefined) ?? []).map((r) => ({
      kind: r.kind as 'ConfigMap' | 'Secret',
      name: r.name as string,
      valuesKey: str(r.valuesKey) ?? 'values.yaml',
      ...(str(r.targetPath) ? { targetPath: str(r.targetPath) } : {}),
      optional: bool(r.optional),
      literal: bool(r.literal),
    })),
    ...(spec.values !== undefined && spec.values !== null ? { values: structuredClone(spec.values as Values) } : {}),
    ...(spec.commonMetadata ? { commonMetadata: commonMetadataOf(spec.commonMetadata) } : {}),
    postRenderers: ((spec.postRenderers as Raw[] | undefined) ?? []).map((p) => {
      if (!p.kustomize) return {};
      const k = obj(p.kustomize);
      return {
        kustomize: {
          patches: ((k.patches as Raw[] | undefined) ?? []).map((x) => ({ patch: x.patch as string, ...(x.target ? { target: selectorOf(x.target) } : {}) })),
          images: ((k.images as Raw[] | undefined) ?? []).map((x) => ({
            name: x.name as string,
            ...(str(x.newName) ? { newName: str(x.newName) } : {}),
            ...(str(x.newTag) ? { newTag: str(x.newTag) } : {}),
            ...(str(x.digest) ? { digest: str(x.digest) } : {}),
          })),
        },
      };
    }),
    postRenderStrategy: (str(spec.postRenderStrategy) ?? 'combined') as PostRenderStrategy,
    waitStrategy: (str(obj(spec.waitStrategy).name) ?? 'poller') as 'poller' | 'legacy',
    healthCheckExprs: ((spec.healthCheckExprs as Raw[] | undefined) ?? []).map((h) => ({
      apiVersion: h.apiVersion as string,
      ...(str(h.kind) ? { kind: str(h.kind) } : {}),
      current: h.current as string,
      ...(str(h.inProgress) ? { inProgress: str(h.inProgress) } : {}),
      ...(str(h.failed) ? { failed: str(h.failed) } : {}),
    })),
    ...(spec.kubeConfig ? { kubeConfig: kubeConfigOf(spec.kubeConfig) } : {}),
    ...(str(spec.serviceAccountName) ? { serviceAccountName: str(spec.serviceAccountName) } : {}),
  };

  const naming = { name, namespace, releaseName: typed.releaseName, targetNamespace };
  return {
    apiVersion: raw.apiVersion as string,
    kind: 'HelmRelease',
    metadata: keptMetadata(meta, name, namespace),
    spec: typed,
    releaseName: helmReleaseName(naming),
    releaseNamespace: releaseNamespaceOf(naming),
    storageNamespace: releaseNamespace,
    helmChartName: helmChartNameOf({ name, namespace }),
  };
}

function kubeConfigOf(v: unknown): HelmReleaseKubeConfig {
  const kc = obj(v);
  if (kc.secretRef) {
    const r = obj(kc.secretRef);
    return { secretRef: { name: r.name as string, ...(str(r.key) ? { key: str(r.key) } : {}) } };
  }
  return { configMapRef: { name: obj(kc.configMapRef).name as string } };
}

function commonMetadataOf(v: unknown): CommonMetadata {
  const c = obj(v);
  return { ...(strMap(c.labels) ? { labels: strMap(c.labels) } : {}), ...(strMap(c.annotations) ? { annotations: strMap(c.annotations) } : {}) };
}

function selectorStruct(s: KustomizeSelector | undefined) {
  if (!s) return undefined;
  return goStruct([
    ['group', s.group, 'omitempty'],
    ['version', s.version, 'omitempty'],
    ['kind', s.kind, 'omitempty'],
    ['namespace', s.namespace, 'omitempty'],
    ['name', s.name, 'omitempty'],
    ['annotationSelector', s.annotationSelector, 'omitempty'],
    ['labelSelector', s.labelSelector, 'omitempty'],
  ]);
}

function sha256(s: string): string {
  return 'sha256:' + createHash('sha256').update(s).digest('hex');
}

/** helm-controller postrender.Digest: sha256 of the JSON of spec.postRenderers (`status.observedPostRenderersDigest`). */
export function postRenderersDigest(postRenderers: readonly PostRenderer[]): string {
  const list = postRenderers.length
    ? postRenderers.map((p) =>
        goStruct([
          [
            'kustomize',
            p.kustomize
              ? goStruct([
                  ['patches', p.kustomize.patches.map((x) => goStruct([['patch', x.patch], ['target', selectorStruct(x.target), 'omitempty']])), 'omitempty'],
                  [
                    'images',
                    p.kustomize.images.map((x) => goStruct([['name', x.name], ['newName', x.newName, 'omitempty'], ['newTag', x.newTag, 'omitempty'], ['digest', x.digest, 'omitempty']])),
                    'omitempty',
                  ],
                ])
              : undefined,
            'omitempty',
          ],
        ]),
      )
    : null;
  return sha256(goJsonEncode(list));
}

/** helm-controller postrender.CommonMetadataDigest (`status.observedCommonMetadataDigest`). */
export function commonMetadataDigest(cm: CommonMetadata | undefined): string {
  const v = cm ? goStruct([['annotations', cm.annotations, 'omitempty'], ['labels', cm.labels, 'omitempty']]) : null;
  return sha256(goJsonEncode(v));
}
