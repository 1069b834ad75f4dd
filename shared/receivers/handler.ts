/**
 * The contract between the receiver app and the per-type handlers (handlers/*.ts): a
 * handler sees the request (headers and the already size- and time-capped body) and the
 * Receiver, authenticates and decodes it the way Flux does for that type, and returns a
 * Verdict. Handlers never reconcile anything themselves.
 */
import type { PreviewRequest } from '../queue/message.js';
import type { IndexedReceiver } from './directory.js';
import type { RegistryArtifact } from './images.js';
import type { GoogleIdTokenVerifier, OidcVerifier } from './oidc.js';

/** A webhook request as handlers see it. */
export interface HookRequest {
  readonly headers: Headers;
  /** The raw body (at most the cap). */
  readonly body: Uint8Array;
  /** A header value; absent and empty are the same. */
  header(name: string): string | undefined;
  /** The body as strict UTF-8 (decoded once), or undefined when it is not valid UTF-8. */
  text(): string | undefined;
}

/** What a handler may use besides the request. */
export interface HandlerContext {
  readonly receiver: IndexedReceiver;
  /** Verifies generic-oidc bearer tokens against `spec.oidcProviders`. */
  readonly oidc: OidcVerifier;
  /** Verifies Google-signed ID tokens (gcr Pub/Sub push). */
  readonly google: GoogleIdTokenVerifier;
}

/** Status codes of a refusal. */
export type RejectStatus = 400 | 401 | 403 | 503;

/** The outcome of validating a request. */
export type Verdict =
  /** Refused: 400 malformed, 401 not authenticated, 403 authenticated but not allowed, 503 cannot check now. */
  | { kind: 'reject'; status: RejectStatus; reason: string; /** For the log only (what the Receiver expected). */ detail?: string }
  /** A connectivity check (GitHub ping): 200, nothing reconciled. */
  | { kind: 'ping'; event: string }
  /** Authentic but nothing to act on (e.g. a registry pull or blob event): 200, nothing reconciled. */
  | { kind: 'ignored'; event?: string; reason: string }
  /** Authentic, but the event is not in spec.events. */
  | { kind: 'filtered'; event: string; reason: string }
  | {
      kind: 'accept';
      event?: string;
      /** The sender's id for this delivery; redeliveries with the same id are dropped. */
      deliveryId?: string;
      /** Non-secret facts for the log line. */
      details?: Record<string, string>;
      /** Registry types: the images / artifacts the event is about. */
      artifacts?: RegistryArtifact[];
      /**
       * `req` for the CEL filters when it is not simply the JSON body (gcr: the unwrapped
       * Pub/Sub data; distribution: the envelope, whatever its media type).
       */
      filterBody?: Record<string, unknown>;
      /** generic-oidc: the verified token claims (`claims` in the filters). */
      claims?: Record<string, unknown>;
      /** github / gitlab: a pull (merge) request to preview against the live clusters. */
      preview?: PreviewRequest;
    };

/** Validates one request for one Receiver type. */
export type ReceiverHandler = (req: HookRequest, ctx: HandlerContext) => Verdict | Promise<Verdict>;

/** Shorthand for a refusal. */
export function reject(status: RejectStatus, reason: string, detail?: string): Verdict {
  return detail === undefined ? { kind: 'reject', status, reason } : { kind: 'reject', status, reason, detail };
}

/** The Verdict for an event that spec.events does not list, or undefined when it is listed (or the list is empty). */
export function filterEvent(rec: IndexedReceiver, event: string, sender: string): Verdict | undefined {
  if (rec.events !== null && !rec.events.has(event.toLowerCase())) {
    return { kind: 'filtered', event, reason: `the ${sender} event "${event}" is not authorised (not in spec.events)` };
  }
  return undefined;
}
