/**
 * AbortSignals shared by many concurrent operations. A reconcile's signal is given to every
 * API request of its apply (dozens at once for a large Kustomization), and each request adds
 * an abort listener until it ends; Node warns of a "possible EventTarget memory leak" past 10
 * listeners, which here is concurrency, not a leak. Signals meant to be shared are marked so.
 */
import { setMaxListeners } from 'node:events';

/** Lets `signal` have any number of abort listeners at once (no MaxListenersExceededWarning); returns it. */
export function shareable<T extends AbortSignal | undefined>(signal: T): T {
  if (signal) setMaxListeners(0, signal);
  return signal;
}
