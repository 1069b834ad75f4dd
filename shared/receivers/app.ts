/**
 * Flux notification-controller Receivers as a Hono app: `POST /hook/<digest>` validates a
 * webhook the way Flux does (receiver_handlers.go) and asks the injected
 * ReconcileRequester to mark the Receiver's spec.resources for reconciliation. The same
 * app serves AWS Lambda (hono/aws-lambda) and the local process (@hono/node-server).
 *
 * Status codes: unknown path 404; suspended 503; body over 3 MiB 413; bad or missing
 * signature/token 401; malformed body 400; event not in spec.events 400 (as Flux; see
 * `filteredEventStatus`); GitHub `ping` / Bitbucket `diagnostics:ping` 200 without
 * reconciling; a redelivery 200 without reconciling; requester failure 500. Every
 * response body is JSON; errors are `{ "error": "<reason>" }`.
 */
import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import type { Context } from 'hono';
import { errorMessage } from '../util/errors.js';
import { log as rootLog } from '../util/log.js';
import type { Logger } from '../util/log.js';
import { MAX_BODY_BYTES, readBodyCapped } from './body.js';
import { MemoryDeliveryDeduper } from './dedupe.js';
import type { DeliveryDeduper } from './dedupe.js';
import { ReceiverIndex } from './directory.js';
import type { IndexedReceiver, ReceiverDirectory } from './directory.js';
import { safeEqual, verifyHmacSignature } from './signature.js';
import type { ResourceSelector } from './spec.js';

export interface ReconcileRequester {
  /**
   * Mark every object the selectors match for reconciliation now
   * (`reconcile.fluxcd.io/requestedAt`). Targets have apiVersion and namespace filled in;
   * `matchLabels` is set only for `name: '*'`. The array is shared and frozen: do not
   * mutate it. Returns how many objects were marked.
   */
  request(
    targets: ResourceSelector[],
    receiver: { namespace: string; name: string },
    info: { event?: string; deliveryId?: string },
  ): Promise<number>;
}

export interface ReceiverAppDeps {
  directory: ReceiverDirectory;
  requester: ReconcileRequester;
  /** Default: an in-memory deduper (10000 keys). */
  deduper?: DeliveryDeduper;
  /** How long a delivery id is remembered. Default 24 h. */
  dedupeTtlMs?: number;
  /** Default 3 MiB, Flux's limit. */
  maxBodyBytes?: number;
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
  logger?: Logger;
}

const DIGEST_RE = /^[0-9a-f]{64}$/;
const DAY_MS = 24 * 60 * 60 * 1000;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

