/**
 * How a delivery fails. A PermanentDeliveryError cannot succeed by trying again (a bad
 * address, a revision without a SHA-1 commit, a provider answering 4xx): it is recorded on
 * the Alert at once and the message is acked. Anything else (a provider that is down or
 * answers 5xx/429, a timeout, a missing Secret that may appear) is retried through the
 * queue with backoff and, after the last try, dead-lettered.
 */
import { FluxlessError } from '../util/errors.js';

/** A delivery that retrying cannot fix. */
export class PermanentDeliveryError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('NotificationFailed', message, options);
  }
}

/** A delivery that may succeed later (provider down, 5xx, 429, timeout). */
export class TransientDeliveryError extends FluxlessError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('NotificationRetry', message, options);
  }
}

/** The error for an HTTP answer that is not 2xx: 408, 429 and 5xx (but 501) are worth retrying, like retryablehttp. */
export function httpStatusError(status: number, body: string, prefix = 'request failed with status code'): FluxlessError {
  return statusDeliveryError(status, `${prefix} ${status}: ${body}`);
}

/** httpStatusError with the notifier's own message (an API client's wording of the failed call). */
export function statusDeliveryError(status: number, message: string): FluxlessError {
  return status === 408 || status === 429 || (status >= 500 && status !== 501) ? new TransientDeliveryError(message) : new PermanentDeliveryError(message);
}

/** Replaces every occurrence of each secret value (a token in an error message) with `*****`, as masktoken does. */
export function maskTokens(text: string, tokens: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const t of tokens) if (t && t.length >= 4) out = out.split(t).join('*****');
  return out;
}
