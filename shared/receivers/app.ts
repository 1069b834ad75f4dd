/**
 * Flux notification-controller Receivers as a Hono app: `POST /hook/<digest>` validates a
 * webhook the way Flux does for the Receiver's type (receiver_handlers.go; one handler per
 * type in handlers/) and asks the injected ReconcileRequester to mark the Receiver's
 * spec.resources for reconciliation, with the Receiver's CEL filters (resourceFilter and
 * resources[].filter) to apply per object. The same app serves AWS Lambda
 * (hono/aws-lambda) and the local process (server.ts).
 *
 * Status codes: unknown path 404; suspended 503; body over 3 MiB 413; body not received
 * within the deadline 408; bad or missing signature/token 401; authenticated but refused
 * by generic-oidc validations 403; malformed body 400; event not in spec.events 400 (as
 * Flux; see `filteredEventStatus`); GitHub `ping` / Bitbucket `diagnostics:ping` 200
 * without reconciling; a registry notification with nothing to act on 200 `ignored`; a
 * redelivery 200 without reconciling; request body not JSON for a filter, filter
 * evaluation or requester failure 500. Every response body is JSON; errors are
 * `{ "error": "<reason>" }`.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { errorMessage } from '../util/errors.js';
import { log as rootLog } from '../util/log.js';
import type { Logger } from '../util/log.js';
import { BODY_DEADLINE_MS, MAX_BODY_BYTES, readBodyCapped } from './body.js';
import { MemoryDeliveryDeduper } from './dedupe.js';
import { isSenderFacing } from './errors.js';
import type { DeliveryDeduper } from './dedupe.js';
import { ReceiverIndex } from './directory.js';
import type { IndexedReceiver, ReceiverDirectory } from './directory.js';
import { filterDecision } from './filter.js';
import type { FilterResource } from './filter.js';
import type { HandlerContext, HookRequest, Verdict } from './handler.js';
import { RECEIVER_HANDLERS } from './handlers/index.js';
import type { RegistryArtifact } from './images.js';
import { GoogleIdTokenVerifier, OidcVerifier } from './oidc.js';
import type { GoogleIdTokenOptions, OidcVerifierOptions } from './oidc.js';
import { isJsonContent, isObject } from './payload.js';
import type { ResourceSelector } from './spec.js';
import type { PreviewRequest } from '../queue/message.js';

/** What the requester learns about the hook besides the targets. Keys are set only when known. */
export interface ReconcileRequestInfo {
  /** The sender's event type (GitHub `X-GitHub-Event`, GitLab `X-Gitlab-Event`, registry action, ...). */
  event?: string;
  deliveryId?: string;
  /**
   * Registry types (and GitHub package events, artifact CDEvents): the images / OCI
   * artifacts the event is about, to match ImageRepository / OCIRepository objects by
   * repository (`image` is normalised, see images.ts).
   */
  artifacts?: readonly RegistryArtifact[];
  /**
   * Present when the Receiver has CEL filters: call it for every candidate object of
   * `targets[targetIndex]` (each object of a `*` selector, or the named object) with its
   * metadata; mark the object only when it returns true. Throws CelEvaluationError when a
   * filter fails to evaluate (fail the request: Flux answers 500).
   */
  accept?: (targetIndex: number, res: FilterResource) => boolean;
  /** github / gitlab: the pull (merge) request the event asks to preview (shared/preview). */
  preview?: PreviewRequest;
}

/** Marks the objects a webhook targets for reconciliation (the runtime implements it). */
export interface ReconcileRequester {
  /**
   * Mark every object the selectors match for reconciliation now
   * (`reconcile.fluxcd.io/requestedAt`). Targets have apiVersion and namespace filled in;
   * `matchLabels` is set only for `name: '*'`. The array is shared and frozen: do not
   * mutate it. Returns how many objects were marked.
   */
  request(targets: ResourceSelector[], receiver: { namespace: string; name: string }, info: ReconcileRequestInfo): Promise<number>;
}

