/**
 * The worker function's SQS batch (shared/runtime/lambda.ts builds the container's runtime):
 * every record through the worker's handleMessage, settled by the shared delivery policy
 * (queue/sqs-batch.ts), with the configured DLQ and the worker's dead-letter trace. Kept out
 * of lambda.ts so the other functions do not load the reconcilers.
 */
import { processSqsBatch, sqsBatchActions, type SqsBatchOutcome, type SqsEvent } from '../queue/sqs-batch.js';
import { ValidationError } from '../util/errors.js';
import type { LambdaRuntime } from './lambda.js';
import { deadLettered, handleMessage } from './worker.js';

/** The worker's SQS batch: every message through handleMessage, settled by the shared delivery policy. */
export async function handleSqsBatch(lr: LambdaRuntime, event: SqsEvent, signal?: AbortSignal): Promise<SqsBatchOutcome> {
  const { cfg, rt, sqs } = lr;
  if (cfg.queue.type !== 'sqs') throw new ValidationError('the worker needs FLUXLESS_QUEUE=sqs');
  return processSqsBatch(event, {
    ...sqsBatchActions(sqs, cfg.queue.url, cfg.queue.dlqUrl),
    handle: (m, s) => handleMessage(rt, m, s),
    onDeadLetter: (target, reason) => deadLettered(rt, target, reason),
    signal,
    concurrency: cfg.worker.concurrency,
    maxReceives: cfg.worker.maxReceives,
  });
}
