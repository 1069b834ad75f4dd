/**
 * The HelmRelease status while a reconcile works on it, as helm-controller mutates its
 * in-memory object: conditions (marked with the object's generation), `status.history`
 * snapshots, the counters and `lastAttempted*` fields, and the events to emit. At the end
 * (and before a long helm action, so `get` shows progress) it becomes a StatusUpdate for
 * the one status writer: only conditions that changed are written (untouched ones keep
 * their generation, which Ready's summary depends on), removed ones are removed, and the
 * events are recorded in order.
 */
import type { Snapshot } from '../../helm/observation.js';
import type { ObjectKey } from '../../kube/object.js';
import { recordEvent, writeStatus, type EventInput, type StatusUpdate } from '../../reconcile/status.js';
import type { Condition, ConditionStatus, InventoryEntry, ObjectRecord } from '../../state/records.js';
import type { StateStore } from '../../state/store.js';

/** helm-controller's HelmRelease status fields (besides conditions). */
export interface HelmReleaseFields {
  helmChart?: string;
  storageNamespace?: string;
  lastAttemptedGeneration?: number;
  lastAttemptedRevision?: string;
  lastAttemptedRevisionDigest?: string;
  lastAttemptedConfigDigest?: string;
  lastAttemptedValuesChecksum?: string;
  lastAttemptedReleaseAction?: 'install' | 'upgrade';
  lastAttemptedReleaseActionDuration?: string;
  failures?: number;
  installFailures?: number;
  upgradeFailures?: number;
  lastHandledForceAt?: string;
  lastHandledResetAt?: string;
  observedPostRenderersDigest?: string;
  observedCommonMetadataDigest?: string;
  inventory?: { entries: InventoryEntry[] };
  /** Fluxless: the remote cluster of `spec.kubeConfig` (name, server), for `fluxless get`; unset for the management cluster. */
  targetCluster?: { name: string; server: string };
}

const FIELD_NAMES: (keyof HelmReleaseFields)[] = [
  'helmChart',
  'storageNamespace',
  'lastAttemptedGeneration',
  'lastAttemptedRevision',
  'lastAttemptedRevisionDigest',
  'lastAttemptedConfigDigest',
  'lastAttemptedValuesChecksum',
  'lastAttemptedReleaseAction',
  'lastAttemptedReleaseActionDuration',
  'failures',
  'installFailures',
  'upgradeFailures',
  'lastHandledForceAt',
  'lastHandledResetAt',
  'observedPostRenderersDigest',
  'observedCommonMetadataDigest',
  'inventory',
  'targetCluster',
];

/** Conditions always written when present (the status writer clears them otherwise). */
const ALWAYS_WRITTEN = new Set(['Stalled', 'Reconciling']);

/** The working status of one HelmRelease reconcile. */
export class WorkingStatus {
  conditions: Condition[];
  history: Snapshot[];
  f: HelmReleaseFields;
  readonly events: EventInput[] = [];
  private readonly original: Condition[];

  constructor(
    rec: ObjectRecord,
    /** The object's generation (conditions marked now get it). */
    readonly generation: number,
    private readonly now: () => Date,
  ) {
    this.original = structuredClone(rec.status.conditions ?? []);
    this.conditions = structuredClone(rec.status.conditions ?? []);
    this.history = structuredClone((rec.status.history as unknown as Snapshot[] | undefined)?.filter((s) => s && typeof s === 'object' && 'version' in s) ?? []);
    const f: HelmReleaseFields = {};
    for (const k of FIELD_NAMES) if (rec.status[k] !== undefined) (f as Record<string, unknown>)[k] = structuredClone(rec.status[k]);
    this.f = f;
  }

  /** A condition by type. */
  get(type: string): Condition | undefined {
    return this.conditions.find((c) => c.type === type);
  }

  /** True when the condition is True. */
  isTrue(type: string): boolean {
    return this.get(type)?.status === 'True';
  }

  /** Ready=True? */
  isReady(): boolean {
    return this.isTrue('Ready');
  }

