/**
 * The work-queue message: a versioned, validated request to reconcile one object.
 *
 * Producers (webhook receivers, pollers, drift detection, the CLI) build a message with
 * `reconcileMessage()` and send it; consumers get it back through `parseMessage()`, which
 * never throws: a body that is not a valid message comes back as a `MalformedMessage`
 * (the queue implementations dead-letter such messages with that reason).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ValidationError } from '../util/errors.js';

export const MESSAGE_VERSION = 1;

/** Why a reconcile was requested. Open set: the known values plus any other short word. */
export type ReconcileReason = 'webhook' | 'poll' | 'drift' | 'manual' | 'dependency' | (string & {});

/** The object to reconcile. Also the FIFO group: one object is never reconciled twice at once. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

export interface ReconcileMessage {
  v: 1;
  type: 'reconcile';
  target: ObjectRef;
  /** The source revision that triggered this request, when known (e.g. `main@sha1:abc…`). */
  revision?: string;
  reason: ReconcileReason;
  /** ISO 8601 timestamp of the request. */
  requestedAt: string;
  /** Unique id of this request (for tracing and for deduplicating retried sends). */
  id: string;
}

/** Every message type the queue carries (one for now; `type` discriminates). */
export type QueueMessage = ReconcileMessage;

/** A queue body that is not a valid message. Never retryable: it goes to the DLQ at once. */
export class MalformedMessage extends ValidationError {
  /** The offending field (dotted path), when one field is to blame. */
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message, {
      hint: 'The message was dead-lettered. Producers must send messages built with reconcileMessage() (schema v1).',
    });
    this.field = field;
  }
}

export type ParseResult = { ok: true; message: QueueMessage } | { ok: false; error: MalformedMessage };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LIMITS = { kind: 63, namespace: 63, name: 253, revision: 1024, reason: 64, id: 128 } as const;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function requireString(obj: Record<string, unknown>, key: string, path: string, max: number): string {
  const v = obj[key];
  if (typeof v !== 'string' || v.length === 0) {
    throw new MalformedMessage(`field "${path}" must be a non-empty string, got ${describe(v)}`, path);
  }
  if (v.length > max) throw new MalformedMessage(`field "${path}" is longer than ${max} characters`, path);
  return v;
}

function describe(v: unknown): string {
  if (v === undefined) return 'nothing (missing)';
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length === 0 ? 'an empty string' : 'a string';
  return `a ${typeof v}`;
}

/**
 * Validates a decoded value as a queue message and returns a clean copy (unknown extra
 * fields are dropped, so later versions may add optional fields). Throws MalformedMessage.
 */
export function validateMessage(value: unknown): QueueMessage {
  if (!isRecord(value)) throw new MalformedMessage(`message must be a JSON object, got ${describe(value)}`);
  if (value.v !== MESSAGE_VERSION) {
    throw new MalformedMessage(
      typeof value.v === 'number'
        ? `unsupported message version ${value.v} (this Fluxless understands version ${MESSAGE_VERSION})`
        : `field "v" (message version) must be ${MESSAGE_VERSION}, got ${describe(value.v)}`,
      'v',
    );
  }
  if (value.type !== 'reconcile') {
    throw new MalformedMessage(
      typeof value.type === 'string'
        ? `unknown message type "${value.type.slice(0, 64)}" (expected "reconcile")`
        : `field "type" must be "reconcile", got ${describe(value.type)}`,
      'type',
    );
  }
  const t = value.target;
  if (!isRecord(t)) throw new MalformedMessage(`field "target" must be an object {kind, namespace, name}, got ${describe(t)}`, 'target');
  const target: ObjectRef = {
    kind: requireString(t, 'kind', 'target.kind', LIMITS.kind),
    namespace: requireString(t, 'namespace', 'target.namespace', LIMITS.namespace),
    name: requireString(t, 'name', 'target.name', LIMITS.name),
  };
  let revision: string | undefined;
  if (value.revision !== undefined) revision = requireString(value, 'revision', 'revision', LIMITS.revision);
  const reason = requireString(value, 'reason', 'reason', LIMITS.reason);
  const requestedAt = requireString(value, 'requestedAt', 'requestedAt', 64);
  if (!ISO_TIME.test(requestedAt) || !Number.isFinite(Date.parse(requestedAt))) {
    throw new MalformedMessage(`field "requestedAt" must be an ISO 8601 time like 2024-01-02T03:04:05Z, got "${requestedAt}"`, 'requestedAt');
  }
  const id = requireString(value, 'id', 'id', LIMITS.id);
  const msg: ReconcileMessage = { v: 1, type: 'reconcile', target, reason, requestedAt, id };
  if (revision !== undefined) msg.revision = revision;
  return msg;
}

