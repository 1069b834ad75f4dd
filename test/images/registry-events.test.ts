/**
 * Registry events reach the right objects: the webhook's requestReconcile narrows image
 * sources to the repositories a registry receiver's event names (real state store and
 * on-disk queue), and the registry-events Lambda function takes real-shaped EventBridge
 * "ECR Image Action" events, with its state in S3 and its queue in SQS (fauxqs).
 */
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ArtifactCache } from '../../shared/artifacts/cache.js';
import type { ArtifactStore } from '../../shared/artifacts/store.js';
import { isKnownKind } from '../../shared/kinds/registry.js';
import type { KubeClient } from '../../shared/kube/client.js';
import type { RestMapper } from '../../shared/kube/mapper.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { LocalWorkQueue } from '../../shared/queue/local.js';
import type { RegistryArtifact } from '../../shared/receivers/images.js';
import type { Runtime } from '../../shared/runtime/runtime.js';
import { requestReconcile } from '../../shared/runtime/webhook.js';
import { lambdaRuntime, resetLambdaRuntime } from '../../shared/runtime/lambda.js';
import { FsStateStore } from '../../shared/state/index.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import type { StateStore } from '../../shared/state/store.js';
import { indexedRepository, registerImageSource } from '../../shared/images/repository-index.js';
import { ecrPush } from '../../shared/images/ecr-events.js';
import { parseRepository } from '../../shared/oci/reference.js';
import { ensureSqsQueues } from '../harness/sqs-queues.js';
import { stopStarted, testEnv } from '../harness/index.js';
import { MemorySecrets } from './fixture.js';

after(async () => {
  await resetLambdaRuntime();
  await stopStarted();
});

const unused = new Proxy({}, { get: () => () => assert.fail('not used here') });

function obj(kind: string, name: string, spec: Record<string, unknown>, ns = 'apps'): KubeObject {
  const group = kind === 'Kustomization' ? 'kustomize.toolkit.fluxcd.io/v1' : kind === 'ImageRepository' ? 'image.toolkit.fluxcd.io/v1' : 'source.toolkit.fluxcd.io/v1';
  return { apiVersion: group, kind, metadata: { name, namespace: ns, generation: 1 }, spec };
}

async function store(state: StateStore, o: KubeObject): Promise<void> {
  await state.put<ObjectRecord>({ kind: o.kind, namespace: o.metadata.namespace!, name: o.metadata.name }, { object: o, status: {} });
}

async function localRuntime(t: TestContext): Promise<Runtime> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'fluxless-regev-'));
  const queue = await LocalWorkQueue.open(path.join(dir, 'queue'), { fsync: false });
  t.after(async () => {
    await queue.close();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    state: new FsStateStore(path.join(dir, 'state'), { durable: false }),
    queue,
    artifacts: unused as ArtifactStore,
    artifactCache: unused as ArtifactCache,
    client: unused as KubeClient,
    mapper: unused as RestMapper,
    secrets: new MemorySecrets(),
    fieldManager: 'fluxless',
    settings: { healthIntervalMs: 200, allowRemoteBases: false, toolMemoryMiB: 1024, applyFluxComponents: false },
    isKnownKind,
    now: () => new Date(),
  };
}

