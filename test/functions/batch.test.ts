/**
 * The worker's SQS batch logic (processSqsBatch) and the Lambda kubeconfig sources: pure
 * logic, with the handler, the DLQ and visibility changes recorded by fakes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadConfig } from '../../shared/config/config.js';
import { reconcileMessage, serializeMessage, SQS_ATTR, type ReceivedMessage } from '../../shared/queue/index.js';
import { managementKubeConfig as lambdaKubeConfig } from '../../shared/kube/kubeconfig.js';
import { processSqsBatch, type SqsBatchDeps, type SqsRecord } from '../../shared/queue/sqs-batch.js';
import { EnvironmentError, ValidationError } from '../../shared/util/errors.js';

function valid(name: string): string {
  return serializeMessage(reconcileMessage({ kind: 'Kustomization', namespace: 'ns', name }, 'poll'));
}

let seq = 0;
function record(body: string, group: string | undefined, extra: { receiveCount?: number; notBefore?: number } = {}): SqsRecord {
  const id = `m${++seq}`;
  return {
    messageId: id,
    receiptHandle: `rh-${id}`,
    body,
    attributes: {
      ApproximateReceiveCount: String(extra.receiveCount ?? 1),
      SentTimestamp: '1700000000000',
      ApproximateFirstReceiveTimestamp: '1700000000001',
      ...(group ? { MessageGroupId: group, MessageDeduplicationId: id, SequenceNumber: String(seq) } : {}),
    },
    messageAttributes:
      extra.notBefore !== undefined ? { [SQS_ATTR.notBefore]: { dataType: 'Number', stringValue: String(extra.notBefore) } } : {},
    md5OfBody: 'x',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:fluxless-dev.fifo',
    awsRegion: 'us-east-1',
  };
}

interface Recorder {
  handled: ReceivedMessage[];
  dead: Array<{ id: string; reason: string }>;
  delays: Array<{ id: string; seconds: number }>;
}

function fakes(fail: (m: ReceivedMessage) => Error | undefined, over: Partial<SqsBatchDeps> = {}): { deps: SqsBatchDeps; rec: Recorder } {
  const rec: Recorder = { handled: [], dead: [], delays: [] };
  const deps: SqsBatchDeps = {
    async handle(m) {
      rec.handled.push(m);
      const err = fail(m);
      if (err) throw err;
    },
    async deadLetter(r, reason) {
      rec.dead.push({ id: r.messageId, reason });
    },
    async delay(r, seconds) {
      rec.delays.push({ id: r.messageId, seconds });
    },
    ...over,
  };
  return { deps, rec };
}

describe('processSqsBatch', () => {
  test('a failure fails the rest of its group (in order); other groups go on; malformed bodies go to the DLQ, not to the failures', async () => {
    const a1 = record(valid('a'), 'Kustomization/ns/a');
    const a2 = record(valid('a'), 'Kustomization/ns/a');
    const b1 = record('{"v":1,"type":"reconcile"}', 'junk');
    const a3 = record(valid('a'), 'Kustomization/ns/a');
    const b2 = record(valid('b'), 'junk');
    const c1 = record('not json', 'Kustomization/ns/c');
    const { deps, rec } = fakes((m) => (m.messageId === a2.messageId ? new Error('apiserver unreachable') : undefined));
    const out = await processSqsBatch({ Records: [a1, a2, b1, a3, b2, c1] }, deps);

    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: a2.messageId }, { itemIdentifier: a3.messageId }]);
    assert.deepEqual(
      rec.handled.map((m) => m.messageId).sort(),
      [a1.messageId, a2.messageId, b2.messageId].sort(),
      'a3 is not run after a2 failed; b2 runs after the malformed b1',
    );
    assert.deepEqual(rec.dead.map((d) => d.id).sort(), [b1.messageId, c1.messageId].sort());
    assert.match(rec.dead.find((d) => d.id === b1.messageId)!.reason, /malformed message: field "target"/);
    assert.match(rec.dead.find((d) => d.id === c1.messageId)!.reason, /not valid JSON/);
    // The failed record and the rest of its group come back after the first backoff (1 s).
    assert.deepEqual(rec.delays.sort((x, y) => x.id.localeCompare(y.id)), [
      { id: a2.messageId, seconds: 1 },
      { id: a3.messageId, seconds: 1 },
    ]);
    assert.equal(out.handled, 2);
  });

  test('the ReceivedMessage is built from the record', async () => {
    const r = record(valid('x'), 'Kustomization/ns/x', { receiveCount: 3 });
    const { deps, rec } = fakes(() => undefined);
    await processSqsBatch({ Records: [r] }, deps);
    assert.equal(rec.handled.length, 1);
    const m = rec.handled[0];
    assert.equal(m.receipt, r.receiptHandle);
    assert.equal(m.receiveCount, 3);
    assert.equal(m.messageId, r.messageId);
    assert.equal(m.groupId, 'Kustomization/ns/x');
    assert.equal(m.raw, r.body);
    assert.deepEqual(m.message.target, { kind: 'Kustomization', namespace: 'ns', name: 'x' });
  });

  test('after maxReceives failed deliveries the message is dead-lettered with its last error and its group goes on', async () => {
    const x1 = record(valid('x'), 'g', { receiveCount: 3 });
    const x2 = record(valid('x'), 'g');
    const { deps, rec } = fakes((m) => (m.messageId === x1.messageId ? new Error('boom') : undefined), { maxReceives: 3 });
    const out = await processSqsBatch({ Records: [x1, x2] }, deps);
    assert.deepEqual(out.batchItemFailures, []);
    assert.equal(rec.dead.length, 1);
    assert.match(rec.dead[0].reason, /Kustomization\/ns\/x failed 3 time\(s\) \(maxReceives 3\); last error: boom/);
    assert.deepEqual(rec.handled.map((m) => m.messageId), [x1.messageId, x2.messageId]);
  });

  test('a record that cannot be dead-lettered stays in the queue, with the rest of its group', async () => {
    const j1 = record('{}', 'g');
    const j2 = record(valid('y'), 'g');
    const other = record(valid('z'), 'h');
    const { deps, rec } = fakes(() => undefined, {
      async deadLetter() {
        throw new Error('AccessDenied');
      },
    });
    const out = await processSqsBatch({ Records: [j1, other, j2] }, deps);
    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: j1.messageId }, { itemIdentifier: j2.messageId }]);
    assert.deepEqual(rec.handled.map((m) => m.messageId), [other.messageId]);
  });

  test('a message sent with a delay is hidden until due; its group waits', async () => {
    const now = 1_700_000_000_000;
    const d1 = record(valid('d'), 'g', { notBefore: now + 30_500 });
    const d2 = record(valid('d'), 'g');
    const { deps, rec } = fakes(() => undefined, { now: () => now });
    const out = await processSqsBatch({ Records: [d1, d2] }, deps);
    assert.deepEqual(out.batchItemFailures.map((f) => f.itemIdentifier), [d1.messageId, d2.messageId]);
    assert.equal(rec.handled.length, 0);
    assert.deepEqual(rec.delays.map((d) => d.seconds), [31, 31]);
  });

  test('past the deadline nothing new starts: every record is given back', async () => {
    const ac = new AbortController();
    ac.abort();
    const r1 = record(valid('p'), 'g1');
    const r2 = record(valid('q'), 'g2');
    const { deps, rec } = fakes(() => undefined, { signal: ac.signal });
    const out = await processSqsBatch({ Records: [r1, r2] }, deps);
    assert.deepEqual(out.batchItemFailures.map((f) => f.itemIdentifier), [r1.messageId, r2.messageId]);
    assert.equal(rec.handled.length, 0);
  });

  test('records without a group (standard queue) are independent', async () => {
    const s1 = record(valid('s'), undefined);
    const s2 = record(valid('s'), undefined);
    const { deps } = fakes((m) => (m.messageId === s1.messageId ? new Error('x') : undefined));
    const out = await processSqsBatch({ Records: [s1, s2] }, deps);
    assert.deepEqual(out.batchItemFailures, [{ itemIdentifier: s1.messageId }]);
  });
});

describe('lambdaKubeConfig', () => {
  const cfg = loadConfig({ env: { FLUXLESS_SOURCE_URL: 'https://example.com/fleet', FLUXLESS_STORE: 's3', FLUXLESS_BUCKET: 'b' } });
  const kubeconfig = [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    '- name: mgmt',
    '  cluster:',
    '    server: https://mgmt.example.com:6443',
    'users:',
    '- name: fluxless',
    '  user:',
    '    token: abc',
    'contexts:',
    '- name: mgmt',
    '  context: { cluster: mgmt, user: fluxless }',
    'current-context: mgmt',
    '',
  ].join('\n');

  test('FLUXLESS_KUBECONFIG_DATA: a base64 kubeconfig', async () => {
    const kc = await lambdaKubeConfig(cfg, { FLUXLESS_KUBECONFIG_DATA: Buffer.from(kubeconfig).toString('base64') });
    assert.equal(kc.getCurrentCluster()?.server, 'https://mgmt.example.com:6443');
  });

  test('a kubeconfig without a current cluster is refused with the variable named', async () => {
    const noContext = kubeconfig.replace('current-context: mgmt', 'current-context: nope');
    await assert.rejects(lambdaKubeConfig(cfg, { FLUXLESS_KUBECONFIG_DATA: Buffer.from(noContext).toString('base64') }), (err: unknown) => {
      assert.ok(err instanceof ValidationError);
      assert.match(err.message, /FLUXLESS_KUBECONFIG_DATA: the kubeconfig has no current context/);
      return true;
    });
  });

  test('no source at all, or only SSM: an EnvironmentError saying what to set', async () => {
    await assert.rejects(lambdaKubeConfig(cfg, {}), (err: unknown) => {
      assert.ok(err instanceof EnvironmentError);
      assert.match(err.message, /no kubeconfig for the management cluster/);
      assert.match(err.hint ?? '', /FLUXLESS_KUBECONFIG_S3/);
      return true;
    });
    await assert.rejects(lambdaKubeConfig(cfg, { FLUXLESS_KUBECONFIG_SSM: '/fluxless/kubeconfig' }), /SSM is not supported/);
  });

  test('FLUXLESS_KUBECONFIG_S3 must be s3://bucket/key or a key', async () => {
    await assert.rejects(lambdaKubeConfig(cfg, { FLUXLESS_KUBECONFIG_S3: 's3:/bucket' }), /not an s3:\/\/bucket\/key URL/);
  });
});
