/**
 * Errors of the registry client and the OCI sources. Messages never carry credentials or
 * tokens; URLs in them have any user:password removed.
 */
import { FluxlessError, ValidationError } from '../util/errors.js';

/** One entry of a registry's `{"errors": [...]}` answer (distribution spec). */
export interface RegistryErrorEntry {
  code: string;
  message?: string;
  detail?: unknown;
}

/** The registry answered with an unexpected HTTP status. */
export class RegistryError extends FluxlessError {
  readonly status: number;
  readonly method: string;
  readonly url: string;
  readonly errors: RegistryErrorEntry[];
  constructor(
    method: string,
    url: string,
    status: number,
    errors: RegistryErrorEntry[],
    options?: { code?: string; hint?: string; cause?: unknown; message?: string },
  ) {
    const detail = errors.length
      ? errors.map((e) => `${e.code}${e.message ? `: ${e.message}` : ''}`).join('; ')
      : `unexpected status code ${status}${STATUS_TEXT[status] ? ` ${STATUS_TEXT[status]}` : ''}`;
    super(options?.code ?? 'RegistryRequestFailed', options?.message ?? `${method} ${url}: ${detail}`, {
      cause: options?.cause,
      hint: options?.hint,
    });
    this.status = status;
    this.method = method;
    this.url = url;
    this.errors = errors;
  }

  /** True for 404 / MANIFEST_UNKNOWN / BLOB_UNKNOWN / NAME_UNKNOWN. */
  get notFound(): boolean {
    return this.status === 404 || this.errors.some((e) => /_UNKNOWN$/.test(e.code));
  }
}

/** The registry (or its token server) refused our credentials, or we have none it accepts. */
export class RegistryAuthError extends RegistryError {
  constructor(method: string, url: string, status: number, errors: RegistryErrorEntry[], options?: { hint?: string; cause?: unknown; message?: string }) {
    super(method, url, status, errors, {
      code: 'RegistryAuthenticationFailed',
      hint: options?.hint ?? 'check the credentials in spec.secretRef (a kubernetes.io/dockerconfigjson Secret) or the provider',
      cause: options?.cause,
      message: options?.message,
    });
  }
}

/** The registry could not be reached (DNS, connection refused, TLS, timeout). */
export class RegistryUnreachableError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('Unreachable', message, options);
  }
}

/** Bytes from the registry are bigger than they may be (a manifest, a layer). */
export class RegistryTooLargeError extends FluxlessError {
  constructor(message: string) {
    super('ArtifactTooLarge', message, { hint: 'raise the size limit, or publish a smaller artifact' });
  }
}

/**
 * A failure of an OCIRepository fetch (or a Helm chart pull) with Flux's condition reason
 * (`AuthenticationFailed`, `OCIArtifactPullFailed`, `OCIArtifactLayerOperationFailed`,
 * `ReadOperationFailed`, `URLInvalid`, ...) as `code` and `reason`, and Flux's message.
 * `stalled` is true when retrying cannot help until the object changes.
 */
export class OciError extends FluxlessError {
  readonly reason: string;
  readonly stalled: boolean;
  constructor(reason: string, message: string, options?: { cause?: unknown; hint?: string; stalled?: boolean }) {
    super(reason, message, { cause: options?.cause, hint: options?.hint });
    this.reason = reason;
    this.stalled = options?.stalled ?? false;
  }
}

/**
 * An OCIRepository spec we reject (an invalid URL, a field Fluxless does not support yet).
 * Always stalled: it cannot succeed until the object is changed. `reason` is the Stalled
 * reason to report (`URLInvalid`, `InvalidSpec`, `VerificationError`, `UnsupportedField`).
 */
export class OciSpecError extends ValidationError {
  readonly reason: string;
  readonly stalled = true;
  constructor(reason: string, message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options);
    this.reason = reason;
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  416: 'Range Not Satisfiable',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};
