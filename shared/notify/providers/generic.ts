/**
 * `generic` and `generic-hmac` (notifier/forwarder.go): the event itself, as JSON, with
 * `gotk-component: <reportingController>` and the Secret's `headers`; generic-hmac adds
 * `X-Signature: sha256=<hex HMAC-SHA256 of the body with the token>`.
 */
import { createHmac } from 'node:crypto';
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { goMarshal, omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { httpRequest } from '../http.js';
import { checkStatus, requireRequestUri, type Notifier, type ProviderOptions } from './common.js';

/** The header that names the sending component. */
export const NOTIFICATION_HEADER = 'gotk-component';

/** The eventv1.Event struct, fields in Go's order (ObjectReference and Event omitempty rules). */
export function eventStruct(e: NotificationEvent): GoStruct {
  const io = e.involvedObject;
  return S([
    [
      'involvedObject',
      S([
        ['kind', omitEmpty(io.kind)],
        ['namespace', omitEmpty(io.namespace)],
        ['name', omitEmpty(io.name)],
        ['uid', omitEmpty(io.uid)],
        ['apiVersion', omitEmpty(io.apiVersion)],
        ['resourceVersion', omitEmpty(io.resourceVersion)],
      ]),
    ],
    ['severity', e.severity],
    ['timestamp', e.timestamp],
    ['message', e.message],
    ['reason', e.reason],
    ['metadata', omitEmpty(e.metadata)],
    ['reportingController', e.reportingController],
    ['reportingInstance', omitEmpty(e.reportingInstance)],
  ]);
}

/** HMAC-SHA256 of the body, hex, as generic-hmac signs it. */
export function hmacSignature(body: string | Buffer, key: string): string {
  return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
}

/** The generic (or, with `hmac`, generic-hmac) notifier. */
export function genericNotifier(o: ProviderOptions, hmac: boolean): Notifier {
  requireRequestUri(o.url, 'hook URL');
  if (hmac && o.token === '') throw new PermanentDeliveryError('HMAC key is empty');
  return async (e) => {
    const body = goMarshal(eventStruct(e));
    const headers: Record<string, string> = { 'Content-Type': 'application/json', [NOTIFICATION_HEADER]: e.reportingController, ...o.headers };
    if (hmac) headers['X-Signature'] = hmacSignature(body, o.token);
    const res = await httpRequest({ method: 'POST', url: o.url, headers, body, signal: o.signal }, o.transport);
    checkStatus(res);
  };
}
