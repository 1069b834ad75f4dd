/** Errors raised while talking to a git server. Messages never contain credentials. */
import { FluxlessError, NotFoundError } from '../util/errors.js';

/** The server refused our credentials (HTTP 401/403, SSH publickey), or the Secret cannot be used. Retrying without a Secret change will not help. */
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

/**
 * The SSH server's host key is not the one in the Secret's known_hosts (or is revoked, or
 * the host is not listed). Nothing was sent to the server. Like Flux, reported as a git
 * operation failure; fix known_hosts (or find out who is answering) before retrying.
 */
export class GitHostKeyError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('GitHostKeyVerificationFailed', message, options);
  }
}

/**
 * `spec.verify` refused the checkout: Flux's reason (InvalidCommitSignature,
 * InvalidTagSignature, InvalidGitObject, InvalidVerificationMode, VerificationError) and
 * message. Stalled only when the spec cannot be verified as written (a Tag mode on a ref
 * that is not a tag).
 */
export class GitVerificationError extends FluxlessError {
  readonly reason: string;
  readonly stalled: boolean;
  constructor(reason: string, message: string, options?: { cause?: unknown; hint?: string; stalled?: boolean }) {
    super(reason, message, options);
    this.reason = reason;
    this.stalled = options?.stalled === true;
  }
}
