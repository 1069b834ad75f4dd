/** Waiting and spreading in time: abortable sleep and Flux's interval jitter. */

/** Resolves after `ms`, or at once when `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** `ms` spread by +/- 5%, as Flux spreads requeue intervals so objects do not run in lockstep. */
export function jitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.95 + random() * 0.1));
}
