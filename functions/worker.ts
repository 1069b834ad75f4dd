/**
 * The worker function: an SQS FIFO batch (ReportBatchItemFailures). Each message is
 * reconciled through the kind registry; the shared delivery policy settles it (see
 * shared/queue/sqs-batch.ts).
 */
import { deadlineSignal, lambdaRuntime, type LambdaContextLike } from '../shared/runtime/lambda.js';
import { handleSqsBatch } from '../shared/runtime/lambda-sqs.js';
import type { SqsBatchResponse, SqsEvent } from '../shared/queue/sqs-batch.js';
import { log } from '../shared/util/log.js';

/** Lambda entry point. */
export async function handler(event: SqsEvent, context?: LambdaContextLike): Promise<SqsBatchResponse> {
  const lr = await lambdaRuntime();
  const out = await handleSqsBatch(lr, event, deadlineSignal(context));
  log.info('worker batch done', {
    records: event.Records?.length ?? 0,
    handled: out.handled,
    failed: out.batchItemFailures.length,
    deadLettered: out.deadLettered.length,
    requestId: context?.awsRequestId,
  });
  return { batchItemFailures: out.batchItemFailures };
}
