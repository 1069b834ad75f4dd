/**
 * `opsgenie` (notifier/opsgenie.go, notification-controller 1.9): an alert posted to
 * Opsgenie's `/v2/alerts` with `message` `<Kind>/<name>`, the event message as the
 * description and the metadata plus `severity` as details; `Authorization: GenieKey <token>`.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { S, type GoStruct } from '../../util/gojson.js';
import { type Notifier, postMessage, type ProviderOptions, requireUrlQuoted } from './common.js';

/** The OpsgenieAlert of an event. */
export function opsgeniePayload(e: NotificationEvent): GoStruct {
  const details: Record<string, string> = { ...(e.metadata ?? {}), severity: e.severity };
  return S([['message', `${e.involvedObject.kind}/${e.involvedObject.name}`], ['description', e.message], ['details', details]]);
}

/** The Opsgenie notifier; the token (the API key) is required. */
export function opsgenieNotifier(o: ProviderOptions): Notifier {
  requireUrlQuoted(o.url, 'Opsgenie hook URL');
  if (!o.token) throw new PermanentDeliveryError('empty Opsgenie apikey/token');
  return async (e) => {
    await postMessage(o, o.url, opsgeniePayload(e), { Authorization: `GenieKey ${o.token}` });
  };
}
