/**
 * The options of the process-wide kustomize batchers (kustomize-batch.ts), set by the runtime
 * from the configuration. Kept apart from the batcher so that the runtime factory, loaded by
 * every function, does not load the kustomize runner.
 */

/** Options of a KustomizeBatcher. */
export interface KustomizeBatcherOptions {
  /** kubectl processes at once for batched builds (default: half the CPUs, at least 1). */
  maxProcs?: number;
  /** Builds per kubectl process at most (default 32). */
  maxBatch?: number;
  /**
   * How long a request may wait for others to share its process when one is free (ms,
   * default 50): a little latency for far fewer kubectl starts when builds trickle in.
   */
  gatherMs?: number;
}

let configured: KustomizeBatcherOptions | undefined;

/**
 * Options for the batchers made from now on (the runtime's `render.kustomizeGatherMs`); a
 * batcher already made keeps its own.
 */
export function configureKustomizeBatching(opts: KustomizeBatcherOptions): void {
  configured = opts;
}

/** The options of configureKustomizeBatching, else FLUXLESS_KUSTOMIZE_GATHER_MS from the environment. */
export function configuredBatcherOptions(): KustomizeBatcherOptions {
  if (configured) return configured;
  // FLUXLESS_KUSTOMIZE_GATHER_MS: how long a build waits for company.
  const gather = Number(process.env.FLUXLESS_KUSTOMIZE_GATHER_MS);
  return Number.isFinite(gather) && gather >= 0 ? { gatherMs: gather } : {};
}
