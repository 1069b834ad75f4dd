/**
 * Where the receiver app finds Receivers, and the cached digest -> Receiver map it keeps so
 * a hook costs one Map lookup instead of a directory listing.
 */
import type { Logger } from '../util/log.js';
import { ValidationError, errorMessage } from '../util/errors.js';
import { compileReceiverFilters } from './filter.js';
import type { ReceiverFilters } from './filter.js';
import { hasSecret } from './spec.js';
import type { ParsedReceiver, ReceiverSpec, ResourceSelector } from './spec.js';
import { webhookDigest } from './signature.js';
import { withCel } from '../cel/load.js';

/** One Receiver with its token already resolved from `spec.secretRef` (Secret key `token`). */
export interface ReceiverEntry {
  namespace: string;
  name: string;
  spec: ReceiverSpec;
  /** The Secret's `token`; '' for generic-oidc, which has no Secret. */
  token: string;
  /** The whole Secret (decoded), for types that read more keys (gcr: `email`, `audience`). */
  secret?: Readonly<Record<string, string>>;
}

/**
 * Build a ReceiverEntry the way notification-controller resolves a Receiver's Secret:
 * generic-oidc reads none (token ''), every other type needs the Secret with a non-empty
 * `token`. `readSecret(namespace, name)` returns the decoded data. Throws
 * ValidationError naming the Secret and key when something is missing.
 */
export async function resolveReceiverEntry(
  parsed: ParsedReceiver,
  readSecret: (namespace: string, name: string) => Promise<Record<string, string>>,
): Promise<ReceiverEntry> {
  const { namespace, name, spec } = parsed;
  if (!hasSecret(spec)) return { namespace, name, spec, token: '' };
  const data = await readSecret(namespace, spec.secretRef.name);
  const token = data.token ?? '';
  if (token === '') {
    throw new ValidationError(`Receiver ${namespace}/${name}: Secret ${namespace}/${spec.secretRef.name} has no "token" key`, {
      hint: `Add a non-empty "token" key to Secret ${namespace}/${spec.secretRef.name}.`,
    });
  }
  return { namespace, name, spec, token, secret: data };
}

/** Where Receivers come from (the state store, a test list). */
export interface ReceiverDirectory {
  list(): Promise<ReceiverEntry[]>;
  /**
   * Optional cheap, synchronous change marker (a resourceVersion, a counter, an ETag).
   * When given, the map is rebuilt as soon as it changes; without it the map is rebuilt
   * every `refreshMs` and when an unknown digest arrives (throttled).
   */
  version?(): string | number;
}

/** A Receiver as served: precomputed targets and event filter. */
export interface IndexedReceiver {
  entry: ReceiverEntry;
  /** `namespace/name` */
  id: string;
  /** spec.resources with apiVersion and namespace filled in; matchLabels only for `*`. Frozen. */
  targets: ResourceSelector[];
  /** Lower-cased spec.events, or null when every event is accepted. */
  events: ReadonlySet<string> | null;
  /** Compiled CEL filters, when the Receiver has any. */
  filters?: ReceiverFilters;
}

/** Options of ReceiverIndex. */
export interface ReceiverIndexOptions {
  /** Rebuild the map at least this often (ms). Default 30000. */
  refreshMs?: number;
  /** After a miss, rebuild at most this often (ms) to pick up new Receivers. Default 2000. */
  missRefreshMs?: number;
  now?: () => number;
  logger?: Logger;
}

/** Resolve a Receiver's spec.resources into the selectors handed to the ReconcileRequester. */
export function resolveTargets(entry: ReceiverEntry): ResourceSelector[] {
  return entry.spec.resources.map((r) => {
    const t: ResourceSelector = { kind: r.kind, name: r.name, namespace: r.namespace ?? entry.namespace };
    if (r.apiVersion !== undefined) t.apiVersion = r.apiVersion;
    // Flux ignores matchLabels unless the name is the wildcard.
    if (r.name === '*' && r.matchLabels !== undefined) t.matchLabels = { ...r.matchLabels };
    return t;
  });
}

/** The cached digest -> Receiver map, rebuilt on change, on a period and on unknown digests. */
export class ReceiverIndex {
  private map: Map<string, IndexedReceiver> | undefined;
  private builtAt = 0;
  private builtVersion: string | number | undefined;
  private lastMissRefresh = Number.NEGATIVE_INFINITY;
  private dirty = false;
  private failedAt = Number.NEGATIVE_INFINITY;
  private healthy = true;
  private inflight: Promise<void> | undefined;
  private readonly refreshMs: number;
  private readonly missRefreshMs: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  constructor(private readonly directory: ReceiverDirectory, opts: ReceiverIndexOptions = {}) {
    this.refreshMs = opts.refreshMs ?? 30_000;
    this.missRefreshMs = opts.missRefreshMs ?? 2_000;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
  }

