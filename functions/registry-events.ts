/**
 * The registry-events function: Amazon ECR "ECR Image Action" events from EventBridge (the
 * rule in serverless.yml sends only PUSH + SUCCESS). The pushed repository is matched to the
 * ImageRepositories / OCIRepositories watching it, which are marked requested and enqueued
 * (shared/images/ecr-events.ts). IAM is the authentication: only EventBridge may invoke it.
 */
import { handleEcrEvent, type EcrEventOutcome, type EcrImageActionEvent } from '../shared/images/ecr-events.js';
import { lambdaRuntime, type LambdaContextLike } from '../shared/runtime/lambda.js';
import { log } from '../shared/util/log.js';

/** Lambda entry point. Matching and enqueueing need the state store and the queue only. */
export async function handler(event: EcrImageActionEvent, context?: LambdaContextLike): Promise<EcrEventOutcome> {
  const { rt } = await lambdaRuntime({ cluster: false });
  const out = await handleEcrEvent(rt, event);
  log.info(out.ignored ? 'registry event ignored' : 'registry event handled', {
    image: out.image,
    marked: out.marked,
    reason: out.ignored,
    id: event?.id,
    requestId: context?.awsRequestId,
  });
  return out;
}
