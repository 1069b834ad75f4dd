/**
 * Events in the shape Flux's controllers send them to notification-controller
 * (fluxcd/pkg eventv1.Event, runtime/events/recorder.go), built centrally from what the
 * status writer recorded: the involved object, severity, RFC 3339 timestamp, reason,
 * message, the controller's metadata under its API group (`<group>/revision`,
 * `<group>/originRevision`, ...), every `event.toolkit.fluxcd.io/*` annotation of the
 * object, and the controller's name (`kustomize-controller`, `source-controller`, ...).
 *
 * Then the receiving side's first steps (event_server.go, event_handlers.go): the
 * metadata cleanup, the rate-limit key, and dropping the token.
 */
import { createHash } from 'node:crypto';
import os from 'node:os';
import type { ObjectKey } from '../kube/object.js';
import { splitApiVersion } from '../kube/object.js';
import type { NotificationEvent } from '../queue/message.js';
import type { FluxEvent, ObjectRecord } from '../state/records.js';

/** A Flux event as notification-controller receives it (fluxcd/pkg eventv1.Event). */
export type { NotificationEvent } from '../queue/message.js';

/** The API group of Flux's event metadata and annotations. */
export const EVENT_GROUP = 'event.toolkit.fluxcd.io';
/** Metadata keys (fluxcd/pkg apis/event/v1beta1/metadata.go). */
export const META = {
  revision: 'revision',
  originRevision: 'originRevision',
  checksum: 'checksum',
  digest: 'digest',
  token: 'token',
  commit: 'commit',
  commitStatus: 'commit_status',
  commitStatusUpdate: 'update',
  changeRequest: 'change_request',
  summary: 'summary',
} as const;

/** Flux's message limit. */
const MAX_MESSAGE = 39_000;

/** The kinds an Alert's eventSources may name (api/v1beta3 enum), with their group. */
export const EVENT_SOURCE_KINDS: Readonly<Record<string, string>> = {
  Bucket: 'source.toolkit.fluxcd.io',
  GitRepository: 'source.toolkit.fluxcd.io',
  HelmChart: 'source.toolkit.fluxcd.io',
  HelmRepository: 'source.toolkit.fluxcd.io',
  OCIRepository: 'source.toolkit.fluxcd.io',
  ExternalArtifact: 'source.toolkit.fluxcd.io',
  ArtifactGenerator: 'source.extensions.fluxcd.io',
  Kustomization: 'kustomize.toolkit.fluxcd.io',
  HelmRelease: 'helm.toolkit.fluxcd.io',
  ImageRepository: 'image.toolkit.fluxcd.io',
  ImagePolicy: 'image.toolkit.fluxcd.io',
  ImageUpdateAutomation: 'image.toolkit.fluxcd.io',
};

/**
 * Kinds of Flux-compatible controllers that users add to the Alert CRD's eventSources enum
 * (Flux Operator's, as its distribution does, and tofu-controller's, as Flux's docs show):
 * accepted in an Alert, though no Fluxless object has these kinds, so they match no event.
 */
export const THIRD_PARTY_EVENT_SOURCE_KINDS: readonly string[] = ['FluxInstance', 'FluxReport', 'ResourceSet', 'ResourceSetInputProvider', 'Terraform'];

/** The name the Flux controller that owns `kind` reports events with. */
export function reportingController(kind: string, group: string): string {
  if (group === 'kustomize.toolkit.fluxcd.io') return 'kustomize-controller';
  if (group === 'helm.toolkit.fluxcd.io') return 'helm-controller';
  if (group === 'notification.toolkit.fluxcd.io') return 'notification-controller';
  if (group === 'image.toolkit.fluxcd.io') return kind === 'ImageUpdateAutomation' ? 'image-automation-controller' : 'image-reflector-controller';
  if (group === 'source.extensions.fluxcd.io' || kind === 'ExternalArtifact') return 'source-watcher';
  return 'source-controller';
}

/** The API group of an involved object (from its apiVersion). */
export function groupOf(e: Pick<NotificationEvent, 'involvedObject'>): string {
  return e.involvedObject.apiVersion ? splitApiVersion(e.involvedObject.apiVersion).group : (EVENT_SOURCE_KINDS[e.involvedObject.kind] ?? '');
}

/** metav1.Time JSON: RFC 3339 in UTC, to the second. */
export function rfc3339Seconds(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z') : iso;
}

let hostname: string | undefined;

/**
 * The event a Flux controller would have sent for `event`, recorded on the object `key`
 * (its record as written, for the object's apiVersion, annotations and status). Metadata
 * the reconciler attached under plain keys is put under the object's group, the event's
 * `revision` becomes `<group>/revision`, the source's origin revision is added when the
 * event is about the applied revision, and the object's `event.toolkit.fluxcd.io/*`
 * annotations are copied, as the recorder does. Undefined for an object Flux would not
 * send (no kind, name or namespace).
 */
