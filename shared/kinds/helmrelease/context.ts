/**
 * What the phases and actions of one HelmRelease reconcile share (helm-controller's
 * Request: the object, the loaded chart and the composed values, plus Fluxless's
 * services), the feature gates, and the active remediation and retry strategies
 * (api/v2 GetActiveRemediation / GetActiveRetry) that follow the last attempted action.
 */
import type { HealthCheckSet } from '../../cel/index.js';
import type { ChartMetadata } from '../../helm/index-file.js';
import type { HelmRelease, RemediationStrategy } from '../../helm/release-spec.js';
import type { ReleaseSet } from '../../helm/storage.js';
import type { Values } from '../../helm/values.js';
import type { KubeObject, ObjectKey } from '../../kube/object.js';
import type { Target } from '../../kube/targets.js';
import type { ReconcileServices, ReconcileSettings } from '../../reconcile/contract.js';
import type { Logger } from '../../util/log.js';
import type { WorkingStatus } from './status-work.js';
import type { ReleaseHelm } from './target.js';

/** A chart ready for helm: on disk, with its metadata and CRDs. */
export interface LoadedChart {
  name: string;
  version: string;
  appVersion?: string;
  metadata: ChartMetadata;
  /** The .tgz as helm gets it (the version rewritten when digest tracking applies). */
  data: Buffer;
  /** The .tgz on disk. */
  path: string;
  /** `sha256:` of the source artifact the chart came from. */
  artifactDigest: string;
  /** The CRDs of `crds/` (the chart's and its subcharts'), parsed once. */
  crds(): Promise<{ crds: KubeObject[]; ignored: string[] }>;
}

/** helm-controller's feature gates (Flux 2.9 defaults), read from the reconcile settings when set. */
export interface HelmGates {
  /** `DefaultToRetryOnFailure` (off). */
  defaultToRetryOnFailure: boolean;
  /** `AdditiveCELDependencyCheck` (off). */
  additiveCELDependencyCheck: boolean;
  /** `DisableChartDigestTracking` (off). */
  disableChartDigestTracking: boolean;
  /** `ExternalArtifact`: chartRef to an ExternalArtifact (on in Fluxless, whose ArtifactGenerator produces them). */
  externalArtifact: boolean;
}

/** The gates in effect for these settings. */
export function helmGatesOf(settings: ReconcileSettings): HelmGates {
  const s = settings as ReconcileSettings & Partial<HelmGates>;
  return {
    defaultToRetryOnFailure: s.defaultToRetryOnFailure ?? false,
    additiveCELDependencyCheck: s.additiveCELDependencyCheck ?? false,
    disableChartDigestTracking: s.disableChartDigestTracking ?? false,
    externalArtifact: s.externalArtifact ?? true,
  };
}

/** One HelmRelease reconcile, from the values on (after the chart was loaded). */
export interface ReleaseContext {
  svc: ReconcileServices;
  key: ObjectKey;
  log: Logger;
  signal?: AbortSignal;
  hr: HelmRelease;
  /** spec as written (to tell an absent field from an empty one). */
  rawSpec: Record<string, unknown>;
  annotations: Record<string, string>;
  /** The reconcile request value (annotation `reconcile.fluxcd.io/requestedAt`, or the CLI's). */
  requestedAt?: string;
  w: WorkingStatus;
  chart: LoadedChart;
  values: Values;
  valuesDigest: string;
  /** Values taken from Secrets: never shown in messages. */
  redact: string[];
  healthExprs?: HealthCheckSet;
  /** status.observedGeneration when the reconcile started. */
  initialObservedGeneration: number;
  gates: HelmGates;
  /**
   * Where the release lives: storage, helm, drift, wait and CRDs use its client (impersonating
   * when Flux impersonates) and discovery; values and sources stay on `svc.client`.
   */
  target: Target;
  /** helm bound to the target (created on first use: a no-op never needs one). */
  runner(): Promise<ReleaseHelm>;
  /** The storage as the last state determination read it (what an action changes is compared with it). */
  lastSet?: ReleaseSet;
  /**
   * The storage as an install or upgrade read it back after its last write, with nothing
   * written by us since: the next state determination takes it instead of listing again
   * (it is the same read a LIST made then would return). Taken once.
   */
  settledSet?: ReleaseSet;
}

/** The remediation settings of one action kind (api/v2 Remediation). */
export interface Remediation {
  action: 'install' | 'upgrade';
  retries: number;
  getStrategy(): RemediationStrategy;
  failureCount(): number;
  increment(): void;
  retriesExhausted(): boolean;
  mustRemediateLastFailure(): boolean;
  mustIgnoreTestFailures(def: boolean): boolean;
  isUninstallAfterUpgrade(): boolean;
}

