/**
 * The work-queue messages: versioned, validated requests, discriminated by `type`:
 * - `reconcile`: reconcile one object;
 * - `notify`: deliver one Flux event to the Provider of one Alert (shared/notify);
 * - `preview`: render a pull/merge request against the live clusters (shared/preview).
 *
 * Producers (webhook receivers, pollers, drift detection, the CLI, the event sink) build a
 * message with `reconcileMessage()` / `notifyMessage()` / `previewMessage()` and send it;
 * consumers get it back through `parseMessage()`, which never throws: a body that is not a
 * valid message comes back as a `MalformedMessage` (the queue implementations dead-letter
 * such messages with that reason).
 */
import { createHash, randomUUID } from 'node:crypto';
import { ValidationError } from '../util/errors.js';

/** Schema version every queue message carries in `v`. */
export const MESSAGE_VERSION = 1;

/** Why a reconcile was requested. Open set: the known values plus any other short word. */
export type ReconcileReason = 'webhook' | 'poll' | 'drift' | 'manual' | 'dependency' | (string & {});

/** The object to reconcile. Also the FIFO group: one object is never reconciled twice at once. */
export interface ObjectRef {
  kind: string;
  namespace: string;
  name: string;
}

/** Request to reconcile one object (from a webhook Receiver, a poll, drift detection, a dependency or the CLI). */
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

/** A Flux event as notification-controller receives it (fluxcd/pkg eventv1.Event). */
export interface NotificationEvent {
  involvedObject: {
    kind: string;
    namespace: string;
    name: string;
    uid?: string;
    apiVersion?: string;
    resourceVersion?: string;
  };
  severity: 'info' | 'error';
  /** RFC 3339, to the second. */
  timestamp: string;
  message: string;
  reason: string;
  /** Prefixed keys (`<group>/revision`, `event.toolkit.fluxcd.io/summary`), after Flux's cleanup. */
  metadata?: Record<string, string>;
  reportingController: string;
  reportingInstance?: string;
}

/** Deliver one event to the Provider of one Alert. `target` is `Notification/<alert namespace>/<alert name>`. */
export interface NotifyMessage {
  v: 1;
  type: 'notify';
  target: ObjectRef;
  event: NotificationEvent;
  /** ISO 8601 time the event was handed to the pipeline. */
  requestedAt: string;
  id: string;
}

/** A pull request (GitHub) or merge request (GitLab) to preview against the live clusters. */
export interface PreviewRequest {
  host: 'github' | 'gitlab';
  /** `owner/repo` (GitHub) or the project path (GitLab). */
  repository: string;
  /** GitLab's numeric project id, when known. */
  projectId?: number;
  /** Pull request number / merge request iid. */
  number: number;
  /** The commit to preview. */
  headSha: string;
  headRef?: string;
  /** The base commit (GitHub `pull_request.base.sha`), when known. */
  baseSha?: string;
  baseRef: string;
  /** Clone URLs of the repository (to find the GitRepositories that follow it). */
  cloneUrls: string[];
  /** The sender's action (`opened`, `synchronize`, `reopened`, `open`, `update`, ...). */
  action: string;
  /**
   * The head comes from another repository (a fork), or the sender does not say where it
   * comes from: its content is untrusted (shared/preview/render.ts).
   */
  fork?: boolean;
}

/** Preview a pull request. `target` is `PullRequestPreview/<receiver namespace>/<receiver name>`. */
export interface PreviewMessage {
  v: 1;
  type: 'preview';
  target: ObjectRef;
  preview: PreviewRequest;
  requestedAt: string;
  id: string;
}

/** Every message type the queue carries; `type` discriminates. */
export type QueueMessage = ReconcileMessage | NotifyMessage | PreviewMessage;

/** A queue body that is not a valid message. Never retryable: it goes to the DLQ at once. */
export class MalformedMessage extends ValidationError {
  /** The offending field (dotted path), when one field is to blame. */
  readonly field?: string;
  constructor(message: string, field?: string) {
    super(message, {
      hint: 'The message was dead-lettered. Producers must send messages built with reconcileMessage(), notifyMessage() or previewMessage() (schema v1).',
    });
    this.field = field;
  }
}

