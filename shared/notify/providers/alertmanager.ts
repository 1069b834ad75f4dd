/**
 * `alertmanager` (notifier/alertmanager.go): the event as one firing alert posted to
 * Alertmanager's `/api/v2/alerts`. Labels are the event metadata plus `alertname`
 * (`Flux<Kind><Reason, title-cased>`), `severity`, `reason`, `kind`, `name`, `namespace`
 * and `reportingcontroller`; annotations are `message` and, when the metadata has one,
 * `summary` (taken out of the labels). `endsAt` is Go's zero time, as Flux sends it (its
 * `omitempty` has no effect on a struct), so Alertmanager resolves the alert after its own
 * `resolve_timeout`. Auth: `Authorization: Bearer <token>`, or basic auth with the Secret's
 * username and password (which wins when both are set, as `SetBasicAuth` replaces the header).
 */
import type { NotificationEvent } from '../event.js';
import { S, type GoStruct } from '../../util/gojson.js';
import { type Notifier, postMessage, type ProviderOptions, requireUrlQuoted } from './common.js';
import { basicAuth } from '../../util/basic-auth.js';

/** Go's zero time.Time in RFC 3339, what Flux sends as `endsAt`. */
const GO_ZERO_TIME = '0001-01-01T00:00:00Z';

/**
 * `cases.Title(language.Und).String(s)`: each word (a run of letters and digits) upper-cases
 * its first letter and lower-cases the rest, so `HealthCheckFailed` becomes `Healthcheckfailed`.
 */
export function goTitle(s: string): string {
  return s.replace(/[\p{L}\p{N}]+/gu, (w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase());
}

/** The `[]AlertManagerAlert` payload of an event (Go map keys come out sorted). */
export function alertmanagerPayload(e: NotificationEvent): GoStruct[] {
  const labels: Record<string, string> = { ...(e.metadata ?? {}) };
  const annotations: Record<string, string> = { message: e.message };
  if (labels.summary !== undefined) {
    annotations.summary = labels.summary;
    delete labels.summary;
  }
  labels.alertname = `Flux${e.involvedObject.kind}${goTitle(e.reason)}`;
  labels.severity = e.severity;
  labels.reason = e.reason;
  labels.kind = e.involvedObject.kind;
  labels.name = e.involvedObject.name;
  labels.namespace = e.involvedObject.namespace;
  labels.reportingcontroller = e.reportingController;
  return [S([['status', 'firing'], ['labels', labels], ['annotations', annotations], ['startsAt', e.timestamp], ['endsAt', GO_ZERO_TIME]])];
}

/** The Alertmanager notifier (proxy and TLS from the Provider, bearer token or basic auth). */
export function alertmanagerNotifier(o: ProviderOptions): Notifier {
  requireUrlQuoted(o.url, 'Alertmanager URL');
  const headers: Record<string, string> = {};
  if (o.token) headers.Authorization = `Bearer ${o.token}`;
  if (o.username && o.password) headers.Authorization = basicAuth(o.username, o.password);
  return async (e) => {
    await postMessage(o, o.url, alertmanagerPayload(e), headers);
  };
}