export function shapeEvent(key: ObjectKey, event: FluxEvent, record: ObjectRecord): NotificationEvent | undefined {
  if (!key.kind || !key.name || !key.namespace) return undefined;
  const obj = record.object;
  const apiVersion = obj?.apiVersion ?? '';
  const group = apiVersion ? splitApiVersion(apiVersion).group : (EVENT_SOURCE_KINDS[key.kind] ?? '');
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.metadata ?? {})) {
    if (typeof v !== 'string') continue;
    metadata[k.includes('/') ? k : `${group}/${k}`] = v;
  }
  if (event.revision) {
    metadata[`${group}/${META.revision}`] ??= event.revision;
    const origin = record.status.lastAppliedOriginRevision;
    if (typeof origin === 'string' && origin && record.status.lastAppliedRevision === event.revision) metadata[`${group}/${META.originRevision}`] ??= origin;
  }
  for (const [k, v] of Object.entries(obj?.metadata.annotations ?? {})) {
    if (k.startsWith(`${EVENT_GROUP}/`) && typeof v === 'string') metadata[k] = v;
  }
  hostname ??= os.hostname();
  const out: NotificationEvent = {
    involvedObject: { kind: key.kind, namespace: key.namespace, name: key.name, ...(obj?.metadata.uid ? { uid: obj.metadata.uid } : {}), ...(apiVersion ? { apiVersion } : {}) },
    severity: event.severity,
    timestamp: rfc3339Seconds(event.timestamp),
    message: event.message.length > MAX_MESSAGE ? event.message.slice(0, MAX_MESSAGE) : event.message,
    reason: event.reason,
    reportingController: reportingController(key.kind, group),
    reportingInstance: hostname,
  };
  if (Object.keys(metadata).length) out.metadata = metadata;
  return out;
}

/**
 * notification-controller's cleanupMetadata: keeps only `event.toolkit.fluxcd.io/*` and
 * `<object group>/*` keys, without `<group>/checksum` and `<group>/digest`.
 */
export function cleanupMetadata(e: NotificationEvent): NotificationEvent {
  const group = groupOf(e);
  const drop = new Set([`${group}/${META.checksum}`, `${group}/${META.digest}`].map((k) => k.toLowerCase()));
  const meta: Record<string, string> = {};
  for (const [k, v] of Object.entries(e.metadata ?? {})) {
    if (drop.has(k.toLowerCase())) continue;
    if (k.startsWith(`${EVENT_GROUP}/`) || k.startsWith(`${group}/`)) meta[k] = v;
  }
  const { metadata: _m, ...rest } = e;
  return Object.keys(meta).length ? { ...rest, metadata: meta } : rest;
}

/**
 * The rate-limit key of an event (event_server.go eventKeyFunc): hex SHA-256 of
 * `event/name=/namespace=/kind=/message=[/originRevision=][/revision=][/token=]`,
 * computed before the token is dropped.
 */
export function rateLimitKey(e: NotificationEvent): string {
  const group = groupOf(e);
  const comps = ['event', `name=${e.involvedObject.name}`, `namespace=${e.involvedObject.namespace}`, `kind=${e.involvedObject.kind}`, `message=${e.message}`];
  const m = e.metadata ?? {};
  for (const k of [META.originRevision, META.revision, META.token] as const) {
    const v = m[`${group}/${k}`];
    if (v !== undefined) comps.push(`${k}=${v}`);
  }
  return createHash('sha256').update(comps.join('/')).digest('hex');
}

/** excludeInternalMetadata: drops `<group>/token`. */
export function withoutToken(e: NotificationEvent): NotificationEvent {
  const key = `${groupOf(e)}/${META.token}`;
  if (!e.metadata || !(key in e.metadata)) return e;
  const { [key]: _t, ...meta } = e.metadata;
  const { metadata: _m, ...rest } = e;
  return Object.keys(meta).length ? { ...rest, metadata: meta } : rest;
}

/** True for KS's "Reconciliation finished" event (`<group>/commit_status: update`). */
export function isCommitStatusUpdate(e: NotificationEvent): boolean {
  return e.metadata?.[`${groupOf(e)}/${META.commitStatus}`] === META.commitStatusUpdate;
}

/** True when the event carries `event.toolkit.fluxcd.io/commit`. */
export function hasCommitKey(e: NotificationEvent): boolean {
  return Boolean(e.metadata?.[`${EVENT_GROUP}/${META.commit}`]);
}

/** True when the event carries `event.toolkit.fluxcd.io/change_request`. */
export function hasChangeRequestKey(e: NotificationEvent): boolean {
  return Boolean(e.metadata?.[`${EVENT_GROUP}/${META.changeRequest}`]);
}

/** `Kind/namespace/name`, as notification-controller names an involved object. */
export function involvedObjectString(e: Pick<NotificationEvent, 'involvedObject'>): string {
  return `${e.involvedObject.kind}/${e.involvedObject.namespace}/${e.involvedObject.name}`;
}