type Verdict =
  | { kind: 'reject'; status: 400 | 401; reason: string }
  | { kind: 'ping'; event: string }
  | { kind: 'filtered'; event: string; reason: string }
  | { kind: 'accept'; event?: string; deliveryId?: string; details?: Record<string, string> };

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
  const cap = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  const filteredStatus = deps.filteredEventStatus ?? 400;

  const app = new Hono();

  app.get('/healthz', (c) => c.json({ status: 'ok' }));

  app.post('/hook/:digest', async (c) => {
    const started = performance.now();
    const digest = c.req.param('digest');
    const fields: HookLog = { path: `/hook/${digest.slice(0, 8)}…` };

    const done = (status: 200 | 400 | 401 | 404 | 413 | 500 | 503, body: Record<string, unknown>, extra?: Record<string, unknown>) => {
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

    const body = await readBodyCapped(c.req.raw, cap);
    if (!body.ok) {
      // The rest of the upload was not read: tell the client not to reuse this connection.
      if (body.status === 413) c.header('Connection', 'close');
      return done(body.status, { error: body.reason });
    }
    fields.bytes = body.bytes.byteLength;

    const verdict = await validate(rec, c, body.bytes);
    if (verdict.kind !== 'reject' && verdict.event !== undefined) fields.event = verdict.event;
    switch (verdict.kind) {
      case 'reject':
        return done(verdict.status, { error: verdict.reason });
      case 'ping':
        return done(200, { status: 'pong', message: `${verdict.event} received; no reconciliation requested` });
      case 'filtered':
        if (filteredStatus === 400) return done(400, { error: verdict.reason });
        return done(200, { status: 'ignored', message: verdict.reason });
      case 'accept':
        break;
    }

    let dedupeKey: string | undefined;
    if (verdict.deliveryId !== undefined) {
      fields.delivery = verdict.deliveryId;
      // Bound the memory a key can take: long ids (not sent by real forges) are hashed.
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
      const info: { event?: string; deliveryId?: string } = {};
      if (verdict.event !== undefined) info.event = verdict.event;
      if (verdict.deliveryId !== undefined) info.deliveryId = verdict.deliveryId;
      marked = await deps.requester.request(rec.targets, { namespace: rec.entry.namespace, name: rec.entry.name }, info);
    } catch (err) {
      if (dedupeKey !== undefined && deduper.forget) {
        await deduper.forget(dedupeKey).catch(() => undefined);
      }
      return done(500, { error: `requesting reconciliation failed: ${errorMessage(err)}` });
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

/** A request header; absent and empty are the same (an empty delivery id must not dedupe). */
function header(c: Context, name: string): string | undefined {
  const v = c.req.raw.headers.get(name);
  return v === null || v === '' ? undefined : v;
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

function filterEvent(rec: IndexedReceiver, event: string, sender: string): Verdict | undefined {
  if (rec.events !== null && !rec.events.has(event.toLowerCase())) {
    return { kind: 'filtered', event, reason: `the ${sender} event "${event}" is not authorised (not in spec.events)` };
  }
  return undefined;
}

async function validate(rec: IndexedReceiver, c: Context, bytes: Uint8Array): Promise<Verdict> {
  const { token, spec } = rec.entry;
  switch (spec.type) {
    case 'generic':
      return { kind: 'accept' };

    case 'generic-hmac': {
      const sig = await verifyHmacSignature(header(c, 'x-signature'), bytes, undefined, token);
      if (!sig.ok) return { kind: 'reject', status: 401, reason: `unable to validate HMAC signature: ${sig.reason}` };
      return { kind: 'accept' };
    }

    case 'github':
    case 'bitbucket': {
      const sender = spec.type === 'github' ? 'GitHub' : 'Bitbucket';
      const text = decodeUtf8(bytes);
      // go-github ValidatePayload: the -256 header first, then X-Hub-Signature (sha1, or
      // sha256 as Bitbucket sends it); the algorithm comes from the value's prefix.
      const sigHeader = header(c, 'x-hub-signature-256') ?? header(c, 'x-hub-signature');
      const sig = await verifyHmacSignature(sigHeader, bytes, text, token);
      if (!sig.ok) return { kind: 'reject', status: 401, reason: `the ${sender} signature header is invalid: ${sig.reason}` };

      const payload = decodePayload(header(c, 'content-type'), text, sender);
      if (typeof payload === 'string') return { kind: 'reject', status: 400, reason: payload };

      const event = header(c, spec.type === 'github' ? 'x-github-event' : 'x-event-key') ?? '';
      const ping = spec.type === 'github' ? 'ping' : 'diagnostics:ping';
      if (event.toLowerCase() === ping) return { kind: 'ping', event: `${sender} ${event}` };
      const filtered = filterEvent(rec, event, sender);
      if (filtered) return filtered;

      const deliveryId = spec.type === 'github'
        ? header(c, 'x-github-delivery')
        : header(c, 'x-request-id') ?? header(c, 'x-request-uuid');
      return { kind: 'accept', event, deliveryId, details: payloadDetails(payload) };
    }

    case 'gitlab': {
      const given = header(c, 'x-gitlab-token');
      if (given === undefined) return { kind: 'reject', status: 401, reason: 'the X-Gitlab-Token header is missing' };
      if (token === '' || !safeEqual(given, token)) {
        return { kind: 'reject', status: 401, reason: 'the X-Gitlab-Token header value does not match the receiver token' };
      }
      const event = header(c, 'x-gitlab-event') ?? '';
      const filtered = filterEvent(rec, event, 'GitLab');
      if (filtered) return filtered;
      // Idempotency-Key (GitLab 17.4+) stays the same across retries; X-Gitlab-Event-UUID otherwise.
      const deliveryId = header(c, 'idempotency-key') ?? header(c, 'x-gitlab-event-uuid');
      return { kind: 'accept', event, deliveryId };
    }
  }
}

/** The JSON payload of a GitHub/Bitbucket hook, or the reason it is malformed. */
function decodePayload(contentType: string | undefined, text: string | undefined, sender: string): Record<string, unknown> | string {
  const mediaType = (contentType ?? '').split(';')[0].trim().toLowerCase();
  if (text === undefined) return `the ${sender} payload is not valid UTF-8`;
  let json: string;
  if (mediaType === 'application/json') {
    json = text;
  } else if (mediaType === 'application/x-www-form-urlencoded') {
    const form = new URLSearchParams(text).get('payload');
    if (form === null) return `the form-encoded ${sender} payload has no "payload" field`;
    json = form;
  } else {
    return `unsupported Content-Type ${JSON.stringify(contentType ?? '')}: send application/json or application/x-www-form-urlencoded`;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return `the ${sender} payload is not valid JSON`;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    return `the ${sender} payload must be a JSON object`;
  }
  return parsed as Record<string, unknown>;
}

/** Non-secret facts worth logging: repository, ref, new commit. */
function payloadDetails(p: Record<string, unknown>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const repo = p.repository as Record<string, unknown> | undefined;
  if (repo && typeof repo === 'object') {
    if (typeof repo.full_name === 'string') out.repository = repo.full_name;
    else if (typeof repo.slug === 'string') {
      const project = repo.project as Record<string, unknown> | undefined;
      out.repository = project && typeof project.key === 'string' ? `${project.key}/${repo.slug}` : repo.slug;
    }
  }
  if (typeof p.ref === 'string') out.ref = p.ref;
  if (typeof p.after === 'string') out.commit = p.after;
  const changes = p.changes;
  if (Array.isArray(changes) && changes.length > 0 && typeof changes[0] === 'object' && changes[0] !== null) {
    const ch = changes[0] as Record<string, unknown>;
    const ref = ch.ref as Record<string, unknown> | undefined;
    if (ref && typeof ref.id === 'string') out.ref = ref.id;
    if (typeof ch.toHash === 'string') out.commit = ch.toHash;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
