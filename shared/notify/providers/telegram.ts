/**
 * `telegram` (notifier/telegram.go): the Bot API's sendMessage with MarkdownV2 text; the
 * address is not used, `channel` is `chatID[:threadID]`, the token is the bot token.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, postMessage, type Notifier, type ProviderOptions } from './common.js';
import { trimEnd } from '../../util/trim.js';

/** The Telegram Bot API. */
export const TELEGRAM_API = 'https://api.telegram.org';

/** Escapes MarkdownV2's special characters (each gets a backslash). */
export function escapeTelegram(s: string): string {
  return s.replace(/[\\.\-_[\]()~>`#+=|{}!*]/g, (c) => `\\${c}`);
}

/** The TelegramPayload of an event. */
export function telegramPayload(e: NotificationEvent, channel: string): GoStruct {
  const emoji = e.severity === 'error' ? '🚨' : '💫';
  const heading = `${emoji} ${e.involvedObject.kind.toLowerCase()}/${e.involvedObject.name}/${e.involvedObject.namespace}`;
  const metadata = metadataEntries(e)
    .map(([k, v]) => `\\- *${escapeTelegram(k)}*: ${escapeTelegram(v)}\n`)
    .join('');
  const text = `*${escapeTelegram(heading)}*\n${escapeTelegram(e.message)}\n${metadata}`;
  const i = channel.indexOf(':');
  const chatId = i < 0 ? channel : channel.slice(0, i);
  const thread = i < 0 ? undefined : channel.slice(i + 1);
  return S([['chat_id', chatId], ['message_thread_id', omitEmpty(thread)], ['text', text], ['parse_mode', 'MarkdownV2']]);
}

/** The Telegram notifier. */
export function telegramNotifier(o: ProviderOptions): Notifier {
  if (o.channel === '') throw new PermanentDeliveryError('empty Telegram channel');
  if (o.token === '') throw new PermanentDeliveryError('empty Telegram token');
  const base = trimEnd(o.endpoints.telegram ?? TELEGRAM_API, '/');
  const url = `${base}/bot${o.token}/sendMessage`;
  return async (e) => {
    await postMessage({ signal: o.signal, transport: { proxy: o.transport.proxy } }, url, telegramPayload(e, o.channel));
  };
}
