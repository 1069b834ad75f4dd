/**
 * Typed errors of the Helm building blocks. Each carries the Flux condition reason a
 * reconciler writes (`reason`), so status messages match Flux's.
 */
import { FluxlessError, ValidationError } from '../util/errors.js';

/** A Flux object's spec is invalid; `reason` is the condition reason (e.g. `URLInvalid`). */
export class SpecError extends ValidationError {
  readonly reason: string;
  constructor(message: string, reason = 'InvalidSpec', options?: { cause?: unknown; hint?: string }) {
    super(message, options);
    this.reason = reason;
  }
}

/** Condition reasons of a failed chart repository access (source-controller). */
export type RepositoryErrorReason = 'AuthenticationFailed' | 'IndexationFailed' | 'Failed' | 'URLInvalid';

/** Fetching a HelmRepository index or a chart from it failed. */
export class RepositoryError extends FluxlessError {
  readonly reason: RepositoryErrorReason;
  /** HTTP status when the server answered. */
  readonly status?: number;
  constructor(reason: RepositoryErrorReason, message: string, options?: { cause?: unknown; hint?: string; status?: number }) {
    super(`Repository${reason}`, message, options);
    this.reason = reason;
    this.status = options?.status;
  }
}

/** source-controller's chart BuildErrorReason values (reason, summary). */
export const CHART_BUILD_REASONS = {
  ChartReference: { reason: 'InvalidChartReference', summary: 'invalid chart reference' },
  ChartPull: { reason: 'ChartPullError', summary: 'chart pull error' },
  ChartMetadataPatch: { reason: 'MetadataPatchError', summary: 'chart metadata patch error' },
  ValuesFilesMerge: { reason: 'ValuesFilesError', summary: 'values files merge error' },
  DependencyBuild: { reason: 'DependencyBuildError', summary: 'dependency build error' },
  ChartPackage: { reason: 'ChartPackageError', summary: 'chart package error' },
  Unknown: { reason: 'Unknown', summary: 'unknown build error' },
} as const;

/** Which step of a chart build failed. */
export type ChartBuildStep = keyof typeof CHART_BUILD_REASONS;

/**
 * A chart could not be selected, pulled, patched or packaged. The message is Flux's
 * BuildError text (`<summary>: <detail>`); `reason` is the condition reason.
 */
export class ChartBuildError extends FluxlessError {
  readonly step: ChartBuildStep;
  readonly reason: string;
  /** Flux treats these as Stalled (no retry helps until the spec changes). */
  readonly persistent: boolean;
  constructor(step: ChartBuildStep, detail: string, options?: { cause?: unknown; hint?: string }) {
    const r = CHART_BUILD_REASONS[step];
    super(r.reason, `${r.summary}: ${detail}`, options);
    this.step = step;
    this.reason = r.reason;
    this.persistent = step === 'ChartReference' || step === 'ChartMetadataPatch' || step === 'ValuesFilesMerge';
  }
}

/** What kind of failure a helm command had, from its stderr. */
export type HelmFailureKind =
  /** The release does not exist (or has no deployed revision). */
  | 'ReleaseNotFound'
  /** Another install/upgrade/rollback holds the release (pending-* status). */
  | 'ReleaseLocked'
  /** The name is taken by a release that is not ours to install over. */
  | 'NameInUse'
  /** The chart did not render (template/values/schema error). */
  | 'ChartRender'
  /** The chart could not be loaded (bad archive, missing dependency). */
  | 'ChartLoad'
  /** Rendered objects were refused by the API server, or conflict with existing objects. */
  | 'Apply'
  /** Waiting for resources or hooks exceeded the timeout. */
  | 'Timeout'
  /** A hook (including a test) failed. */
  | 'HookFailed'
  /** The API server could not be reached, or refused our credentials. */
  | 'KubeUnreachable'
  /** Access denied (RBAC, impersonation). */
  | 'Forbidden'
  /** Our post-renderer failed. */
  | 'PostRender'
  /** The command was cancelled (abort signal) or killed (memory, time). */
  | 'Aborted'
  | 'Unknown';

/**
 * A helm command failed. `message` is helm's error, cleaned of host paths and secrets;
 * `kind` classifies it; `exitCode` is the process exit code (undefined when killed).
 */
export class HelmCommandError extends FluxlessError {
  readonly kind: HelmFailureKind;
  readonly verb: string;
  readonly exitCode?: number;
  constructor(kind: HelmFailureKind, verb: string, message: string, options?: { exitCode?: number; hint?: string; cause?: unknown }) {
    super(`Helm${kind}`, message, { hint: options?.hint, cause: options?.cause });
    this.kind = kind;
    this.verb = verb;
    this.exitCode = options?.exitCode;
  }
}

/** A stored Helm release could not be decoded. */
export class ReleaseDecodeError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ReleaseDecodeFailed', message, options);
  }
}
