/**
 * `grafana` (notifier/grafana.go): an annotation in Graphite format posted to Grafana's
 * `/api/annotations/graphite`: `when` (the event's Unix time, seconds), `text` (the object)
 * and tags `flux`, the reporting controller, `key: value` per metadata entry (`:` inside
 * either becomes `|`), then `kind:`, `name:` and `namespace:`. A token is sent as
 * `Authorization: Bearer`; without one, a username and password as basic auth.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, objName, postMessage, type Notifier, type ProviderOptions } from './common.js';
import { basicAuth } from '../../util/basic-auth.js';

/** The GraphitePayload of an event. */
export function grafanaPayload(e: NotificationEvent): GoStruct {
  const tags = ['flux', e.reportingController];
  for (const [k, v] of metadataEntries(e)) tags.push(`${k.replaceAll(':', '|')}: ${v.replaceAll(':', '|')}`);
  tags.push(`kind: ${e.involvedObject.kind}`, `name: ${e.involvedObject.name}`, `namespace: ${e.involvedObject.namespace}`);
  return S([['when', Math.floor(Date.parse(e.timestamp) / 1000)], ['text', objName(e)], ['tags', tags]]);
}

/** The Grafana annotations notifier. */
export function grafanaNotifier(o: ProviderOptions): Notifier {
  try {
    new URL(o.url);
  } catch {
    throw new PermanentDeliveryError(`invalid Grafana URL ${o.url}`);
  }
  const headers: Record<string, string> = {};
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  else if (o.username && o.password) headers.Authorization = basicAuth(o.username, o.password);
  return async (e) => {
    await postMessage(o, o.url, grafanaPayload(e), headers);
  };
}