  /** Mark the map stale: the next lookup waits for a fresh listing. */
  invalidate(): void {
    this.dirty = true;
  }

  /** Number of Receivers currently indexed. */
  get size(): number {
    return this.map?.size ?? 0;
  }

  /**
   * Find the Receiver for a digest. Throws only when no listing has ever succeeded (the
   * caller answers 503); later listing failures keep serving the last good map.
   */
  async lookup(digest: string): Promise<IndexedReceiver | undefined> {
    if (this.map === undefined) {
      await this.refresh(true);
    } else if (this.dirty || this.versionChanged()) {
      // Wait for the rebuild while the directory is healthy; while it is failing, serve
      // the last good map and retry in the background at most every missRefreshMs.
      if (this.now() - this.failedAt >= this.missRefreshMs) {
        if (this.healthy) await this.refresh(false);
        else void this.refresh(false);
      }
    }
    const now = this.now();
    if (now - this.builtAt >= this.refreshMs) void this.refresh(false);
    let hit = (this.map as Map<string, IndexedReceiver>).get(digest);
    if (hit === undefined && this.healthy && now - this.lastMissRefresh >= this.missRefreshMs) {
      this.lastMissRefresh = now;
      await this.refresh(false);
      hit = (this.map as Map<string, IndexedReceiver>).get(digest);
    }
    return hit;
  }

  private versionChanged(): boolean {
    if (typeof this.directory.version !== 'function') return false;
    return this.directory.version() !== this.builtVersion;
  }

  /** Single-flight rebuild. With `mustSucceed`, a failure propagates; otherwise it is logged. */
  private refresh(mustSucceed: boolean): Promise<void> {
    if (!this.inflight) {
      this.inflight = this.build().finally(() => {
        this.inflight = undefined;
      });
    }
    return mustSucceed ? this.inflight : this.inflight.catch(() => undefined);
  }

  private async build(): Promise<void> {
    this.dirty = false;
    const version = typeof this.directory.version === 'function' ? this.directory.version() : undefined;
    let entries: ReceiverEntry[];
    try {
      entries = await this.directory.list();
    } catch (err) {
      // Do not hammer a failing directory: count the failed attempt as a build, and keep
      // a pending invalidation pending.
      this.builtAt = this.failedAt = this.now();
      this.dirty = true;
      this.healthy = false;
      this.logger?.error('listing receivers failed', { error: errorMessage(err), servingCached: this.map !== undefined });
      throw err;
    }
    const next = new Map<string, IndexedReceiver>();
    for (const entry of entries) {
      const id = `${entry.namespace}/${entry.name}`;
      if (entry.token === '' && hasSecret(entry.spec)) {
        // sha256(name + namespace) would be guessable: never serve a Receiver without a token
        // (generic-oidc has none by design: its bearer token is the authentication).
        this.logger?.warn('receiver has an empty token; its webhook is disabled', {
          receiver: id,
          hint: `Set a non-empty "token" key in Secret ${entry.namespace}/${entry.spec.secretRef.name}.`,
        });
        continue;
      }
      let filters: ReceiverFilters | undefined;
      try {
        filters = await withCel(() => compileReceiverFilters(entry.spec));
      } catch (err) {
        this.logger?.warn('receiver has an invalid CEL filter; its webhook is disabled', { receiver: id, error: errorMessage(err) });
        continue;
      }
      const events = entry.spec.events.length > 0 ? new Set(entry.spec.events.map((e) => e.toLowerCase())) : null;
      // Shared by every request for this Receiver: frozen so a requester cannot alter the cache.
      const targets = Object.freeze(resolveTargets(entry).map((t) => {
        if (t.matchLabels) Object.freeze(t.matchLabels);
        return Object.freeze(t);
      })) as ResourceSelector[];
      const indexed: IndexedReceiver = { entry, id, targets, events };
      if (filters !== undefined) indexed.filters = filters;
      next.set(webhookDigest(entry.token, entry.name, entry.namespace), indexed);
    }
    this.map = next;
    this.healthy = true;
    this.builtAt = this.now();
    this.builtVersion = version;
  }
}
