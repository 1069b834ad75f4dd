/**
 * Delivery de-duplication: a webhook redelivered with the same delivery id (GitHub
 * `X-GitHub-Delivery`, GitLab `X-Gitlab-Event-UUID`, Bitbucket `X-Request-Id`) for the
 * same Receiver must not trigger a second reconcile request.
 */

/** Remembers webhook delivery ids per Receiver so that a redelivery does not trigger a second reconcile. */
export interface DeliveryDeduper {
  /**
   * Record `key` for `ttlMs` and report whether it was already recorded (and not expired).
   * Returns true when the delivery was seen before.
   */
  seen(key: string, ttlMs: number): Promise<boolean>;
  /** Drop a key again (used when the reconcile request failed, so a redelivery can retry). */
  forget?(key: string): Promise<void>;
}

/** Options of MemoryDeliveryDeduper. */
export interface MemoryDeduperOptions {
  /** Most keys kept; the oldest are evicted first. Default 10000. */
  maxEntries?: number;
  /** Clock, for tests. Default Date.now. */
  now?: () => number;
}

/**
 * In-process deduper with a TTL per key and a bounded size. Map insertion order is the
 * eviction order; expired keys at the front are purged as new keys arrive, so the cost
 * per call stays O(1) amortised.
 */
export class MemoryDeliveryDeduper implements DeliveryDeduper {
  private readonly entries = new Map<string, number>();
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: MemoryDeduperOptions = {}) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 10_000);
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.entries.size;
  }

  async seen(key: string, ttlMs: number): Promise<boolean> {
    return this.seenSync(key, ttlMs);
  }

  seenSync(key: string, ttlMs: number): boolean {
    const now = this.now();
    const expiresAt = this.entries.get(key);
    if (expiresAt !== undefined) {
      if (expiresAt > now) return true;
      this.entries.delete(key);
    }
    // Purge expired keys from the front (bounded), then evict the oldest over capacity.
    let budget = 8;
    for (const [k, exp] of this.entries) {
      if (budget-- === 0 || exp > now) break;
      this.entries.delete(k);
    }
    this.entries.set(key, now + ttlMs);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
    return false;
  }

  async forget(key: string): Promise<void> {
    this.entries.delete(key);
  }
}
