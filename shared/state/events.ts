/**
 * EventLog: an append-only, capped list of events per object, kept on a StateStore as one
 * record per object (`{ nextSeq, events: [...last N] }`). Appends are read-modify-write with
 * retries, so concurrent appenders never lose each other's events (beyond the cap).
 *
 * Give the EventLog its own StateStore (another root directory, or another S3 prefix) so its
 * records do not show up in the main store's `list()`, e.g. `new FsStateStore(root + '/events')`
 * or `new S3StateStore({ client, bucket, prefix: 'events/' })`.
 */
import type { ObjectKey } from './key.js';
import { compareKeys } from './key.js';
import type { StateStore } from './store.js';

export interface LoggedEvent<E> {
  key: ObjectKey;
  /** Monotonic per object, starting at 1. */
  seq: number;
  /** ISO time of the append. */
  at: string;
  event: E;
}

interface EventDoc<E> {
  nextSeq: number;
  events: { seq: number; at: string; event: E }[];
}

export interface EventLogOptions {
  /** Events kept per object; older ones are dropped (default 100). */
  maxPerObject?: number;
  /** Parallel reads when listing events of many objects (default 16). */
  readConcurrency?: number;
}

export class EventLog<E = unknown> {
  private readonly store: StateStore;
  private readonly max: number;
  private readonly concurrency: number;

  constructor(store: StateStore, opts: EventLogOptions = {}) {
    this.store = store;
    this.max = Math.max(1, opts.maxPerObject ?? 100);
    this.concurrency = Math.max(1, opts.readConcurrency ?? 16);
  }

  /** Appends one event for `key`; returns it with its sequence number and time. */
  async appendEvent(key: ObjectKey, event: E): Promise<LoggedEvent<E>> {
    let appended: LoggedEvent<E> | undefined;
    await this.store.update<EventDoc<E>>(
      key,
      (cur) => {
        const doc: EventDoc<E> = cur ?? { nextSeq: 1, events: [] };
        const entry = { seq: doc.nextSeq, at: new Date().toISOString(), event };
        appended = { key, ...entry };
        const events = [...doc.events, entry];
        return { nextSeq: doc.nextSeq + 1, events: events.length > this.max ? events.slice(events.length - this.max) : events };
      },
      { retries: 20 },
    );
    return appended!;
  }

  /**
   * Events of one object (oldest first), or of every object matching a `{kind?, namespace?}`
   * prefix (or all objects when omitted), ordered by time, then object, then sequence.
   */
  async listEvents(filter?: ObjectKey | { kind?: string; namespace?: string }): Promise<LoggedEvent<E>[]> {
    if (filter && 'name' in filter && filter.name !== undefined) {
      return this.eventsOf(filter as ObjectKey);
    }
    const keys = await this.store.list(filter as { kind?: string; namespace?: string } | undefined);
    const all: LoggedEvent<E>[] = [];
    for (let i = 0; i < keys.length; i += this.concurrency) {
      const batch = await Promise.all(keys.slice(i, i + this.concurrency).map((k) => this.eventsOf(k)));
      for (const evs of batch) all.push(...evs);
    }
    return all.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : compareKeys(a.key, b.key) || a.seq - b.seq));
  }

  /** Drops all events of an object (e.g. when the object is deleted). */
  async clearEvents(key: ObjectKey): Promise<void> {
    await this.store.delete(key);
  }

  private async eventsOf(key: ObjectKey): Promise<LoggedEvent<E>[]> {
    const cur = await this.store.get<EventDoc<E>>(key);
    const k = { kind: key.kind, namespace: key.namespace ?? '', name: key.name };
    return (cur?.value.events ?? []).map((e) => ({ key: k, ...e }));
  }
}
