/** The apply engine's errors, and how it classifies the errors of its requests. */
import { EnvironmentError, FluxlessError } from '../util/errors.js';
import { KubeApiError } from '../kube/client.js';

/** One object that failed validation, and why (Secret values masked). */
export interface ValidationFailure {
  subject: string;
  reason: string;
}

/** A batch failed validation: nothing was written. */
export class ValidationFailedError extends FluxlessError {
  readonly failures: ValidationFailure[];
  constructor(failures: ValidationFailure[]) {
    super(
      'ValidationFailed',
      `${failures.length} object(s) failed validation, nothing was applied:\n` +
        failures.map((f) => `${f.subject}: ${f.reason}`).join('\n'),
    );
    this.failures = failures;
  }
}

/** A write (or a wait between stages) failed; objects of earlier stages may have been applied. */
export class ApplyFailedError extends FluxlessError {
  constructor(message: string, cause?: unknown) {
    super('ApplyFailed', message, { cause });
  }
}

/**
 * The API server did not answer (timeout, connection refused or reset, 429/503/504):
 * transient, the next reconcile retries. `cause` is the client's error.
 */
export class KubeApiUnavailableError extends EnvironmentError {
  /** Always true: retrying later is the remedy. */
  readonly transient = true;
  constructor(message: string, cause: unknown) {
    super(message, {
      cause,
      hint: 'check that the Kubernetes API server is up and reachable (network, VPN, load balancer); the apply is retried on the next reconcile',
    });
  }
}

const TRANSIENT_CODES = new Set(['Timeout', 'Unreachable', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH']);

/** The request failed because the API server did not answer or is overloaded, not because of what we sent. */
export function isTransient(err: unknown): boolean {
  if (err instanceof KubeApiError) return err.status === 429 || err.status === 503 || err.status === 504;
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_CODES.has(code);
}

/** The request was cancelled by our own signal. */
export function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** An apply error that recreating the object would solve (409/422, "immutable"). */
export function isImmutableError(err: unknown): boolean {
  if (!(err instanceof KubeApiError)) return false;
  if (err.status === 409 || err.status === 422) return true;
  return /is\simmutable|immutable\sfield/.test(err.message);
}

/** The text of an error as the API server gave it: `(Reason) message`. Not masked. */
export function reasonOf(err: unknown): string {
  if (err instanceof KubeApiError) return `${err.reason ? `(${err.reason}) ` : ''}${err.message}`;
  return err instanceof Error ? err.message : String(err);
}
