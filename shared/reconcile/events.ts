/**
 * Where the events reconcilers record go besides the object's record: the notification
 * pipeline (Alerts and Providers) subscribes here. A sink is registered per state store (the
 * runtime that owns the store registers it), so the status writer needs no extra argument
 * and a store without a sink (a CLI command, a unit test) records events only.
 */
import type { ObjectKey } from '../kube/object.js';
import type { FluxEvent, ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** Receives each new event (not the repeats the writer counts) with the object it is about. */
export type EventSink = (e: { key: ObjectKey; event: FluxEvent; record: ObjectRecord }) => Promise<void>;

const sinks = new WeakMap<StateStore, EventSink>();

/** Sends the events recorded through `state` to `sink` (one sink per store). */
export function registerEventSink(state: StateStore, sink: EventSink): void {
  sinks.set(state, sink);
}

/** Hands a newly recorded event to the store's sink, if any; a failing sink never fails the reconcile. */
export async function emitEvent(state: StateStore, key: ObjectKey, event: FluxEvent, record: ObjectRecord): Promise<void> {
  const sink = sinks.get(state);
  if (!sink) return;
  try {
    await sink({ key, event, record });
  } catch (err) {
    log.warn('could not hand an event to the notification pipeline', { object: `${key.kind}/${key.namespace}/${key.name}`, reason: event.reason, error: errorMessage(err) });
  }
}
