/**
 * The event sink the runtime registers on its state store (shared/reconcile/events.ts):
 * every new event a reconciler records becomes, per matching Alert, one `notify` queue
 * message, as notification-controller's event server turns a POSTed event into
 * dispatches:
 *
 * 1. the event in Flux's shape (event.ts), its metadata cleaned up;
 * 2. duplicate suppression: Flux's rate-limit key (same object, message, revision,
 *    origin revision and token) is the queue's deduplication id, so a repeat within the
 *    queue's 5-minute window (SQS FIFO and the on-disk queue alike, across processes and
 *    Lambda invocations) is dropped, as Flux's 1-per-5-minutes token bucket drops it;
 * 3. the token dropped, the Alerts listed from the state store (the listing is reused
 *    while the Alert generation marker stays put) and matched (match.ts),
 *    `InvalidConfig` recorded on an Alert whose list entry does not compile;
 * 4. per Alert, events its Provider would drop anyway (a Slack Provider never gets KS's
 *    commit-status update) are not enqueued; the delivery checks again.
 *
 * Nothing here talks to a provider: a provider that is down never slows a reconcile.
 */
import type { ObjectKey } from '../kube/object.js';
import { groupIdFor, notifyMessage, toQueueId } from '../queue/message.js';
import type { EventSink } from '../reconcile/events.js';
import { recordEvent } from '../reconcile/status.js';
import type { Runtime } from '../runtime/runtime.js';
import { kindGeneration } from '../state/kind-generation.js';
import { listRecords, readRecord, type ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { NOTIFY_TARGET_KIND, providerSkips } from './deliver.js';
import { cleanupMetadata, EVENT_SOURCE_KINDS, rateLimitKey, shapeEvent, withoutToken, type NotificationEvent } from './event.js';
import { parseAlert, parseProvider, type AlertSpec } from './spec.js';
import { withCel } from '../cel/load.js';

/** What dispatchEvent did, for tests and logs. */
export interface DispatchResult {
  /** `namespace/name` of the Alerts a notify message was sent for. */
  enqueued: string[];
}

/** How long a listing of Alerts is reused without listing again, even when the generation did not move. */
export const ALERT_LISTING_MAX_AGE_MS = 60_000;

interface AlertListing {
  generation: string;
  /** rt.now() when it was listed, ms. */
  at: number;
  alerts: AlertSpec[];
}

const listings = new WeakMap<StateStore, AlertListing>();

/**
 * The Alerts to match, parsed. A store that tracks the Alert generation (the runtime's,
 * state/kind-generation.ts) costs one GET per event while no Alert changed; the listing is
 * taken again when one did, or after ALERT_LISTING_MAX_AGE_MS.
 */
async function alertsOf(rt: Runtime): Promise<AlertSpec[]> {
  const generation = await kindGeneration(rt.state, 'Alert');
  const now = rt.now().getTime();
  const cached = listings.get(rt.state);
  if (generation !== undefined && cached?.generation === generation && now - cached.at >= 0 && now - cached.at < ALERT_LISTING_MAX_AGE_MS) return cached.alerts;
  const out: AlertSpec[] = [];
  for (const read of await listRecords(rt.state, { kind: 'Alert' })) {
    const rec = read.record;
    if (!rec?.object || rec.deleted || rec.suspended) continue;
    try {
      out.push(await withCel(() => parseAlert(rec.object)));
    } catch {
      /* an invalid Alert is reported by its own reconcile */
    }
  }
  if (generation !== undefined) listings.set(rt.state, { generation, at: now, alerts: out });
  return out;
}

/** What a listing of Alerts depends on in an Alert's record (its status and events do not count). */
export function alertListingProjection(value: unknown): string {
  const rec = value as ObjectRecord | undefined;
  return rec ? JSON.stringify([rec.object ?? null, rec.deleted ?? false, rec.suspended ?? false]) : '';
}

/** Sends one event (already in Flux's shape) to the Alerts that match it; `labels` are the object's. */
export async function dispatchEvent(rt: Runtime, shaped: NotificationEvent, labels: Readonly<Record<string, string>> | undefined): Promise<DispatchResult> {
  const cleaned = cleanupMetadata(shaped);
  const key = rateLimitKey(cleaned);
  const e = withoutToken(cleaned);
  const alerts = await alertsOf(rt);
  if (!alerts.length) return { enqueued: [] };
  // Loaded on the first event with Alerts: matching carries the Go regexp engine.
  const { matchAlerts } = await import('./match.js');
  const { matched, warnings } = matchAlerts(alerts, e, labels);
  for (const w of warnings) {
    await recordEvent(rt.state, { kind: 'Alert', namespace: w.alert.namespace, name: w.alert.name }, { severity: 'error', reason: w.reason, message: w.message }, rt.now()).catch(() => undefined);
  }
  const enqueued: string[] = [];
  const providers = new Map<string, Promise<ObjectRecord | undefined>>();
  for (const alert of matched) {
    const pk: ObjectKey = { kind: 'Provider', namespace: alert.namespace, name: alert.providerRef };
    const id = `${pk.namespace}/${pk.name}`;
    if (!providers.has(id)) providers.set(id, readRecord(rt.state, pk).catch(() => undefined));
    const prec = await providers.get(id)!;
    if (prec?.object && !prec.deleted) {
      try {
        const p = await withCel(() => parseProvider(prec.object));
        if (p.suspend || prec.suspended || providerSkips(p.type, e)) continue;
      } catch {
        /* the delivery reports an invalid Provider on the Alert */
      }
    }
    const target = { kind: NOTIFY_TARGET_KIND, namespace: alert.namespace, name: alert.name };
    const msg = notifyMessage(target, e, { requestedAt: rt.now() });
    await rt.queue.send(msg, { groupId: groupIdFor(target), dedupId: toQueueId(`notify/${alert.namespace}/${alert.name}/${key}`) });
    enqueued.push(`${alert.namespace}/${alert.name}`);
  }
  return { enqueued };
}

/** The sink for a runtime: events of Flux's event-source kinds go to dispatchEvent. */
export function notificationSink(rt: Runtime): EventSink {
  return async ({ key, event, record }) => {
    if (!(key.kind in EVENT_SOURCE_KINDS)) return;
    const shaped = shapeEvent(key, event, record);
    if (!shaped) return;
    try {
      await dispatchEvent(rt, shaped, record.object?.metadata.labels);
    } catch (err) {
      log.warn('could not hand an event to its Alerts', { object: `${key.kind}/${key.namespace}/${key.name}`, reason: event.reason, error: errorMessage(err) });
      throw err;
    }
  };
}