describe('registry receivers: info.artifacts narrows the image sources', () => {
  test('a * selector marks only ImageRepositories, OCIRepositories and oci HelmRepositories watching the pushed repository are marked', async (t) => {
    const rt = await localRuntime(t);
    const objects = [
      obj('ImageRepository', 'app', { image: 'registry.example.com/team/app', interval: '5m' }),
      obj('ImageRepository', 'other', { image: 'registry.example.com/team/other', interval: '5m' }),
      obj('ImageRepository', 'hub', { image: 'nginx', interval: '5m' }),
      obj('OCIRepository', 'manifests', { url: 'oci://registry.example.com/team/app', interval: '5m' }),
      obj('HelmRepository', 'charts', { url: 'oci://registry.example.com/charts', type: 'oci', interval: '5m' }),
      obj('HelmRepository', 'classic', { url: 'https://charts.example.com', interval: '5m' }),
      obj('Kustomization', 'apps', { path: './', interval: '5m', sourceRef: { kind: 'GitRepository', name: 'x' } }),
    ];
    for (const o of objects) await store(rt.state, o);
    const targets = ['ImageRepository', 'OCIRepository', 'HelmRepository', 'Kustomization'].map((kind) => ({ kind, name: '*', namespace: 'apps' }));
    const marked = async (artifacts: RegistryArtifact[]) => {
      const before = new Map<string, string | undefined>();
      for (const o of objects) before.set(o.metadata.name, (await readRecord(rt.state, { kind: o.kind, namespace: 'apps', name: o.metadata.name }))?.requestedAt);
      await requestReconcile(rt, targets, { artifacts, deliveryId: randomUUID() });
      const out: string[] = [];
      for (const o of objects) {
        const now = (await readRecord(rt.state, { kind: o.kind, namespace: 'apps', name: o.metadata.name }))?.requestedAt;
        if (now && now !== before.get(o.metadata.name)) out.push(o.metadata.name);
      }
      return out.sort();
    };
    assert.deepEqual(await marked([{ image: 'registry.example.com/team/app', host: 'registry.example.com', repository: 'team/app', tag: '1.0.0' }]), ['app', 'apps', 'classic', 'manifests']);
    assert.deepEqual(await marked([{ image: 'registry.example.com/charts/web', host: 'registry.example.com', repository: 'charts/web', tag: '0.1.0' }]), ['apps', 'charts', 'classic']);
    assert.deepEqual(await marked([{ image: 'docker.io/library/nginx', host: 'docker.io', repository: 'library/nginx' }]), ['apps', 'classic', 'hub']);
    // nexus does not say its host: the repository path decides.
    assert.deepEqual(await marked([{ image: 'team/other', host: '', repository: 'team/other' }]), ['apps', 'classic', 'other']);
    assert.deepEqual(await marked([{ image: 'registry.example.com/unknown/repo', host: 'registry.example.com', repository: 'unknown/repo' }]), ['apps', 'classic'], 'an unknown repository marks no image source');
    // A named target is the user's explicit choice: marked whatever the event names (Flux).
    const named = await readRecord(rt.state, { kind: 'ImageRepository', namespace: 'apps', name: 'other' });
    await requestReconcile(rt, [{ kind: 'ImageRepository', name: 'other', namespace: 'apps' }], { artifacts: [{ image: 'docker.io/org/x', host: 'docker.io', repository: 'org/x' }] });
    assert.notEqual((await readRecord(rt.state, { kind: 'ImageRepository', namespace: 'apps', name: 'other' }))?.requestedAt, named?.requestedAt);
    const sent = await rt.queue.receive({ max: 10, visibilityTimeoutSeconds: 30, waitSeconds: 0 });
    assert.ok(sent.some((m) => m.message.type === 'reconcile' && m.message.target.name === 'app' && m.message.reason === 'webhook'));
  });
});

describe('Receiver targets under the noCrossNamespaceRefs lockdown', () => {
  test('a target in another namespace is refused with Flux\'s reason, the others are still marked, and filter indexes stay aligned', async (t) => {
    const rt = await localRuntime(t);
    rt.settings = { ...rt.settings, noCrossNamespaceRefs: true } as Runtime['settings'];
    await store(rt.state, obj('Kustomization', 'own', { path: './', interval: '5m', sourceRef: { kind: 'GitRepository', name: 'x' } }, 'flux-system'));
    await store(rt.state, obj('Kustomization', 'theirs', { path: './', interval: '5m', sourceRef: { kind: 'GitRepository', name: 'x' } }, 'apps'));
    await store(rt.state, obj('Kustomization', 'last', { path: './', interval: '5m', sourceRef: { kind: 'GitRepository', name: 'x' } }, 'flux-system'));
    const targets = [
      { kind: 'Kustomization', name: 'own', namespace: 'flux-system' },
      { kind: 'Kustomization', name: 'theirs', namespace: 'apps' },
      { kind: 'Kustomization', name: 'last', namespace: 'flux-system' },
    ];
    const asked: Array<[number, string]> = [];
    const accept = (i: number, res: { metadata: { name: string } }) => {
      asked.push([i, res.metadata.name]);
      return true;
    };
    await assert.rejects(
      requestReconcile(rt, targets, { accept, deliveryId: randomUUID() }, { namespace: 'flux-system', name: 'hook' }),
      (err: Error) => {
        assert.equal(err.name, 'ReceiverTargetsError');
        assert.equal(err.message, 'Receiver flux-system/hook: resources[1] Kustomization/apps/theirs: cross-namespace references are not allowed');
        return true;
      },
    );
    assert.deepEqual(asked, [[0, 'own'], [2, 'last']]);
    const requested = async (ns: string, name: string) => (await readRecord(rt.state, { kind: 'Kustomization', namespace: ns, name }))?.requestedAt;
    assert.ok(await requested('flux-system', 'own'));
    assert.ok(await requested('flux-system', 'last'));
    assert.equal(await requested('apps', 'theirs'), undefined);

    // Without the lockdown the same Receiver marks all three.
    rt.settings = { ...rt.settings, noCrossNamespaceRefs: false } as Runtime['settings'];
    assert.equal(await requestReconcile(rt, targets, { deliveryId: randomUUID() }, { namespace: 'flux-system', name: 'hook' }), 3);
    assert.ok(await requested('apps', 'theirs'));
  });
});

