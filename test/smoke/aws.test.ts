import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { testEnv } from '../harness/index.js';

test('S3 put and get through fauxqs with the AWS SDK', async () => {
  const aws = await (await testEnv()).aws();
  const s3 = new S3Client({ ...aws, forcePathStyle: true });
  const bucket = `smoke-${randomBytes(4).toString('hex')}`;
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const body = randomBytes(4096);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'a/b.bin', Body: body }));
  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'a/b.bin' }));
  const bytes = Buffer.from(await got.Body!.transformToByteArray());
  assert.ok(bytes.equals(body));
});

test('SQS FIFO send and receive through fauxqs keeps order within a group', async () => {
  const aws = await (await testEnv()).aws();
  const sqs = new SQSClient(aws);
  const name = `smoke-${randomBytes(4).toString('hex')}.fifo`;
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: name, Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'false' } }),
  );
  for (const i of [1, 2, 3]) {
    await sqs.send(
      new SendMessageCommand({ QueueUrl, MessageBody: `m${i}`, MessageGroupId: 'g', MessageDeduplicationId: `d${i}` }),
    );
  }
  const seen: string[] = [];
  while (seen.length < 3) {
    const r = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    for (const m of r.Messages ?? []) {
      seen.push(m.Body!);
      await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  assert.deepEqual(seen, ['m1', 'm2', 'm3']);
});