/** Result of parseMessage: the valid message, or the MalformedMessage saying why the body is not one. */
export type ParseResult = { ok: true; message: QueueMessage } | { ok: false; error: MalformedMessage };

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const LIMITS = { kind: 63, namespace: 63, name: 253, revision: 1024, reason: 64, id: 128 } as const;
/** Flux's limit on an event message (eventv1.Event: MaxLength 39000). */
const EVENT_MESSAGE_MAX = 39_000;
const METADATA_MAX_ENTRIES = 100;
const METADATA_VALUE_MAX = 39_000;
const SHA = /^[0-9a-f]{40}(?:[0-9a-f]{24})?$/;

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
  if (value.type !== 'reconcile' && value.type !== 'notify' && value.type !== 'preview') {
    throw new MalformedMessage(
      typeof value.type === 'string'
        ? `unknown message type "${value.type.slice(0, 64)}" (expected "reconcile", "notify" or "preview")`
        : `field "type" must be "reconcile", "notify" or "preview", got ${describe(value.type)}`,
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
  const requestedAt = requireTime(value, 'requestedAt');
  const id = requireString(value, 'id', 'id', LIMITS.id);
  if (value.type === 'notify') return { v: 1, type: 'notify', target, event: validateEvent(value.event), requestedAt, id };
  if (value.type === 'preview') return { v: 1, type: 'preview', target, preview: validatePreview(value.preview), requestedAt, id };
  let revision: string | undefined;
  if (value.revision !== undefined) revision = requireString(value, 'revision', 'revision', LIMITS.revision);
  const reason = requireString(value, 'reason', 'reason', LIMITS.reason);
  const msg: ReconcileMessage = { v: 1, type: 'reconcile', target, reason, requestedAt, id };
  if (revision !== undefined) msg.revision = revision;
  return msg;
}

function requireTime(obj: Record<string, unknown>, key: string, path = key): string {
  const v = requireString(obj, key, path, 64);
  if (!ISO_TIME.test(v) || !Number.isFinite(Date.parse(v))) {
    throw new MalformedMessage(`field "${path}" must be an ISO 8601 time like 2024-01-02T03:04:05Z, got "${v}"`, path);
  }
  return v;
}

function optionalString(obj: Record<string, unknown>, key: string, path: string, max: number): string | undefined {
  return obj[key] === undefined ? undefined : requireString(obj, key, path, max);
}

/** Validates the Flux event of a notify message (a clean copy). */
function validateEvent(v: unknown): NotificationEvent {
  if (!isRecord(v)) throw new MalformedMessage(`field "event" must be a Flux event object, got ${describe(v)}`, 'event');
  const io = v.involvedObject;
  if (!isRecord(io)) throw new MalformedMessage(`field "event.involvedObject" must be an object, got ${describe(io)}`, 'event.involvedObject');
  const involvedObject: NotificationEvent['involvedObject'] = {
    kind: requireString(io, 'kind', 'event.involvedObject.kind', LIMITS.kind),
    namespace: requireString(io, 'namespace', 'event.involvedObject.namespace', LIMITS.namespace),
    name: requireString(io, 'name', 'event.involvedObject.name', LIMITS.name),
  };
  for (const k of ['uid', 'apiVersion', 'resourceVersion'] as const) {
    const s = optionalString(io, k, `event.involvedObject.${k}`, 253);
    if (s !== undefined) involvedObject[k] = s;
  }
  if (v.severity !== 'info' && v.severity !== 'error') {
    throw new MalformedMessage(`field "event.severity" must be "info" or "error", got ${describe(v.severity)}`, 'event.severity');
  }
  if (typeof v.message !== 'string') throw new MalformedMessage(`field "event.message" must be a string, got ${describe(v.message)}`, 'event.message');
  if (v.message.length > EVENT_MESSAGE_MAX) throw new MalformedMessage(`field "event.message" is longer than ${EVENT_MESSAGE_MAX} characters`, 'event.message');
  const out: NotificationEvent = {
    involvedObject,
    severity: v.severity,
    timestamp: requireTime(v, 'timestamp', 'event.timestamp'),
    message: v.message,
    reason: requireString(v, 'reason', 'event.reason', 256),
    reportingController: requireString(v, 'reportingController', 'event.reportingController', 128),
  };
  const instance = optionalString(v, 'reportingInstance', 'event.reportingInstance', 256);
  if (instance !== undefined) out.reportingInstance = instance;
  if (v.metadata !== undefined) {
    if (!isRecord(v.metadata)) throw new MalformedMessage(`field "event.metadata" must be a map of strings, got ${describe(v.metadata)}`, 'event.metadata');
    const entries = Object.entries(v.metadata);
    if (entries.length > METADATA_MAX_ENTRIES) throw new MalformedMessage(`field "event.metadata" has more than ${METADATA_MAX_ENTRIES} entries`, 'event.metadata');
    const metadata: Record<string, string> = {};
    for (const [k, val] of entries) {
      if (typeof val !== 'string') throw new MalformedMessage(`field "event.metadata.${k.slice(0, 64)}" must be a string, got ${describe(val)}`, 'event.metadata');
      if (k.length > 316 || val.length > METADATA_VALUE_MAX) throw new MalformedMessage(`field "event.metadata.${k.slice(0, 64)}" is too long`, 'event.metadata');
      metadata[k] = val;
    }
    out.metadata = metadata;
  }
  return out;
}

/** Validates the pull request of a preview message (a clean copy). */
function validatePreview(v: unknown): PreviewRequest {
  if (!isRecord(v)) throw new MalformedMessage(`field "preview" must be an object, got ${describe(v)}`, 'preview');
  if (v.host !== 'github' && v.host !== 'gitlab') throw new MalformedMessage(`field "preview.host" must be "github" or "gitlab", got ${describe(v.host)}`, 'preview.host');
  const num = (key: string): number | undefined => {
    const n = v[key];
    if (n === undefined) return undefined;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) throw new MalformedMessage(`field "preview.${key}" must be a positive whole number, got ${describe(n)}`, `preview.${key}`);
    return n;
  };
  const sha = (key: string, required: boolean): string | undefined => {
    const s = required ? requireString(v, key, `preview.${key}`, 64) : optionalString(v, key, `preview.${key}`, 64);
    if (s !== undefined && !SHA.test(s)) throw new MalformedMessage(`field "preview.${key}" must be a full lowercase commit hash, got "${s}"`, `preview.${key}`);
    return s;
  };
  const number = num('number');
  if (number === undefined) throw new MalformedMessage('field "preview.number" must be a positive whole number, got nothing (missing)', 'preview.number');
  const urls = v.cloneUrls;
  if (!Array.isArray(urls) || urls.length > 8 || urls.some((u) => typeof u !== 'string' || u.length === 0 || u.length > 2048)) {
    throw new MalformedMessage('field "preview.cloneUrls" must be a list of at most 8 URLs', 'preview.cloneUrls');
  }
  const out: PreviewRequest = {
    host: v.host,
    repository: requireString(v, 'repository', 'preview.repository', 512),
    number,
    headSha: sha('headSha', true)!,
    baseRef: requireString(v, 'baseRef', 'preview.baseRef', 256),
    cloneUrls: [...(urls as string[])],
    action: requireString(v, 'action', 'preview.action', 64),
  };
  const projectId = num('projectId');
  if (projectId !== undefined) out.projectId = projectId;
  const headRef = optionalString(v, 'headRef', 'preview.headRef', 256);
  if (headRef !== undefined) out.headRef = headRef;
  const baseSha = sha('baseSha', false);
  if (baseSha !== undefined) out.baseSha = baseSha;
  if (v.fork !== undefined) {
    if (typeof v.fork !== 'boolean') throw new MalformedMessage(`field "preview.fork" must be a boolean, got ${describe(v.fork)}`, 'preview.fork');
    out.fork = v.fork;
  }
  return out;
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

function stamp(opts: { id?: string; requestedAt?: Date | string }): { requestedAt: string; id: string } {
  const requestedAt = opts.requestedAt instanceof Date ? opts.requestedAt.toISOString() : (opts.requestedAt ?? new Date().toISOString());
  return { requestedAt, id: opts.id ?? randomUUID() };
}

/** Builds a valid v1 notify message (a clean, validated copy of `event`). */
export function notifyMessage(target: ObjectRef, event: NotificationEvent, opts: { id?: string; requestedAt?: Date | string } = {}): NotifyMessage {
  return validateMessage({ v: 1, type: 'notify', target, event, ...stamp(opts) }) as NotifyMessage;
}

/** Builds a valid v1 preview message. */
export function previewMessage(target: ObjectRef, preview: PreviewRequest, opts: { id?: string; requestedAt?: Date | string } = {}): PreviewMessage {
  return validateMessage({ v: 1, type: 'preview', target, preview, ...stamp(opts) }) as PreviewMessage;
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
export function dedupIdFor(msg: { target: ObjectRef; revision?: string; id: string }): string {
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
