/**
 * `matrix` (notifier/matrix.go): an `m.text` message PUT to
 * `<homeserver>/_matrix/client/r0/rooms/<channel>/send/m.room.message/<txn>`, the transaction
 * id being the SHA-1 of the event's JSON (so a redelivery of the same event is deduplicated
 * by the homeserver), with the access token as `Authorization: Bearer`. Flux sends it
 * without the Provider's proxy; TLS settings apply.
 */
import { createHash } from 'node:crypto';
import type { NotificationEvent } from '../event.js';
import { goMarshal, S, type GoStruct } from '../../util/gojson.js';
import { httpRequest } from '../http.js';
import { checkStatus, metadataEntries, type Notifier, objName, type ProviderOptions, requireUrlQuoted } from './common.js';
import { eventStruct } from './generic.js';

/** The MatrixPayload of an event. */
export function matrixPayload(e: NotificationEvent): GoStruct {
  const heading = `${e.severity === 'error' ? '🚨' : '💫'} ${objName(e)}`;
  const metadata = metadataEntries(e)
    .map(([k, v]) => `- ${k}: ${v}\n`)
    .join('');
  return S([['body', `${heading}\n${e.message}\n${metadata}`], ['msgtype', 'm.text']]);
}

/** The transaction id of an event: hex SHA-1 of its JSON. */
export function matrixTxnId(e: NotificationEvent): string {
  return createHash('sha1').update(goMarshal(eventStruct(e))).digest('hex');
}

/** The Matrix notifier. */
export function matrixNotifier(o: ProviderOptions): Notifier {
  requireUrlQuoted(o.url, 'Matrix homeserver URL');
  return async (e) => {
    const url = `${o.url}/_matrix/client/r0/rooms/${o.channel}/send/m.room.message/${matrixTxnId(e)}`;
    const headers = { 'Content-Type': 'application/json', Authorization: `Bearer ${o.token}` };
    const res = await httpRequest({ method: 'PUT', url, headers, body: goMarshal(matrixPayload(e)), signal: o.signal }, { tls: o.transport.tls });
    checkStatus(res);
  };
}
