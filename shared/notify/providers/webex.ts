/**
 * `webex` (notifier/webex.go): a Markdown message posted to `https://webexapis.com/v1/messages`
 * (the Provider's address) in the room named by `channel`, with the bot token as
 * `Authorization: Bearer`.
 */
import type { NotificationEvent } from '../event.js';
import { omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, type Notifier, objName, postMessage, type ProviderOptions, requireUrlQuoted } from './common.js';

/** The Markdown of an event (CreateMarkdown). */
export function webexMarkdown(e: NotificationEvent): string {
  let b = `${e.severity === 'error' ? '💣' : '✅'} **${objName(e)}**\n${e.message}\n`;
  for (const [k, v] of metadataEntries(e)) b += `>**${k}**: ${v}\n`;
  return b;
}

/** The WebexPayload of an event for a room. */
export function webexPayload(e: NotificationEvent, roomId: string): GoStruct {
  return S([['roomId', omitEmpty(roomId)], ['markdown', omitEmpty(webexMarkdown(e))]]);
}

/** The Webex notifier. */
export function webexNotifier(o: ProviderOptions): Notifier {
  requireUrlQuoted(o.url, 'Webex hook URL');
  return async (e) => {
    await postMessage(o, o.url, webexPayload(e, o.channel), { Authorization: `Bearer ${o.token}` });
  };
}
