import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
  type Message,
} from '@aws-sdk/client-sqs';
import { ValidationError } from '../../shared/util/errors.js';
import { SqsWorkQueue, reconcileMessage } from '../../shared/queue/index.js';
import { ensureSqsQueues } from '../harness/sqs-queues.js';
import { stopStarted, testEnv } from '../harness/index.js';
import { workQueueSuite } from './suite.js';

// Run alone, the harness starts fauxqs in this process and only stops it on 'beforeExit',
// which never comes while the server listens; stop it explicitly (a no-op under test/run.ts).
after(async () => {
  client?.destroy();
  await stopStarted();
});

let client: SQSClient | undefined;
async function sqs(): Promise<SQSClient> {
  if (!client) {
    const aws = await (await testEnv()).aws();
    client = new SQSClient({ endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials });
  }
  return client;
}

function uniqueName(): string {
  return `fluxless-test-${randomBytes(5).toString('hex')}`;
}

async function newQueue(maxReceiveCount?: number) {
  const c = await sqs();
  const queues = await ensureSqsQueues(c, uniqueName(), { maxReceiveCount });
  return { queues, queue: new SqsWorkQueue({ client: c, queueUrl: queues.queueUrl, dlqUrl: queues.dlqUrl }) };
}

workQueueSuite('SqsWorkQueue (fauxqs)', async (t) => {
  const { queue } = await newQueue();
  t.after(() => queue.close());
  return queue;
});

describe('SqsWorkQueue: SQS specifics', () => {
  test('ensureSqsQueues creates a FIFO queue and DLQ with a RedrivePolicy, and updates it when run again', async () => {
    const c = await sqs();
    const name = uniqueName();
    const q = await ensureSqsQueues(c, name, { maxReceiveCount: 7 });
    assert.equal(q.queueName, `${name}.fifo`);
    assert.equal(q.dlqName, `${name}-dlq.fifo`);
    const attrs = async (url: string) =>
      (await c.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['All'] }))).Attributes ?? {};
    const main = await attrs(q.queueUrl);
    const dlq = await attrs(q.dlqUrl);
    assert.equal(main.FifoQueue, 'true');
    assert.equal(main.ContentBasedDeduplication, 'false');
    assert.deepEqual(JSON.parse(main.RedrivePolicy ?? '{}'), { deadLetterTargetArn: q.dlqArn, maxReceiveCount: 7 });
    assert.equal(dlq.FifoQueue, 'true');
    assert.equal(dlq.ContentBasedDeduplication, 'false');

    const again = await ensureSqsQueues(c, `${name}.fifo`, { maxReceiveCount: 3 });
    assert.equal(again.queueUrl, q.queueUrl);
    assert.equal(JSON.parse((await attrs(q.queueUrl)).RedrivePolicy ?? '{}').maxReceiveCount, 3);

    await assert.rejects(ensureSqsQueues(c, 'bad name!'), ValidationError);
  });

  test('the RedrivePolicy backstop moves a message that is never finished; listDead says so', async (t) => {
    const { queue } = await newQueue(1);
    t.after(() => queue.close());
    const m = reconcileMessage({ kind: 'HelmRelease', namespace: 'apps', name: 'podinfo' }, 'poll');
    await queue.send(m);
    const [first] = await queue.receive({ max: 1, waitSeconds: 2, visibilityTimeoutSeconds: 1 });
    assert.equal(first?.message.id, m.id);
    // Not acked: after the timeout, the next receive exceeds maxReceiveCount 1 and SQS moves it.
    assert.deepEqual(await queue.receive({ max: 10, waitSeconds: 3, visibilityTimeoutSeconds: 30 }), []);
    const dead = await queue.listDead();
    assert.equal(dead.length, 1);
    assert.equal(dead[0].message?.id, m.id);
    assert.equal(dead[0].groupId, 'HelmRelease/apps/podinfo');
    assert.match(dead[0].reason, /RedrivePolicy/);
    // Listing does not consume.
    assert.equal((await queue.listDead()).length, 1);
  });

  test('a batch with two messages of one group delivers only the first, and the give-back is not counted', async () => {
    // Real SQS may batch messages of one group (fauxqs does not), so this drives the adapter
    // with scripted SQS answers.
    const body = JSON.stringify(reconcileMessage({ kind: 'Kustomization', namespace: 'a', name: 'b' }, 'poll'));
    const sqsMessage = (id: string, handle: string, count: number): Message => ({
      MessageId: id,
      ReceiptHandle: handle,
      Body: body,
      Attributes: { MessageGroupId: 'Kustomization/a/b', ApproximateReceiveCount: String(count) },
    });
    const answers: Message[][] = [[sqsMessage('m1', 'h1', 1), sqsMessage('m2', 'h2', 1)], [sqsMessage('m2', 'h3', 2)]];
    const visibility: Array<[string | undefined, number | undefined]> = [];
    const fake = {
      send: async (cmd: unknown) => {
        if (cmd instanceof ReceiveMessageCommand) return { Messages: answers.shift() ?? [] };
        if (cmd instanceof ChangeMessageVisibilityCommand) {
          visibility.push([cmd.input.ReceiptHandle, cmd.input.VisibilityTimeout]);
          return {};
        }
        throw new Error(`unexpected command ${String(cmd)}`);
      },
    } as unknown as SQSClient;
    const q = new SqsWorkQueue({ client: fake, queueUrl: 'q', dlqUrl: 'd' });
    const first = await q.receive({ max: 10, visibilityTimeoutSeconds: 30 });
    assert.deepEqual(first.map((r) => [r.messageId, r.receiveCount]), [['m1', 1]]);
    assert.deepEqual(visibility, [['h2', 0]]);
    const second = await q.receive({ max: 10, visibilityTimeoutSeconds: 30 });
    assert.deepEqual(second.map((r) => [r.messageId, r.receiveCount]), [['m2', 1]]);
  });
});
