/**
 * `lark` (notifier/lark.go): an interactive card posted to the Lark (Feishu) bot webhook,
 * titled with the object, red for errors and turquoise otherwise, the message in bold and a
 * `key: value` line per metadata entry. Flux sends it without the Provider's proxy or TLS
 * settings.
 */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, objName, postMessage, type Notifier, type ProviderOptions } from './common.js';

/** The LarkPayload of an event. */
export function larkPayload(e: NotificationEvent): GoStruct {
  const error = e.severity === 'error';
  let message = `**${e.message}**\n\n`;
  for (const [k, v] of metadataEntries(e)) message += `${k}: ${v}\n`;
  return S([
    ['msg_type', 'interactive'],
    [
      'card',
      S([
        ['config', S([['wide_screen_mode', true]])],
        ['header', S([['title', S([['tag', 'plain_text'], ['content', `${error ? '🚨' : '💫'} ${objName(e)}`]])], ['template', error ? 'red' : 'turquoise']])],
        ['elements', [S([['tag', 'div'], ['text', S([['tag', 'lark_md'], ['content', message]])]])]],
      ]),
    ],
  ]);
}

/** The Lark notifier. */
export function larkNotifier(o: ProviderOptions): Notifier {
  try {
    new URL(o.url);
  } catch {
    // Flux's message for an invalid Lark address names Slack (notifier/lark.go).
    throw new PermanentDeliveryError(`invalid Slack hook URL ${o.url}`);
  }
  return async (e) => {
    await postMessage({ signal: o.signal, transport: {} }, o.url, larkPayload(e));
  };
}