/** An EventBridge "ECR Image Action" event as AWS documents it. */
function ecrEvent(detail: Record<string, string>, over: Record<string, unknown> = {}) {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'ECR Image Action',
    source: 'aws.ecr',
    account: '123456789012',
    time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    region: 'eu-west-1',
    resources: [],
    detail: { result: 'SUCCESS', 'repository-name': 'team/app', 'image-digest': `sha256:${'b'.repeat(64)}`, 'action-type': 'PUSH', 'image-tag': '1.10.0', ...detail },
    ...over,
  };
}

describe('ECR through EventBridge: the registry-events function', () => {
  test('ecrPush reads PUSH + SUCCESS events only', () => {
    assert.ok('push' in ecrPush(ecrEvent({})));
    assert.match((ecrPush(ecrEvent({ result: 'FAILURE' })) as { ignored: string }).ignored, /FAILURE/);
    assert.match((ecrPush(ecrEvent({ 'action-type': 'DELETE' })) as { ignored: string }).ignored, /DELETE/);
    assert.match((ecrPush(ecrEvent({}, { source: 'aws.s3' })) as { ignored: string }).ignored, /not an ECR image action/);
    const cn = ecrPush(ecrEvent({}, { region: 'cn-north-1' }));
    assert.equal('push' in cn && cn.push.host, '123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn');
  });

  test('a push marks and enqueues the watching ImageRepository and OCIRepository (S3 state, SQS queue)', { timeout: 120_000 }, async (t) => {
    const aws = await (await testEnv()).aws();
    const awsOpts = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
    const s3 = new S3Client({ ...awsOpts, forcePathStyle: true });
    const sqs = new SQSClient(awsOpts);
    t.after(() => {
      s3.destroy();
      sqs.destroy();
    });
    const bucket = `fluxless-ecr-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const queues = await ensureSqsQueues(sqs, `fluxless-ecr-${randomBytes(4).toString('hex')}`);
    Object.assign(process.env, {
      AWS_REGION: aws.region,
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      FLUXLESS_AWS_ENDPOINT: aws.endpoint,
      FLUXLESS_STORE: 's3',
      FLUXLESS_BUCKET: bucket,
      FLUXLESS_QUEUE: 'sqs',
      FLUXLESS_QUEUE_URL: queues.queueUrl,
      FLUXLESS_DLQ_URL: queues.dlqUrl,
      FLUXLESS_SOURCE_URL: 'https://github.com/example/fleet',
      FLUXLESS_NAMESPACE: 'flux-system',
    });
    await resetLambdaRuntime();
    const { rt } = await lambdaRuntime({ cluster: false });
    const host = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
    const repoObj = obj('ImageRepository', 'app', { image: `${host}/team/app`, interval: '5m', provider: 'aws' });
    const otherObj = obj('ImageRepository', 'other', { image: `${host}/team/other`, interval: '5m', provider: 'aws' });
    const ociObj = obj('OCIRepository', 'manifests', { url: `oci://${host}/team/app`, interval: '5m', provider: 'aws' }, 'flux-system');
    for (const o of [repoObj, otherObj, ociObj]) await store(rt.state, o);
    // What the ImageRepository reconciler files when it reconciles.
    await registerImageSource(rt.state, indexedRepository(parseRepository(`${host}/team/app`)), { kind: 'ImageRepository', namespace: 'apps', name: 'app' });
    await registerImageSource(rt.state, indexedRepository(parseRepository(`${host}/team/other`)), { kind: 'ImageRepository', namespace: 'apps', name: 'other' });

    const fn = await import('../../functions/registry-events.js');
    const out = await fn.handler(ecrEvent({}));
    assert.equal(out.image, `${host}/team/app:1.10.0`);
    assert.deepEqual(out.enqueued.map((k) => `${k.kind}/${k.namespace}/${k.name}`).sort(), ['ImageRepository/apps/app', 'OCIRepository/flux-system/manifests']);
    assert.equal(out.marked, 2);
    assert.ok((await readRecord(rt.state, { kind: 'ImageRepository', namespace: 'apps', name: 'app' }))?.requestedAt);
    assert.equal((await readRecord(rt.state, { kind: 'ImageRepository', namespace: 'apps', name: 'other' }))?.requestedAt, undefined);
    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
    const bodies = (got.Messages ?? []).map((m) => JSON.parse(m.Body ?? '{}') as { target: { kind: string; name: string }; reason: string });
    assert.deepEqual(bodies.map((b) => `${b.target.kind}/${b.target.name}:${b.reason}`).sort(), ['ImageRepository/app:webhook', 'OCIRepository/manifests:webhook']);

    const failed = await fn.handler(ecrEvent({ result: 'FAILURE' }));
    assert.deepEqual(failed.enqueued, []);
    assert.match(failed.ignored ?? '', /is not SUCCESS/);
    const unknown = await fn.handler(ecrEvent({ 'repository-name': 'nobody/uses-this' }));
    assert.deepEqual(unknown.enqueued, []);
    assert.match(unknown.ignored ?? '', /no ImageRepository or OCIRepository watches/);
  });
});
