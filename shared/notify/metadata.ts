/**
 * The metadata a Provider sees (event_handlers.go combineEventMetadata, Flux RFC 0008):
 * from lowest to highest precedence, the object's `event.toolkit.fluxcd.io/*` annotations,
 * the Alert's `eventMetadata`, the Alert's `summary` (as `summary`), and the controller's
 * `<group>/*` keys, every prefix stripped. A key given by more than one source is a
 * conflict (the higher one wins), reported as `MetadataAppendFailed` on the Alert.
 */
import { EVENT_GROUP, groupOf, type NotificationEvent } from './event.js';
import type { AlertSpec } from './spec.js';

const SOURCES = {
  event: 'involved object annotations',
  alertMetadata: 'Alert object .spec.eventMetadata',
  alertSummary: 'Alert object .spec.summary',
  object: 'involved object controller metadata',
} as const;

/** A key two or more sources set. */
export interface MetadataConflict {
  key: string;
  sources: string[];
}

/** The message of the MetadataAppendFailed warning (as Flux words it). */
export const METADATA_CONFLICT_MESSAGE = 'metadata key conflicts detected (please refer to the Alert API docs and Flux RFC 0008 for more information)';

/** The event with its metadata merged for `alert`, and the key conflicts. */
export function combineEventMetadata(e: NotificationEvent, alert: Pick<AlertSpec, 'eventMetadata' | 'summary'>): { event: NotificationEvent; conflicts: MetadataConflict[] } {
  const metadata: Record<string, string> = {};
  const sources = new Map<string, string[]>();
  const put = (k: string, v: string, src: string) => {
    metadata[k] = v;
    const list = sources.get(k);
    if (list) list.push(src);
    else sources.set(k, [src]);
  };
  const eventPrefix = `${EVENT_GROUP}/`;
  for (const [k, v] of Object.entries(e.metadata ?? {})) if (k.startsWith(eventPrefix)) put(k.slice(eventPrefix.length), v, SOURCES.event);
  for (const [k, v] of Object.entries(alert.eventMetadata)) put(k, v, SOURCES.alertMetadata);
  if (alert.summary) put('summary', alert.summary, SOURCES.alertSummary);
  const objectPrefix = `${groupOf(e)}/`;
  for (const [k, v] of Object.entries(e.metadata ?? {})) if (k.startsWith(objectPrefix)) put(k.slice(objectPrefix.length), v, SOURCES.object);
  const conflicts = [...sources.entries()]
    .filter(([, s]) => s.length > 1)
    .map(([key, s]) => ({ key, sources: s }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const { metadata: _m, ...rest } = e;
  return { event: Object.keys(metadata).length ? { ...rest, metadata } : rest, conflicts };
}