/** What createReceiverApp needs, and its limits. */
export interface ReceiverAppDeps {
  directory: ReceiverDirectory;
  requester: ReconcileRequester;
  /** Default: an in-memory deduper (10000 keys). */
  deduper?: DeliveryDeduper;
  /** How long a delivery id is remembered. Default 24 h. */
  dedupeTtlMs?: number;
  /** Default 3 MiB, Flux's limit. */
  maxBodyBytes?: number;
  /** Time allowed to receive the body (ms); 0 disables. Default 10000. */
  bodyTimeoutMs?: number;
  /**
   * Status for an authenticated event that spec.events does not list. Flux answers 400
   * ("the GitHub event ... is not authorised"), the default; 200 answers
   * `{ status: 'ignored' }` so senders do not show failed deliveries.
   */
  filteredEventStatus?: 400 | 200;
  /** Receiver map refresh period (ms). Default 30000. See ReceiverIndexOptions. */
  refreshMs?: number;
  /** Minimum interval between rebuilds triggered by unknown digests (ms). Default 2000. */
  missRefreshMs?: number;
  /** generic-oidc discovery / key fetching options. */
  oidc?: OidcVerifierOptions;
  /** gcr: Google ID token verification; `jwksUri` / `issuers` are for tests only. */
  googleIdTokens?: GoogleIdTokenOptions;
  logger?: Logger;
}