  /** Sets a condition (appended when new), with this generation. */
  mark(type: string, status: ConditionStatus, reason: string, message: string): void {
    const i = this.conditions.findIndex((c) => c.type === type);
    const prev = i >= 0 ? this.conditions[i] : undefined;
    const c: Condition = {
      type,
      status,
      reason,
      message,
      lastTransitionTime: prev && prev.status === status ? prev.lastTransitionTime : this.now().toISOString(),
      observedGeneration: this.generation,
    };
    if (i >= 0) this.conditions[i] = c;
    else this.conditions.push(c);
  }

  /** Removes a condition. */
  delete(type: string): void {
    this.conditions = this.conditions.filter((c) => c.type !== type);
  }

  /** conditions.MarkStalled: Stalled=True with the reason (Ready untouched). */
  markStalled(reason: string, message: string): void {
    this.mark('Stalled', 'True', reason, message);
  }

  /** conditions.MarkReconciling. */
  markReconciling(reason: string, message: string): void {
    this.mark('Reconciling', 'True', reason, message);
  }

  /** Replaces condition `target` by `replacement` (keeping its place), as helm-controller's replaceCondition. */
  replace(target: string, replacement: string, reason: string, message: string, status: ConditionStatus): void {
    const c = this.get(target);
    if (!c) return;
    this.delete(replacement);
    const i = this.conditions.findIndex((x) => x.type === target);
    this.conditions[i] = { ...c, type: replacement, status, reason, message, observedGeneration: this.generation };
  }

  /** Queues an event. */
  event(e: EventInput): void {
    this.events.push(e);
  }

  /** ClearFailures. */
  clearFailures(): void {
    this.f.failures = undefined;
    this.f.installFailures = undefined;
    this.f.upgradeFailures = undefined;
  }

  /** Adds one to a failure counter. */
  increment(counter: 'failures' | 'installFailures' | 'upgradeFailures'): void {
    this.f[counter] = (this.f[counter] ?? 0) + 1;
  }

  /** The StatusUpdate for the one status writer (see the module comment). */
  toUpdate(opts: { handledRequest?: string; nextRunMs?: number }): StatusUpdate {
    const ready = this.get('Ready');
    const byType = new Map(this.original.map((c) => [c.type, c]));
    const changed: StatusUpdate['conditions'] = [];
    for (const c of this.conditions) {
      if (c.type === 'Ready') continue;
      const o = byType.get(c.type);
      if (ALWAYS_WRITTEN.has(c.type) || !o || o.status !== c.status || o.reason !== c.reason || o.message !== c.message || o.observedGeneration !== c.observedGeneration) {
        changed.push({ type: c.type, status: c.status, reason: c.reason, message: c.message });
      }
    }
    const present = new Set(this.conditions.map((c) => c.type));
    const removed = this.original.map((c) => c.type).filter((t) => t !== 'Ready' && !present.has(t));
    const fields: Record<string, unknown> = {};
    for (const k of FIELD_NAMES) fields[k] = this.f[k] === 0 ? undefined : this.f[k];
    fields.history = this.history.length ? this.history : undefined;
    return {
      ready: ready ? (ready.status === 'Unknown' ? 'Unknown' : ready.status === 'True') : 'Unknown',
      reason: ready?.reason ?? 'Progressing',
      message: ready?.message ?? 'reconciliation in progress',
      conditions: changed,
      removeConditions: removed,
      fields,
      ...(opts.handledRequest ? { handledRequest: opts.handledRequest } : {}),
      ...(opts.nextRunMs !== undefined ? { nextRunMs: opts.nextRunMs } : {}),
    };
  }

  /** Writes the status and the queued events (in order), then clears the queue. */
  async write(state: StateStore, key: ObjectKey, opts: { handledRequest?: string; nextRunMs?: number }): Promise<ObjectRecord | undefined> {
    const events = this.events.splice(0);
    for (const e of events.slice(0, -1)) await recordEvent(state, key, e, this.now());
    const u = this.toUpdate(opts);
    const last = events.at(-1);
    if (last) u.event = last;
    const rec = await writeStatus(state, key, u, this.now());
    // What was written is now the baseline for the next write of this reconcile.
    this.original.splice(0, this.original.length, ...structuredClone(this.conditions));
    return rec;
  }
}
