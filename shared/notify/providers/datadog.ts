/**
 * `datadog` (notifier/datadog.go, datadog-api-client-go's Events API v1): an event posted to
 * `<scheme>://<host>/api/v1/events` of the Provider's address (the site, e.g.
 * https://api.datadoghq.eu), authenticated with the token as `DD-API-KEY`. Title
 * `Events from the <Kind> <name>/<namespace>` (as Datadog's Kubernetes integration names
 * events), source type `fluxcd`, alert type error or info, and lower-cased tags: the
 * reporting controller, the reason, kube_kind/kube_name/kube_namespace and each metadata entry.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { metadataEntries, postMessage, type Notifier, type ProviderOptions } from './common.js';

/** The EventCreateRequest of an event (the client marshals it as a map: keys sorted). */
export function dataDogEvent(e: NotificationEvent): Record<string, unknown> {
  const io = e.involvedObject;
  const tags = [
    `flux_reporting_controller:${e.reportingController}`,
    `flux_reason:${e.reason}`,
    `kube_kind:${io.kind}`,
    `kube_name:${io.name}`,
    `kube_namespace:${io.namespace}`,
    ...metadataEntries(e).map(([k, v]) => `${k}:${v}`),
  ].map((t) => t.toLowerCase());
  return {
    title: `Events from the ${io.kind} ${io.name}/${io.namespace}`,
    text: e.message,
    tags,
    source_type_name: 'fluxcd',
    date_happened: Math.floor(Date.parse(e.timestamp) / 1000),
    alert_type: e.severity === 'error' ? 'error' : 'info',
  };
}

/** The Datadog notifier; the token (the API key) is required. */
export function dataDogNotifier(o: ProviderOptions): Notifier {
  if (!o.token) throw new PermanentDeliveryError('token cannot be empty');
  let base: string;
  try {
    const u = new URL(o.url);
    base = `${u.protocol}//${u.host}`;
  } catch (err) {
    throw new PermanentDeliveryError(`failed to parse address ${JSON.stringify(o.url)}: ${(err as Error).message}`);
  }
  return async (e) => {
    try {
      await postMessage(o, `${base}/api/v1/events`, dataDogEvent(e), { Accept: 'application/json', 'DD-API-KEY': o.token });
    } catch (err) {
      (err as Error).message = `failed to post event to DataDog: ${(err as Error).message.replace(/^postMessage failed: request failed: request failed with status code /, '')}`;
      throw err;
    }
  };
}
