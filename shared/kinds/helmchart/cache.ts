/**
 * Process-wide caches for Helm sources, so a fleet of HelmCharts and HelmReleases costs
 * one download and one parse per digest, not one per object: repository indexes by
 * artifact digest, and chart packages by their index entry (name, version, digest).
 * Bounded by entry count and bytes, least recently used first out.
 */
import type { IndexFile } from '../../helm/index-file.js';
import type { DownloadedChart } from '../../helm/repository.js';

/** A least-recently-used map bounded by entries and by a size measure. */
export class LruCache<V> {
  private readonly map = new Map<string, { value: V; size: number }>();
  private total = 0;
  constructor(
    private readonly maxEntries: number,
    private readonly maxSize = Number.POSITIVE_INFINITY,
    private readonly sizeOf: (v: V) => number = () => 1,
  ) {}

  /** The value for `key` (made most recently used), if cached. */
  get(key: string): V | undefined {
    const e = this.map.get(key);
    if (!e) return undefined;
    this.map.delete(key);
    this.map.set(key, e);
    return e.value;
  }

  /** Caches `value` under `key`, evicting the least recently used beyond the bounds. */
  set(key: string, value: V): void {
    const size = this.sizeOf(value);
    if (size > this.maxSize) return;
    const old = this.map.get(key);
    if (old) {
      this.total -= old.size;
      this.map.delete(key);
    }
    this.map.set(key, { value, size });
    this.total += size;
    for (const [k, e] of this.map) {
      if (this.map.size <= this.maxEntries && this.total <= this.maxSize) break;
      this.map.delete(k);
      this.total -= e.size;
    }
  }

  /** Entries cached now. */
  get size(): number {
    return this.map.size;
  }
}

/** Parsed repository indexes by the digest of the stored index artifact. */
export const indexCache = new LruCache<IndexFile>(32);

/** Chart packages downloaded from repositories, by `name@version#digest-or-url` (64 MiB). */
export const downloadCache = new LruCache<DownloadedChart>(512, 64 << 20, (c) => c.data.length);

/** In-flight work by key, so concurrent callers share one promise. */
export function once<T>(inflight: Map<string, Promise<T>>, key: string, fn: () => Promise<T>): Promise<T> {
  const hit = inflight.get(key);
  if (hit) return hit;
  const p = fn().finally(() => inflight.delete(key));
  inflight.set(key, p);
  return p;
}
