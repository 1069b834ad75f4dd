/**
 * `msteams` (notifier/teams.go): an Adaptive Card (Workflows / Power Automate webhooks),
 * or the legacy MessageCard when the address is an Office 365 connector
 * (`*.webhook.office.com`).
 */
import type { NotificationEvent } from '../event.js';
import { omitEmpty, S, type GoStruct } from '../../util/gojson.js';
import { metadataEntries, objName, postMessage, requireRequestUri, type Notifier, type ProviderOptions } from './common.js';

/** True when the address is a deprecated Office 365 connector. */
export function isLegacyConnector(address: string): boolean {
  return requireRequestUri(address, 'MS Teams webhook URL').hostname.endsWith('.webhook.office.com');
}

/** The legacy MessageCard. */
export function messageCard(e: NotificationEvent): GoStruct {
  const obj = objName(e);
  return S([
    ['@type', 'MessageCard'],
    ['@context', 'http://schema.org/extensions'],
    ['themeColor', e.severity === 'error' ? 'FF0000' : '0076D7'],
    ['summary', obj],
    ['sections', [S([['activityTitle', e.message], ['activitySubtitle', obj], ['facts', metadataEntries(e).map(([k, v]) => S([['name', k], ['value', v]]))]])]],
  ]);
}

function element(type: string, f: { items?: GoStruct[]; text?: string; size?: string; weight?: string; color?: string; wrap?: boolean; facts?: GoStruct[] }): GoStruct {
  return S([
    ['type', type],
    ['items', omitEmpty(f.items)],
    ['text', omitEmpty(f.text)],
    ['size', omitEmpty(f.size)],
    ['weight', omitEmpty(f.weight)],
    ['color', omitEmpty(f.color)],
    ['wrap', omitEmpty(f.wrap)],
    ['facts', omitEmpty(f.facts)],
  ]);
}

/** The Adaptive Card message: object, message (red on error), facts (summary first, then by key). */
export function adaptiveCard(e: NotificationEvent): GoStruct {
  const meta = e.metadata ?? {};
  const facts: GoStruct[] = [];
  if ('summary' in meta) facts.push(S([['title', 'summary'], ['value', meta.summary]]));
  for (const [k, v] of metadataEntries(e)) if (k !== 'summary') facts.push(S([['title', k], ['value', v]]));
  const body = element('Container', {
    items: [
      element('TextBlock', { text: objName(e), size: 'large', weight: 'bolder', wrap: true }),
      element('TextBlock', { text: e.message, wrap: true, color: e.severity === 'error' ? 'attention' : undefined }),
      element('FactSet', { facts }),
    ],
  });
  return S([
    ['type', 'message'],
    [
      'attachments',
      [
        S([
          ['contentType', 'application/vnd.microsoft.card.adaptive'],
          [
            'content',
            S([
              ['$schema', 'http://adaptivecards.io/schemas/adaptive-card.json'],
              ['type', 'AdaptiveCard'],
              ['version', '1.4'],
              ['body', [body]],
              ['msteams', S([['width', 'Full']])],
            ]),
          ],
        ]),
      ],
    ],
  ]);
}

/** The MS Teams notifier. */
export function teamsNotifier(o: ProviderOptions): Notifier {
  const legacy = isLegacyConnector(o.url);
  return async (e) => {
    await postMessage(o, o.url, legacy ? messageCard(e) : adaptiveCard(e));
  };
}
