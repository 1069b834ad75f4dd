/** Bounded concurrency for the engine's per-object requests. */

/**
 * Runs `fn` over items with at most `limit` in flight; results in input order. After the
 * first failure no further item is started, and the returned promise rejects with that
 * failure only once every call already in flight has settled: when it rejects, none of
 * our requests is still running (no write lands after the engine reported an error).
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  let first: unknown;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (err) {
        if (!failed) {
          failed = true;
          first = err;
        }
      }
    }
  });
  await Promise.all(workers);
  if (failed) throw first;
  return out;
}
