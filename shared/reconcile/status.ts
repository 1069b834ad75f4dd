/**
 * The one status writer every kind uses: Ready (and Stalled, Reconciling) conditions with
 * Flux's rules, extra conditions, `observedGeneration`, `lastHandledReconcileAt` (the
 * request value read at the start of the reconcile, never one that arrived meanwhile),
 * reconcile history, events with deduplication, and the next scheduled run (kept in the
 * due-time index so the scheduler finds it without reading every record).
 */
import type { ObjectKey } from '../kube/object.js';
import { scheduleDue } from '../state/due-index.js';
import { emitEvent } from './events.js';
import {
  MAX_EVENTS,
  MAX_HISTORY,
  removeCondition,
  setCondition,
  type AppliedStamp,
  type Condition,
  type FluxEvent,
  type ObjectRecord,
  type ObjectStatus,
} from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { formatGoDuration } from '../util/duration.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';

/** An event to record, without its timestamp (the writer stamps it). */
export type EventInput = Omit<FluxEvent, 'timestamp' | 'count' | 'emittedAt'>;

/** How often a repeated event is handed to the notification pipeline again. */
export const REEMIT_MS = 5 * 60_000;

/** A reconcile snapshot for `status.history` (Flux 2.7+): one entry per distinct digest and outcome. */
export interface HistoryInput {
  /** Digest of what was reconciled (artifact digest, values digest, ...). */
  digest: string;
  durationMs: number;
  /** `ReconciliationSucceeded`, or the failure reason. */
  status: string;
  metadata: Record<string, string>;
}

/** What a reconcile writes at its end. */
export interface StatusUpdate {
  /** Ready condition status: true, false, or 'Unknown' (in progress). */
  ready: boolean | 'Unknown';
  reason: string;
  message: string;
  /** Stalled=True with the same reason: the object cannot succeed until its definition changes. */
  stalled?: boolean;
  /** Set Reconciling=True (with this reason) instead of removing it. */
  reconciling?: string;
  /** Other conditions to set, e.g. Healthy, ArtifactInStorage, Released. */
  conditions?: Array<Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>>;
  /** Condition types to remove. */
  removeConditions?: string[];
  /** Kind-specific status fields, merged over the current status. */
  fields?: Partial<ObjectStatus>;
  /** The `requestedAt` value read at the start of the reconcile, to acknowledge. */
  handledRequest?: string;
  /** Run again in this many ms (interval or retryInterval); undefined keeps the schedule. */
  nextRunMs?: number;
  event?: EventInput;
  history?: HistoryInput;
  /** Replaces the record's stamps of what was applied (the apply engine's no-op check reads them next time). */
  applied?: Record<string, AppliedStamp>;
}

/** Appends an event, or counts it when it repeats the last one (same severity, reason, message, revision). */
export function appendEvent(events: FluxEvent[] | undefined, e: EventInput, at: string): FluxEvent[] {
  const list = [...(events ?? [])];
  const last = list.at(-1);
  if (last && last.severity === e.severity && last.reason === e.reason && last.message === e.message && last.revision === e.revision) {
    // A repeat is counted; it is handed to the notification pipeline again once every
    // REEMIT_MS (as notification-controller lets a persistent error through every 5 minutes).
    const reemit = Date.parse(at) - Date.parse(last.emittedAt ?? last.timestamp) >= REEMIT_MS;
    list[list.length - 1] = { ...last, timestamp: at, count: (last.count ?? 1) + 1, ...(reemit ? { emittedAt: at } : {}) };
    return list;
  }
  list.push({ timestamp: at, ...e, emittedAt: at });
  return list.slice(-MAX_EVENTS);
}

/** Adds a reconcile to `status.history` as Flux does: one entry per digest and outcome, newest first. */
export function recordHistory(history: ObjectStatus['history'], h: HistoryInput, at: string): NonNullable<ObjectStatus['history']> {
  const list = [...(history ?? [])];
  const i = list.findIndex((x) => x.digest === h.digest && x.lastReconciledStatus === h.status);
  const duration = formatGoDuration(h.durationMs);
  if (i >= 0) {
    const prev = list.splice(i, 1)[0];
    list.unshift({ ...prev, lastReconciled: at, lastReconciledDuration: duration, totalReconciliations: prev.totalReconciliations + 1, metadata: h.metadata });
  } else {
    list.unshift({
      digest: h.digest,
      firstReconciled: at,
      lastReconciled: at,
      lastReconciledDuration: duration,
      lastReconciledStatus: h.status,
      totalReconciliations: 1,
      metadata: h.metadata,
    });
  }
  return list.slice(0, MAX_HISTORY);
}

