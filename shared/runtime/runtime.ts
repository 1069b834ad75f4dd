/**
 * The runtime context: the stores, the queue and the management cluster, injected into
 * every handler. Built by the local runtime (filesystem, on-disk queue) or the Lambda
 * functions (S3, SQS) from the same configuration; the handlers never know which.
 */
import type { WorkQueue } from '../queue/index.js';
import type { ReconcileServices } from '../reconcile/contract.js';

/** What every handler gets: the reconcile services plus the work queue. */
export interface Runtime extends ReconcileServices {
  queue: WorkQueue;
}
