/** Errors raised while talking to a git server. Messages never contain credentials. */
import { FluxlessError, NotFoundError } from '../util/errors.js';

/** The server refused our credentials (HTTP 401/403). Retrying without a Secret change will not help. */
export class GitAuthError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('GitAuthenticationFailed', message, options);
  }
}

/** spec.timeout elapsed before the git operation finished. */
export class GitTimeoutError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('GitTimeout', message, options);
  }
}

/** The repository, branch, tag, reference or commit does not exist on the remote. */
export class GitRefNotFoundError extends NotFoundError {}

/** Any other failure of a git operation (network, server error, protocol). Usually transient. */
export class GitOperationError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('GitOperationFailed', message, options);
  }
}