/** Applies an update to a record (pure: the new record, or undefined when the record is gone). */
export function applyStatus(cur: ObjectRecord | undefined, u: StatusUpdate, at: Date): ObjectRecord | undefined {
  if (!cur) return undefined;
  const now = at.toISOString();
  const gen = Number(cur.object?.metadata.generation ?? 1);
  const readyStatus = u.ready === 'Unknown' ? 'Unknown' : u.ready ? 'True' : 'False';
  let conds = setCondition(cur.status.conditions, { type: 'Ready', status: readyStatus, reason: u.reason, message: u.message, observedGeneration: gen }, now);
  conds = u.reconciling
    ? setCondition(conds, { type: 'Reconciling', status: 'True', reason: u.reconciling, message: u.message, observedGeneration: gen }, now)
    : removeCondition(conds, 'Reconciling');
  conds = u.stalled
    ? setCondition(conds, { type: 'Stalled', status: 'True', reason: u.reason, message: u.message, observedGeneration: gen }, now)
    : removeCondition(conds, 'Stalled');
  for (const c of u.conditions ?? []) conds = setCondition(conds, { ...c, observedGeneration: gen }, now);
  for (const t of u.removeConditions ?? []) conds = removeCondition(conds, t);
  const status: ObjectStatus = {
    ...cur.status,
    ...(u.fields ?? {}),
    conditions: conds,
    observedGeneration: gen,
    lastReconciledAt: now,
    nextRunAt: u.nextRunMs !== undefined ? new Date(at.getTime() + u.nextRunMs).toISOString() : cur.status.nextRunAt,
  };
  if (u.handledRequest) status.lastHandledReconcileAt = u.handledRequest;
  if (u.history) status.history = recordHistory(status.history, u.history, now);
  const events = u.event ? appendEvent(cur.events, u.event, now) : cur.events;
  return { ...cur, status, events, ...(u.applied ? { applied: u.applied } : {}) };
}

/**
 * Writes a reconcile's outcome to the object's record (re-read, so concurrent writers such
 * as a webhook's `requestedAt` are kept), and files the next run in the due-time index.
 */
export async function writeStatus(state: StateStore, key: ObjectKey, u: StatusUpdate, at: Date): Promise<ObjectRecord | undefined> {
  let before: string | undefined;
  let eventsBefore: FluxEvent[] | undefined;
  const res = await state.update<ObjectRecord>(key, (cur) => {
    before = cur?.status.nextRunAt;
    eventsBefore = cur?.events;
    return applyStatus(cur, u, at);
  });
  if (u.event && res) await emitNew(state, key, eventsBefore, res.value);
  const after = res?.value.status.nextRunAt;
  if (after && after !== before) {
    await scheduleDue(state, key, after, before).catch((err: unknown) =>
      log.warn('could not file the next run in the due-time index; the next full scan finds it', { key, error: errorMessage(err) }),
    );
  }
  return res?.value;
}

/** Adds an event to an object's record without touching its conditions. */
export async function recordEvent(state: StateStore, key: ObjectKey, e: EventInput, at: Date): Promise<void> {
  let eventsBefore: FluxEvent[] | undefined;
  const res = await state.update<ObjectRecord>(key, (cur) => {
    eventsBefore = cur?.events;
    return cur ? { ...cur, events: appendEvent(cur.events, e, at.toISOString()) } : undefined;
  });
  if (res) await emitNew(state, key, eventsBefore, res.value);
}

/** Emits the last event of `after` when it is new, or a repeat due to be sent again (appendEvent decides). */
async function emitNew(state: StateStore, key: ObjectKey, before: FluxEvent[] | undefined, after: ObjectRecord): Promise<void> {
  const last = after.events?.at(-1);
  const prev = before?.at(-1);
  if (!last || last.emittedAt !== last.timestamp) return;
  if (prev && prev.timestamp === last.timestamp && prev.emittedAt === last.emittedAt && prev.reason === last.reason) return;
  await emitEvent(state, key, last, after);
}
