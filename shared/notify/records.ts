/**
 * What the notification pipeline keeps in the state store besides Flux's objects:
 * - the delivery log of an involved object (`NotificationLog/<ns>/<Kind>.<name>`): the
 *   last deliveries of its events, for `fluxless events --for Kind/name`;
 * - the last failed delivery of an Alert (`NotificationFailure/<ns>/<alert>`): deliveries
 *   of one Alert run one at a time, in order, so when the queue dead-letters one it is
 *   the one recorded here;
 * - a Provider's UID: Flux's default commit status and PR comment markers include it,
 *   and a definition from Git has none, so one is minted once and kept in its status.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { ObjectKey } from '../kube/object.js';
import { isValidSegment } from '../state/key.js';
import type { ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';

/** Deliveries kept per object. */
export const MAX_DELIVERIES = 50;

/** How one delivery ended. */
export type DeliveryOutcome = 'sent' | 'failed' | 'retrying' | 'dead-lettered';

/** One entry of an object's delivery log. */
export interface DeliveryEntry {
  /** ISO time. */
  at: string;
  /** `namespace/name` of the Alert. */
  alert: string;
  provider: string;
  providerType: string;
  /** The event's reason and the first line of its message. */
  reason: string;
  message: string;
  outcome: DeliveryOutcome;
  /** The delivery attempt (1 = first). */
  attempt: number;
  error?: string;
}

interface DeliveryLog {
  entries: DeliveryEntry[];
}

/** The last failed delivery of an Alert. */
export interface DeliveryFailure {
  object: ObjectKey;
  entry: DeliveryEntry;
}

function segment(s: string): string {
  return s.length <= 253 && isValidSegment(s) ? s : `h.${createHash('sha256').update(s).digest('hex')}`;
}

/** The state key of an object's delivery log. */
export function deliveryLogKey(object: ObjectKey): ObjectKey {
  return { kind: 'NotificationLog', namespace: object.namespace, name: segment(`${object.kind}.${object.name}`) };
}

/** The state key of an Alert's last failed delivery. */
export function failureKey(alert: { namespace: string; name: string }): ObjectKey {
  return { kind: 'NotificationFailure', namespace: alert.namespace, name: alert.name };
}

/** Appends a delivery to the object's log (newest last, capped). */
export async function recordDelivery(state: StateStore, object: ObjectKey, entry: DeliveryEntry): Promise<void> {
  await state.update<DeliveryLog>(deliveryLogKey(object), (cur) => ({ entries: [...(cur?.entries ?? []), entry].slice(-MAX_DELIVERIES) }));
}

/** The object's delivery log, oldest first. */
export async function readDeliveries(state: StateStore, object: ObjectKey): Promise<DeliveryEntry[]> {
  return (await state.get<DeliveryLog>(deliveryLogKey(object)))?.value.entries ?? [];
}

/** Remembers the Alert's last failed delivery. */
export async function rememberFailure(state: StateStore, alert: { namespace: string; name: string }, f: DeliveryFailure): Promise<void> {
  await state.put<DeliveryFailure>(failureKey(alert), f);
}

/** Takes (reads and removes) the Alert's last failed delivery. */
export async function takeFailure(state: StateStore, alert: { namespace: string; name: string }): Promise<DeliveryFailure | undefined> {
  const cur = await state.get<DeliveryFailure>(failureKey(alert));
  if (cur) await state.delete(failureKey(alert));
  return cur?.value;
}

/** The Provider's UID: `metadata.uid`, else the one kept in its status, minted once when it has none. */
export async function ensureProviderUid(state: StateStore, key: ObjectKey, rec: ObjectRecord | undefined): Promise<string> {
  const have = rec?.object?.metadata.uid ?? (typeof rec?.status.uid === 'string' ? rec.status.uid : undefined);
  if (have) return have;
  const minted = randomUUID();
  const res = await state.update<ObjectRecord>(key, (cur) => {
    if (!cur) return undefined;
    if (cur.object?.metadata.uid || typeof cur.status.uid === 'string') return undefined;
    return { ...cur, status: { ...cur.status, uid: minted } };
  });
  const v = res?.value;
  return v?.object?.metadata.uid ?? (typeof v?.status.uid === 'string' ? v.status.uid : minted);
}

/** A delivery as `fluxless events` shows it. */
export interface DeliveryEventRow {
  timestamp: string;
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
}

const OUTCOME_REASON: Record<DeliveryOutcome, string> = {
  sent: 'NotificationSent',
  retrying: 'NotificationRetrying',
  failed: 'NotificationDispatchFailed',
  'dead-lettered': 'NotificationDeadLettered',
};

/** The object's deliveries as event rows (oldest first), for `fluxless events --for`. */
export async function deliveryEventRows(state: StateStore, object: ObjectKey): Promise<DeliveryEventRow[]> {
  return (await readDeliveries(state, object)).map((d) => ({
    timestamp: d.at,
    type: d.outcome === 'sent' ? 'Normal' : 'Warning',
    reason: OUTCOME_REASON[d.outcome],
    message: `Alert ${d.alert} -> Provider ${d.provider}${d.providerType ? ` (${d.providerType})` : ''}, attempt ${d.attempt}: ${d.reason} '${d.message}'${d.error ? `: ${d.error}` : ''}`,
  }));
}
