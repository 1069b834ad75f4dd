/**
 * `pagerduty` (notifier/pagerduty.go, go-pagerduty's Events API v2): an error event
 * triggers an alert on `<scheme>://<host>/v2/enqueue`, deduplicated by the object's UID;
 * an info event resolves it and is also sent as a change event to `/v2/change/enqueue`.
 * The routing key is the Provider's `channel`; Progressing events are skipped. Objects that
 * come from Git have no cluster UID in Fluxless, so the dedup key is then a UUID-shaped digest
 * of kind, namespace and name: stable, so a resolve finds the alert its trigger opened.
 */
import { createHash } from 'node:crypto';
import { nameAndDescription, PROGRESSING_REASON } from '../commit-status.js';
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { postMessage, type Notifier, type ProviderOptions } from './common.js';

/** `message` and `metadata` (null without metadata), the custom details of both events. */
function details(e: NotificationEvent): Record<string, unknown> {
  return { message: e.message, metadata: e.metadata ?? null };
}

/** The object's UID, or a stable UUID-shaped digest of kind/namespace/name when it has none. */
export function pagerDutyDedupKey(e: NotificationEvent): string {
  const io = e.involvedObject;
  if (io.uid) return io.uid;
  const h = createHash('sha256').update(`${io.kind}/${io.namespace}/${io.name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The V2Event of an event: trigger with a payload on error, else resolve. */
export function pagerDutyEvent(e: NotificationEvent, routingKey: string): GoStruct {
  const { name, description } = nameAndDescription(e);
  const error = e.severity === 'error';
  const payload = error
    ? S([
        ['summary', `${description}: ${name}`],
        ['source', `Flux ${e.reportingController}`],
        ['severity', 'error'],
        ['timestamp', omitEmpty(e.timestamp)],
        ['component', omitEmpty(e.involvedObject.name)],
        ['group', omitEmpty(e.involvedObject.kind)],
        ['custom_details', details(e)],
      ])
    : undefined;
  return S([['routing_key', routingKey], ['event_action', error ? 'trigger' : 'resolve'], ['dedup_key', pagerDutyDedupKey(e)], ['payload', payload ?? omitEmpty(undefined)]]);
}

/** The ChangeEvent of an info event. */
export function pagerDutyChangeEvent(e: NotificationEvent, routingKey: string): GoStruct {
  const { name, description } = nameAndDescription(e);
  return S([
    ['routing_key', routingKey],
    ['payload', S([['summary', `${description}: ${name}`], ['source', `Flux ${e.reportingController}`], ['timestamp', omitEmpty(e.timestamp)], ['custom_details', details(e)]])],
  ]);
}

/** The PagerDuty notifier. */
export function pagerDutyNotifier(o: ProviderOptions): Notifier {
  let endpoint: string;
  try {
    const u = new URL(o.url);
    endpoint = `${u.protocol}//${u.host}`;
  } catch {
    throw new PermanentDeliveryError(`invalid PagerDuty endpoint URL ${JSON.stringify(o.url)}: 'parse ${JSON.stringify(o.url)}: invalid URI for request'`);
  }
  return async (e) => {
    if (e.reason === PROGRESSING_REASON) return false;
    await postMessage(o, `${endpoint}/v2/enqueue`, pagerDutyEvent(e, o.channel), {}, 'failed sending event');
    if (e.severity === 'info') await postMessage(o, `${endpoint}/v2/change/enqueue`, pagerDutyChangeEvent(e, o.channel), {}, 'failed sending change event');
  };
}
