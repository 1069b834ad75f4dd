/**
 * What every notifier gets (notifier/factory.go notifierOptions), and Flux's `postMessage`
 * (notifier/client.go): a JSON POST whose 2xx answer is success and anything else the
 * error `request failed with status code N: <body>`.
 */
import type { NotificationEvent } from '../event.js';
import { httpStatusError, PermanentDeliveryError } from '../errors.js';
import { goMarshal } from '../../util/gojson.js';
import { httpRequest, type HttpAnswer, type Transport } from '../http.js';
import type { ProviderType } from '../spec.js';

/** Addresses Flux hard-codes, overridable for tests and private mirrors. */
export interface ProviderEndpoints {
  /** Telegram Bot API base (`https://api.telegram.org`). */
  telegram?: string;
  /** Bitbucket Cloud API base (`https://api.bitbucket.org/2.0`; Flux's client reads BITBUCKET_API_BASE_URL). */
  bitbucket?: string;
}

/** A Provider resolved for one delivery: its spec with the Secret's values applied. */
export interface ProviderOptions {
  type: ProviderType;
  /** `spec.address`, or the Secret's `address`. */
  url: string;
  channel: string;
  username: string;
  token: string;
  password: string;
  headers: Record<string, string>;
  /** The commit status id (commit-status types). */
  commitStatus: string;
  /** The Provider's UID (PR comment markers, default commit status). */
  providerUid: string;
  /** The whole Secret (GitHub App keys). */
  secretData: Record<string, string>;
  transport: Transport;
  /** The Provider `timeout`. */
  signal: AbortSignal;
  endpoints: ProviderEndpoints;
}

/** Sends one event; resolves to false when nothing needed sending (the commit already has the same status, a Progressing event). */
export type Notifier = (e: NotificationEvent) => Promise<boolean | void>;

/** `<kind lowercased>/<name>.<namespace>`, as the chat notifiers name the object. */
export function objName(e: NotificationEvent): string {
  return `${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}.${e.involvedObject.namespace}`;
}

/** Metadata entries, sorted by key (Go ranges over the map in random order; sorted is one of those orders). */
export function metadataEntries(e: NotificationEvent): Array<[string, string]> {
  return Object.entries(e.metadata ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** url.ParseRequestURI: an absolute URI (or an absolute path). */
export function requireRequestUri(address: string, what: string): URL {
  try {
    const u = new URL(address);
    if (!u.protocol) throw new Error('no scheme');
    return u;
  } catch {
    throw new PermanentDeliveryError(`invalid ${what} ${address}: parse "${address}": invalid URI for request`);
  }
}

/**
 * The notifiers' `fmt.Errorf("invalid <what> %s: '%w'", address, err)` around url.ParseRequestURI:
 * throws unless `address` is an absolute URL.
 */
export function requireUrlQuoted(address: string, what: string): URL {
  try {
    return new URL(address);
  } catch {
    throw new PermanentDeliveryError(`invalid ${what} ${address}: 'parse "${address}": invalid URI for request'`);
  }
}

/** Throws the postMessage error for a non-2xx answer. */
export function checkStatus(res: HttpAnswer, prefix = 'postMessage failed: request failed: request failed with status code'): void {
  if (res.status >= 200 && res.status < 300) return;
  throw httpStatusError(res.status, res.text(), prefix);
}

/** Flux's postMessage: `payload` as Go JSON, Content-Type application/json, plus `headers`. */
export async function postMessage(
  o: Pick<ProviderOptions, 'transport' | 'signal'>,
  url: string,
  payload: unknown,
  headers: Record<string, string> = {},
  /** What a non-2xx answer is reported as, before `request failed: ...` (Flux's `postMessage failed`, or the notifier's own wrap). */
  what = 'postMessage failed',
): Promise<HttpAnswer> {
  const res = await httpRequest({ method: 'POST', url, headers: { 'Content-Type': 'application/json', ...headers }, body: goMarshal(payload), signal: o.signal }, o.transport);
  checkStatus(res, `${what}: request failed: request failed with status code`);
  return res;
}