/** The install or upgrade remediation of a reconcile. */
export function remediationOf(ctx: Pick<ReleaseContext, 'hr' | 'w'>, action: 'install' | 'upgrade'): Remediation {
  const r = action === 'install' ? ctx.hr.spec.install.remediation : ctx.hr.spec.upgrade.remediation;
  const counter = action === 'install' ? 'installFailures' : 'upgradeFailures';
  const failureCount = () => ctx.w.f[counter] ?? 0;
  const strategy = action === 'install' ? 'uninstall' : (ctx.hr.spec.upgrade.remediation.strategy ?? 'rollback');
  return {
    action,
    retries: r.retries,
    getStrategy: () => strategy,
    failureCount,
    increment: () => ctx.w.increment(counter),
    retriesExhausted: () => r.retries >= 0 && failureCount() > r.retries,
    mustRemediateLastFailure: () => r.remediateLastFailure ?? (action === 'upgrade' ? r.retries > 0 : false),
    mustIgnoreTestFailures: (def) => r.ignoreTestFailures ?? def,
    isUninstallAfterUpgrade: () => action === 'upgrade' && strategy === 'uninstall',
  };
}

/** GetActiveRemediation: the remediation of status.lastAttemptedReleaseAction. */
export function activeRemediation(ctx: Pick<ReleaseContext, 'hr' | 'w'>): Remediation | undefined {
  const a = ctx.w.f.lastAttemptedReleaseAction;
  return a === 'install' || a === 'upgrade' ? remediationOf(ctx, a) : undefined;
}

/** The RetryOnFailure strategy of an action (its retryInterval, default 5m), if it applies. */
export function retryOf(ctx: Pick<ReleaseContext, 'hr' | 'gates'>, action: 'install' | 'upgrade'): { retryIntervalMs: number } | undefined {
  const s = action === 'install' ? ctx.hr.spec.install.strategy : ctx.hr.spec.upgrade.strategy;
  if (!s) return ctx.gates.defaultToRetryOnFailure ? { retryIntervalMs: 300_000 } : undefined;
  if (s.name !== 'RetryOnFailure') return undefined;
  return { retryIntervalMs: s.retryIntervalMs ?? 300_000 };
}

/** GetActiveRetry: the retry strategy of status.lastAttemptedReleaseAction. */
export function activeRetry(ctx: Pick<ReleaseContext, 'hr' | 'w' | 'gates'>): { retryIntervalMs: number } | undefined {
  const a = ctx.w.f.lastAttemptedReleaseAction;
  return a === 'install' || a === 'upgrade' ? retryOf(ctx, a) : undefined;
}

/** The timeout of an action: its own, else spec.timeout. */
export function actionTimeoutMs(ctx: Pick<ReleaseContext, 'hr'>, action: 'install' | 'upgrade' | 'test' | 'rollback' | 'uninstall' | 'other'): number {
  const s = ctx.hr.spec;
  const own = action === 'install' ? s.install.timeoutMs : action === 'upgrade' ? s.upgrade.timeoutMs : action === 'test' ? s.test.timeoutMs : action === 'rollback' ? s.rollback.timeoutMs : action === 'uninstall' ? s.uninstall.timeoutMs : undefined;
  return own ?? s.timeoutMs;
}

/** meta.HandleAnnotationRequest: records the annotation's value, true when it is a new request matching requestedAt. */
export function handleAnnotationRequest(ctx: Pick<ReleaseContext, 'annotations' | 'requestedAt' | 'w'>, annotation: string, field: 'lastHandledForceAt' | 'lastHandledResetAt'): boolean {
  const requestAt = ctx.annotations[annotation];
  if (requestAt === undefined) return false;
  const last = ctx.w.f[field];
  ctx.w.f[field] = requestAt;
  return ctx.requestedAt !== undefined && requestAt === ctx.requestedAt && requestAt !== last;
}

/** The annotation that forces a release (`flux reconcile hr --force`). */
export const FORCE_ANNOTATION = 'reconcile.fluxcd.io/forceAt';
/** The annotation that resets the failure counters (`flux reconcile hr --reset`). */
export const RESET_ANNOTATION = 'reconcile.fluxcd.io/resetAt';
/** The reconcile request annotation. */
export const REQUESTED_AT_ANNOTATION = 'reconcile.fluxcd.io/requestedAt';
