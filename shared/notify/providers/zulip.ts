/**
 * `zulip` (notifier/zulip.go): a stream message posted form-encoded to the server's
 * `/api/v1/messages` (the path of the Provider's address is replaced), to the channel and
 * topic given as `channel: <channel>/<topic>`, with the Markdown post of the PR comment
 * notifiers as content, and the bot's email and API key (`username`, `password`) as basic auth.
 */
import { PermanentDeliveryError } from '../errors.js';
import { httpRequest } from '../http.js';
import { checkStatus, type Notifier, type ProviderOptions } from './common.js';
import { markdownPost } from './change-request-comment.js';
import { basicAuth } from '../../util/basic-auth.js';

/** Go's url.QueryEscape: unreserved bytes kept, space as `+`, the rest `%XX`. */
export function goQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** url.Values.Encode: keys sorted, `key=value` joined by `&`. */
export function goFormEncode(values: Record<string, string>): string {
  return Object.keys(values)
    .sort()
    .map((k) => `${goQueryEscape(k)}=${goQueryEscape(values[k]!)}`)
    .join('&');
}

/** The Zulip notifier. */
export function zulipNotifier(o: ProviderOptions): Notifier {
  let endpoint: string;
  try {
    const u = new URL(o.url);
    u.pathname = '/api/v1/messages';
    endpoint = u.toString();
  } catch (err) {
    throw new PermanentDeliveryError(`invalid Zulip endpoint URL: ${(err as Error).message}`);
  }
  const i = o.channel.indexOf('/');
  const channel = i < 0 ? '' : o.channel.slice(0, i);
  const topic = i < 0 ? '' : o.channel.slice(i + 1);
  if (!channel || !topic) throw new PermanentDeliveryError(`invalid Zulip channel format, expected <channel>/<topic>, got '${o.channel}'`);
  const headers: Record<string, string> = { 'Content-Type': 'application/x-www-form-urlencoded' };
  if (o.username || o.password) headers.Authorization = basicAuth(o.username, o.password);
  return async (e) => {
    const body = goFormEncode({ type: 'stream', to: channel, topic, content: markdownPost(e) });
    const res = await httpRequest({ method: 'POST', url: endpoint, headers, body, signal: o.signal }, o.transport);
    checkStatus(res);
  };
}