const DIGEST_RE = /^[0-9a-f]{64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Status = 200 | 400 | 401 | 403 | 404 | 408 | 413 | 500 | 503;

interface HookLog {
  receiver?: string;
  type?: string;
  event?: string;
  delivery?: string;
  path: string;
  bytes?: number;
}

/** Build the receiver app. See the module comment for the behaviour. */
export function createReceiverApp(deps: ReceiverAppDeps): Hono {
  const logger = deps.logger ?? rootLog.child({ component: 'receiver' });
  const index = new ReceiverIndex(deps.directory, {
    refreshMs: deps.refreshMs,
    missRefreshMs: deps.missRefreshMs,
    logger,
  });
  const deduper = deps.deduper ?? new MemoryDeliveryDeduper();
  const dedupeTtlMs = deps.dedupeTtlMs ?? DAY_MS;
  const limits = { cap: deps.maxBodyBytes ?? MAX_BODY_BYTES, deadlineMs: deps.bodyTimeoutMs ?? BODY_DEADLINE_MS };
  const filteredStatus = deps.filteredEventStatus ?? 400;
  const oidc = new OidcVerifier(deps.oidc);
  const google = new GoogleIdTokenVerifier(deps.googleIdTokens);

  const app = new Hono();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.post('/hook/:digest', async (c) => {
    const started = performance.now();
    const digest = c.req.param('digest');
    const fields: HookLog = { path: `/hook/${digest.slice(0, 8)}…` };

    const done = (status: Status, body: Record<string, unknown>, extra?: Record<string, unknown>) => {
      const durationMs = Math.round((performance.now() - started) * 100) / 100;
      const line = { ...fields, status, durationMs, ...extra };
      if (status >= 400) logger.warn('webhook rejected', { ...line, reason: body.error });
      else logger.info('webhook handled', { ...line, outcome: body.status });
      return c.json(body, status);
    };

    if (!DIGEST_RE.test(digest)) return done(404, { error: 'no receiver is registered for this path' });

    let rec: IndexedReceiver | undefined;
    try {
      rec = await index.lookup(digest);
    } catch (err) {
      return done(503, { error: 'receivers are not available yet, retry later' }, { cause: errorMessage(err) });
    }
    if (rec === undefined) return done(404, { error: 'no receiver is registered for this path' });
    fields.receiver = rec.id;
    fields.type = rec.entry.spec.type;

    if (rec.entry.spec.suspend) return done(503, { error: 'the receiver is suspended' });

    const body = await readBodyCapped(c.req.raw, limits);
    if (!body.ok) {
      // The rest of the upload was not read: tell the client not to reuse this connection.
      c.header('Connection', 'close');
      return done(body.status, { error: body.reason });
    }
    fields.bytes = body.bytes.byteLength;

    const ctx: HandlerContext = { receiver: rec, oidc, google };
    let verdict: Verdict;
    try {
      verdict = await RECEIVER_HANDLERS[rec.entry.spec.type](hookRequest(c, body.bytes), ctx);
    } catch (err) {
      // The cause (a Secret, a role, an issuer) is for the operator's log, not for the sender.
      return done(500, { error: 'validating the request failed; the cause is in the webhook function\'s log' }, { cause: errorMessage(err) });
    }
    if (verdict.kind !== 'reject' && verdict.event !== undefined) fields.event = verdict.event;
    switch (verdict.kind) {
      case 'reject':
        return done(verdict.status, { error: verdict.reason }, verdict.detail === undefined ? undefined : { detail: verdict.detail });
      case 'ping':
        return done(200, { status: 'pong', message: `${verdict.event} received; no reconciliation requested` });
      case 'ignored':
        return done(200, { status: 'ignored', message: verdict.reason });
      case 'filtered':
        if (filteredStatus === 400) return done(400, { error: verdict.reason });
        return done(200, { status: 'ignored', message: verdict.reason });
      case 'accept':
        break;
    }

    const info: ReconcileRequestInfo = {};
    if (verdict.event !== undefined) info.event = verdict.event;
    if (verdict.deliveryId !== undefined) info.deliveryId = verdict.deliveryId;
    if (verdict.artifacts !== undefined && verdict.artifacts.length > 0) info.artifacts = Object.freeze(verdict.artifacts);
    if (verdict.preview !== undefined) info.preview = verdict.preview;
    if (rec.filters !== undefined) {
      const req = verdict.filterBody ?? filterBodyOf(c, body.bytes);
      if (typeof req === 'string') return done(500, { error: req });
      try {
        info.accept = filterDecision(rec.filters, req, verdict.claims);
      } catch (err) {
        return done(500, { error: `preparing the CEL filters failed: ${errorMessage(err)}` });
      }
    }

    let dedupeKey: string | undefined;
    if (verdict.deliveryId !== undefined) {
      fields.delivery = verdict.deliveryId;
      // Bound the memory a key can take: long ids (not sent by real senders) are hashed.
      const id = verdict.deliveryId.length > 128 ? createHash('sha256').update(verdict.deliveryId).digest('hex') : verdict.deliveryId;
      dedupeKey = `${rec.id}/${id}`;
      let duplicate = false;
      try {
        duplicate = await deduper.seen(dedupeKey, dedupeTtlMs);
      } catch (err) {
        // Fail open: a second reconcile request is harmless, a lost one is not.
        logger.warn('delivery de-duplication failed; handling the delivery', { receiver: rec.id, cause: errorMessage(err) });
        dedupeKey = undefined;
      }
      if (duplicate) {
        return done(200, {
          status: 'duplicate',
          message: `delivery ${verdict.deliveryId} was already handled; no reconciliation requested`,
        });
      }
    }

    let marked: number;
    try {
      marked = await deps.requester.request(rec.targets, { namespace: rec.entry.namespace, name: rec.entry.name }, info);
    } catch (err) {
      if (dedupeKey !== undefined && deduper.forget) {
        await deduper.forget(dedupeKey).catch(() => undefined);
      }
      if (isSenderFacing(err)) return done(500, { error: `requesting reconciliation failed: ${errorMessage(err)}` });
      return done(500, { error: 'requesting reconciliation failed; the cause is in the webhook function\'s log' }, { cause: errorMessage(err) });
    }
    return done(200, { status: 'accepted', message: 'reconciliation requested', marked }, { marked, ...verdict.details });
  });

  app.all('/hook/:digest', (c) => {
    c.header('Allow', 'POST');
    return c.json({ error: `method ${c.req.method} is not allowed; webhooks must be sent with POST` }, 405);
  });

  app.notFound((c) => c.json({ error: 'not found' }, 404));
  app.onError((err, c) => {
    logger.error('receiver app error', { error: errorMessage(err), method: c.req.method });
    return c.json({ error: 'internal error' }, 500);
  });

  return app;
}

/** The request as handlers see it; the body is decoded as UTF-8 at most once. */
function hookRequest(c: Context, bytes: Uint8Array): HookRequest {
  let text: string | undefined | null = null;
  const headers = c.req.raw.headers;
  return {
    headers,
    body: bytes,
    header(name) {
      const v = headers.get(name);
      return v === null || v === '' ? undefined : v;
    },
    text() {
      if (text === null) {
        try {
          text = utf8.decode(bytes);
        } catch {
          text = undefined;
        }
      }
      return text;
    },
  };
}

/**
 * `req` for the CEL filters, as Flux builds it: the body parsed as a JSON object when the
 * Content-Type is application/json, else `{}`. A string is the 500 reason.
 */
function filterBodyOf(c: Context, bytes: Uint8Array): Record<string, unknown> | string {
  if (!isJsonContent(c.req.header('content-type'))) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(bytes));
  } catch (err) {
    return `failed to parse request body as JSON: ${errorMessage(err)}`;
  }
  if (parsed === null) return {};
  if (!isObject(parsed)) return 'failed to parse request body as JSON: the body must be a JSON object for the CEL filters';
  return parsed;
}
