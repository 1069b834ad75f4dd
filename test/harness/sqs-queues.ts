/**
 * Test-only: creates the FIFO queue and DLQ pair the SQS tests run against (in production
 * serverless.yml creates them).
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  SetQueueAttributesCommand,
  type QueueAttributeName,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { isSqsError } from '../../shared/queue/sqs.js';
import { MAX_VISIBILITY_SECONDS } from '../../shared/queue/types.js';
import { intInRange } from '../../shared/queue/options.js';
import { EnvironmentError, ValidationError, errorMessage } from '../../shared/util/errors.js';

export interface EnsureSqsQueuesOptions {
  /** RedrivePolicy backstop; keep it above the consumers' maxReceives. Default 10. */
  maxReceiveCount?: number;
  /** Default visibility timeout of the queue (receives set their own). Default 60. */
  visibilityTimeoutSeconds?: number;
}

export interface SqsQueues {
  queueName: string;
  queueUrl: string;
  queueArn: string;
  dlqName: string;
  dlqUrl: string;
  dlqArn: string;
}

async function createOrUpdateQueue(client: SQSClient, name: string, attributes: Record<string, string>): Promise<string> {
  try {
    const res = await client.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
    if (!res.QueueUrl) throw new Error('CreateQueue returned no QueueUrl');
    return res.QueueUrl;
  } catch (err) {
    if (!isSqsError(err, 'QueueNameExists', 'QueueAlreadyExists')) throw err;
    // Exists with other attributes: bring them up to date.
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    if (!QueueUrl) throw new Error(`GetQueueUrl returned no QueueUrl for ${name}`);
    const { FifoQueue: _fifo, ...settable } = attributes;
    await client.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: settable }));
    return QueueUrl;
  }
}

/**
 * Creates (or updates) `<name>.fifo` and `<name>-dlq.fifo`: FIFO, ContentBasedDeduplication
 * off (we always send a dedup id), the DLQ keeping messages 14 days, and a RedrivePolicy on
 * the queue pointing at the DLQ. Idempotent.
 */
export async function ensureSqsQueues(client: SQSClient, name: string, opts: EnsureSqsQueuesOptions = {}): Promise<SqsQueues> {
  const base = name.replace(/\.fifo$/, '');
  if (!/^[A-Za-z0-9_-]{1,71}$/.test(base)) {
    throw new ValidationError(
      `SQS queue name "${name}" is invalid: use 1-71 letters, digits, "-" or "_" (".fifo" and "-dlq.fifo" are added)`,
    );
  }
  const maxReceiveCount = intInRange('maxReceiveCount', opts.maxReceiveCount ?? 10, 1, 1000);
  const visibility = intInRange('visibilityTimeoutSeconds', opts.visibilityTimeoutSeconds ?? 60, 0, MAX_VISIBILITY_SECONDS);
  const queueName = `${base}.fifo`;
  const dlqName = `${base}-dlq.fifo`;
  try {
    const dlqUrl = await createOrUpdateQueue(client, dlqName, {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      MessageRetentionPeriod: '1209600',
    });
    const arnAttr: QueueAttributeName[] = ['QueueArn'];
    const dlqAttrs = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: arnAttr }));
    const dlqArn = dlqAttrs.Attributes?.QueueArn;
    if (!dlqArn) throw new Error(`GetQueueAttributes returned no QueueArn for ${dlqName}`);
    const queueUrl = await createOrUpdateQueue(client, queueName, {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'false',
      VisibilityTimeout: String(visibility),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount }),
    });
    const qAttrs = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: arnAttr }));
    const queueArn = qAttrs.Attributes?.QueueArn;
    if (!queueArn) throw new Error(`GetQueueAttributes returned no QueueArn for ${queueName}`);
    return { queueName, queueUrl, queueArn, dlqName, dlqUrl, dlqArn };
  } catch (err) {
    if (err instanceof ValidationError) throw err;
    throw new EnvironmentError(`could not create the SQS queues ${queueName} and ${dlqName}: ${errorMessage(err)}`, {
      cause: err,
      hint: 'Check the region, the credentials (sqs:CreateQueue, sqs:GetQueueAttributes, sqs:SetQueueAttributes) and the endpoint.',
    });
  }
}