/** Decodes and validates a queue body. Never throws. */
export function parseMessage(body: string | unknown): ParseResult {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch (err) {
      return {
        ok: false,
        error: new MalformedMessage(`message body is not valid JSON (${err instanceof Error ? err.message : String(err)})`),
      };
    }
  }
  try {
    return { ok: true, message: validateMessage(value) };
  } catch (err) {
    if (err instanceof MalformedMessage) return { ok: false, error: err };
    return { ok: false, error: new MalformedMessage(`message could not be validated: ${String(err)}`) };
  }
}

/** Validates and encodes a message for sending. Throws MalformedMessage for an invalid one. */
export function serializeMessage(msg: QueueMessage): string {
  return JSON.stringify(validateMessage(msg));
}

/** Builds a valid v1 reconcile message (id and requestedAt filled in unless given). */
export function reconcileMessage(
  target: ObjectRef,
  reason: ReconcileReason,
  opts: { revision?: string; id?: string; requestedAt?: Date | string } = {},
): ReconcileMessage {
  const requestedAt =
    opts.requestedAt instanceof Date ? opts.requestedAt.toISOString() : (opts.requestedAt ?? new Date().toISOString());
  const msg: ReconcileMessage = {
    v: 1,
    type: 'reconcile',
    target: { kind: target.kind, namespace: target.namespace, name: target.name },
    reason,
    requestedAt,
    id: opts.id ?? randomUUID(),
  };
  if (opts.revision !== undefined) msg.revision = opts.revision;
  validateMessage(msg);
  return msg;
}

// SQS MessageGroupId / MessageDeduplicationId: 1..128 chars of printable ASCII (0x21-0x7E).
const ID_MAX = 128;
const ID_CHARS = /^[\x21-\x7e]+$/;

/** Makes any string a valid SQS group/dedup id: kept as is when it fits, else a readable prefix plus a hash. */
export function toQueueId(s: string): string {
  if (s.length <= ID_MAX && ID_CHARS.test(s)) return s;
  const hash = createHash('sha256').update(s).digest('hex');
  const prefix = s.replace(/[^\x21-\x7e]/g, '_').slice(0, ID_MAX - hash.length - 1);
  return `${prefix}~${hash}`;
}

/** The FIFO group of an object: `kind/namespace/name` (hashed if too long for SQS). */
export function groupIdFor(target: ObjectRef): string {
  return toQueueId(`${target.kind}/${target.namespace}/${target.name}`);
}

/**
 * The deduplication id of a message: object + revision when the revision is known (so two
 * webhooks for the same commit collapse within the 5-minute window), else the message id
 * (so only a retried send of the same message is dropped).
 */
export function dedupIdFor(msg: Pick<ReconcileMessage, 'target' | 'revision' | 'id'>): string {
  const group = `${msg.target.kind}/${msg.target.namespace}/${msg.target.name}`;
  return toQueueId(msg.revision !== undefined ? `${group}@${msg.revision}` : `${group}#${msg.id}`);
}

/** Throws ValidationError unless `value` is a valid SQS FIFO group or deduplication id. */
export function assertQueueId(what: 'groupId' | 'dedupId', value: unknown): asserts value is string {
  if (typeof value !== 'string' || value.length === 0 || value.length > ID_MAX || !ID_CHARS.test(value)) {
    throw new ValidationError(
      `${what} ${JSON.stringify(value)} is invalid: it must be 1-${ID_MAX} printable ASCII characters without spaces`,
      { hint: `Build it with ${what === 'groupId' ? 'groupIdFor(target)' : 'dedupIdFor(message)'}.` },
    );
  }
}
