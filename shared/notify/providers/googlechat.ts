/** `googlechat` (notifier/google_chat.go): a card with the object, the message and the metadata. */
import type { NotificationEvent } from '../event.js';
import { PermanentDeliveryError } from '../errors.js';
import { S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, objName, postMessage, type Notifier, type ProviderOptions } from './common.js';

/** The GoogleChatPayload of an event. */
export function googleChatPayload(e: NotificationEvent): GoStruct {
  const text = e.severity === 'error' ? `<font color="#ff0000">${e.message}</font>` : e.message;
  const sections: GoStruct[] = [S([['header', ''], ['widgets', [S([['textParagraph', S([['text', text]])], ['keyValue', null]])]]])];
  const meta = metadataEntries(e);
  if (meta.length) {
    sections.push(
      S([
        ['header', ''],
        ['widgets', meta.map(([k, v]) => S([['textParagraph', null], ['keyValue', S([['topLabel', k], ['content', v], ['contentMultiline', false], ['bottomLabel', null], ['icon', null]])]]))],
      ]),
    );
  }
  return S([['cards', [S([['header', S([['title', objName(e)], ['subtitle', e.reportingController], ['imageUrl', null], ['imageStyle', null]])], ['sections', sections]])]]]);
}

/** The Google Chat notifier (proxy only, no TLS settings). */
export function googleChatNotifier(o: ProviderOptions): Notifier {
  try {
    new URL(o.url);
  } catch {
    throw new PermanentDeliveryError(`invalid Google Chat hook URL ${o.url}`);
  }
  return async (e) => {
    await postMessage({ signal: o.signal, transport: { proxy: o.transport.proxy } }, o.url, googleChatPayload(e));
  };
}
