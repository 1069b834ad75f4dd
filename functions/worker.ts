/**
 * The worker function: an SQS FIFO batch (ReportBatchItemFailures). Each valid message is
 * reconciled with handleMessage; malformed bodies go to the DLQ with their reason; a failed
 * record and the later records of its group are reported as failures (the group keeps its
 * order). See processSqsBatch in shared/runtime/lambda.ts.
 */
import {
  deadlineSignal,
  lambdaRuntime,
  processSqsBatch,
  sqsBatchDeps,
  type LambdaContextLike,
  type SqsBatchResponse,
  type SqsEvent,
} from '../shared/runtime/lambda.js';
import { handleMessage } from '../shared/runtime/worker.js';
import { log } from '../shared/util/log.js';

export async function handler(event: SqsEvent, context?: LambdaContextLike): Promise<SqsBatchResponse> {
  const lr = await lambdaRuntime();
  const signal = deadlineSignal(context);
  const out = await processSqsBatch(event, sqsBatchDeps(lr, (m, s) => handleMessage(lr.rt, m, s), signal));
  log.info('worker batch done', {
    records: event.Records?.length ?? 0,
    handled: out.handled,
    failed: out.batchItemFailures.length,
    deadLettered: out.deadLettered.length,
    requestId: context?.awsRequestId,
  });
  return { batchItemFailures: out.batchItemFailures };
}
