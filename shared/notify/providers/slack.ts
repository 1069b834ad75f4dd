/**
 * `slack` (notifier/slack.go), `discord` (notifier/discord.go, Slack-compatible webhook at
 * `<address>/slack`) and `rocket` (notifier/rocket.go, Rocket.Chat's Slack-compatible
 * incoming webhook): one attachment with the object, the message, a color from the
 * severity and a field per metadata entry.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, type Notifier, objName, postMessage, type ProviderOptions, requireRequestUri, requireUrlQuoted } from './common.js';
import { trimEnd } from '../../util/trim.js';

/** chat.postMessage answers 200 with `ok: false` on errors. */
export const SLACK_API_URL = 'https://slack.com/api/chat.postMessage';

/** The SlackPayload of an event. */
export function slackPayload(
  e: NotificationEvent,
  o: { channel: string; username: string; fallback: boolean; colors?: { info: string; error: string }; noDefaultUsername?: boolean },
): GoStruct {
  const author = objName(e);
  const colors = o.colors ?? { info: 'good', error: 'danger' };
  return S([
    ['channel', o.channel],
    ['username', o.noDefaultUsername ? o.username : o.username || e.reportingController],
    ['icon_url', ''],
    ['icon_emoji', ''],
    ['text', omitEmpty('')],
    [
      'attachments',
      [
        S([
          ['fallback', o.fallback ? `${author}: ${e.message.split('\n')[0]}` : ''],
          ['color', e.severity === 'error' ? colors.error : colors.info],
          ['author_name', author],
          ['text', e.message],
          ['mrkdwn_in', ['text']],
          ['fields', metadataEntries(e).map(([k, v]) => S([['title', k], ['value', v], ['short', false]]))],
        ]),
      ],
    ],
  ]);
}

/** The Slack notifier. */
export function slackNotifier(o: ProviderOptions): Notifier {
  requireRequestUri(o.url, 'Slack hook URL');
  return async (e) => {
    const res = await postMessage(o, o.url, slackPayload(e, { channel: o.channel, username: o.username, fallback: true }), o.token ? { Authorization: `Bearer ${o.token}` } : {});
    if (o.url === SLACK_API_URL) {
      let body: { ok?: boolean; error?: string };
      try {
        body = JSON.parse(res.text()) as { ok?: boolean; error?: string };
      } catch (err) {
        throw new PermanentDeliveryError(`postMessage failed: request failed: unable to unmarshal response body: ${(err as Error).message}`);
      }
      if (!body.ok) throw new PermanentDeliveryError(`postMessage failed: request failed: Slack responded with error: ${body.error ?? ''}`);
    }
  };
}

/** Discord's Slack-compatible endpoint: `/slack` appended to the path unless it ends with it. */
export function discordUrl(address: string): string {
  const u = requireRequestUri(address, 'Discord hook URL');
  if (address.endsWith('/slack')) return address;
  u.pathname = `${trimEnd(u.pathname, '/')}/slack`.replace(/\/{2,}/g, '/');
  return u.toString();
}

/** The Discord notifier (no token, no channel, no fallback, no TLS settings). */
export function discordNotifier(o: ProviderOptions): Notifier {
  const url = discordUrl(o.url);
  return async (e) => {
    await postMessage({ signal: o.signal, transport: { proxy: o.transport.proxy } }, url, slackPayload(e, { channel: '', username: o.username, fallback: false }));
  };
}

/** The Rocket.Chat notifier: Rocket's colors, the Provider's username as is (no default), no token. */
export function rocketNotifier(o: ProviderOptions): Notifier {
  requireUrlQuoted(o.url, 'Rocket hook URL');
  return async (e) => {
    await postMessage(o, o.url, slackPayload(e, { channel: o.channel, username: o.username, fallback: false, colors: { info: '#0076D7', error: '#FF0000' }, noDefaultUsername: true }));
  };
}
