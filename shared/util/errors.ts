/**
 * Typed errors. Every error Fluxless raises on purpose is a FluxlessError with a stable
 * `code` and a message a user can act on (what failed, and what to do).
 */
export class FluxlessError extends Error {
  readonly code: string;
  readonly hint?: string;
  constructor(code: string, message: string, options?: { cause?: unknown; hint?: string }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.hint = options?.hint;
  }
}

/** Input we were given is wrong: a manifest, a spec field, a request. Not retryable. */
export class ValidationError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('ValidationFailed', message, options);
  }
}

/** Something we depend on (a binary, a server, a port) is missing or failed. */
export class EnvironmentError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('EnvironmentFailed', message, options);
  }
}

/** An optimistic-concurrency conflict: someone else wrote first. Retry with a fresh read. */
export class ConflictError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('Conflict', message, options);
  }
}

/** Something we looked for does not exist. */
export class NotFoundError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('NotFound', message, options);
  }
}

/** The message of a thrown value: an Error's message, or anything else as a string. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
