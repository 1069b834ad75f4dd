/**
 * Glue for the AWS Lambda functions (functions/*.ts):
 * - the Runtime, built once per container (lazily, from the environment configuration) and
 *   kept across invocations; a failed build is not cached, so the next invocation retries.
 * - the management cluster's kubeconfig from FLUXLESS_KUBECONFIG_DATA (base64), an S3
 *   object (FLUXLESS_KUBECONFIG_S3), or the usual FLUXLESS_KUBECONFIG file / in-cluster.
 * - the SQS batch logic of the worker (partial batch failures, FIFO order per group,
 *   malformed bodies and exhausted messages to the DLQ with their reason).
 */
import { ChangeMessageVisibilityCommand, SQSClient, SendMessageCommand, type MessageAttributeValue } from '@aws-sdk/client-sqs';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { KubeConfig } from '@kubernetes/client-node';
import { loadConfig, type FluxlessConfig } from '../config/config.js';
import { defaultBackoffSeconds, parseMessage, SQS_ATTR, type ReceivedMessage } from '../queue/index.js';
import { cleanReason } from '../queue/options.js';
import { EnvironmentError, ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { createS3Client, isS3NotFound, readS3Body } from '../util/s3.js';
import { createRuntime, kubeConfigFor } from './factory.js';
import type { Runtime } from './runtime.js';

const llog = log.child({ component: 'lambda' });

type Env = Record<string, string | undefined>;

/** The parts of the Lambda context object we use (all optional except the clock). */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
  functionName?: string;
}

export interface LambdaRuntime {
  cfg: FluxlessConfig;
  rt: Runtime;
  /** SQS client for the worker's own calls (DLQ sends, visibility changes), or undefined without SQS. */
  sqs?: SQSClient;
}

export interface LambdaRuntimeOptions {
  /**
   * False for functions that never talk to the management cluster (the scheduler): no
   * kubeconfig is needed and the client points at an address that cannot resolve.
   */
  cluster?: boolean;
  env?: Env;
}

/** Kubeconfig sources, first match wins. */
export const KUBECONFIG_DATA_ENV = 'FLUXLESS_KUBECONFIG_DATA';
export const KUBECONFIG_S3_ENV = 'FLUXLESS_KUBECONFIG_S3';
export const KUBECONFIG_SSM_ENV = 'FLUXLESS_KUBECONFIG_SSM';

function parseKubeConfig(text: string, where: string, hint: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    kc.loadFromString(text);
  } catch (err) {
    throw new ValidationError(`${where} is not a kubeconfig: ${errorMessage(err)}`, { hint });
  }
  if (!kc.getCurrentCluster()) {
    throw new ValidationError(`${where}: the kubeconfig has no current context with a cluster`, {
      hint: 'set current-context to a context whose cluster is the management cluster',
    });
  }
  const exec = kc.getCurrentUser()?.exec;
  if (exec) {
    llog.warn('the kubeconfig user runs an exec credential plugin: its command must exist in the Lambda environment', {
      command: exec.command,
    });
  }
  return kc;
}

/** `s3://bucket/key`, or a key in the state bucket. */
function kubeConfigObject(cfg: FluxlessConfig, value: string): { bucket: string; key: string } {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(value);
  if (m) return { bucket: m[1], key: m[2] };
  if (value.startsWith('s3:') || cfg.store.type !== 's3') {
    throw new ValidationError(`${KUBECONFIG_S3_ENV}=${value} is not an s3://bucket/key URL`, {
      hint: 'use s3://<bucket>/<key>, or a key in the state bucket (FLUXLESS_BUCKET)',
    });
  }
  return { bucket: cfg.store.bucket, key: value.replace(/^\/+/, '') };
}

/**
 * The management cluster's kubeconfig, in this order: FLUXLESS_KUBECONFIG_DATA (base64
 * kubeconfig YAML; Lambda caps the whole environment at 4 KB, so only small kubeconfigs
 * fit), FLUXLESS_KUBECONFIG_S3 (an object, `s3://bucket/key` or a key in the state bucket,
 * read once per container), the file in FLUXLESS_KUBECONFIG or the in-cluster service
 * account. Throws an EnvironmentError naming the variable to set when there is none.
 */
export async function lambdaKubeConfig(cfg: FluxlessConfig, env: Env = process.env, s3?: S3Client): Promise<KubeConfig> {
  const data = env[KUBECONFIG_DATA_ENV]?.trim();
  if (data) {
    return parseKubeConfig(Buffer.from(data, 'base64').toString('utf8'), KUBECONFIG_DATA_ENV, 'set it to the output of `base64 -w0 < kubeconfig.yaml`');
  }
  const s3ref = env[KUBECONFIG_S3_ENV]?.trim();
  if (s3ref) {
    const { bucket, key } = kubeConfigObject(cfg, s3ref);
    const client = s3 ?? createS3Client({ endpoint: cfg.aws.endpoint, region: cfg.aws.region });
    let text: string;
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = (await readS3Body(res.Body)).toString('utf8');
    } catch (err) {
      throw new EnvironmentError(`could not read the kubeconfig s3://${bucket}/${key} (${KUBECONFIG_S3_ENV}): ${errorMessage(err)}`, {
        cause: err,
        hint: isS3NotFound(err)
          ? `upload it: aws s3 cp kubeconfig.yaml s3://${bucket}/${key} --sse AES256`
          : 'check the function role (s3:GetObject on that key) and the bucket name',
      });
    } finally {
      if (!s3) client.destroy();
    }
    return parseKubeConfig(text, `s3://${bucket}/${key}`, 'upload a kubeconfig YAML file there');
  }
  if (cfg.cluster.inCluster || cfg.cluster.kubeconfig) return kubeConfigFor(cfg);
  if (env[KUBECONFIG_SSM_ENV]) {
    throw new EnvironmentError(`${KUBECONFIG_SSM_ENV} is set, but loading the kubeconfig from SSM is not supported by this build`, {
      hint: `store the kubeconfig in S3 and set ${KUBECONFIG_S3_ENV}, or put it base64-encoded in ${KUBECONFIG_DATA_ENV}`,
    });
  }
  throw new EnvironmentError('no kubeconfig for the management cluster', {
    hint: `set ${KUBECONFIG_S3_ENV} (an S3 object holding the kubeconfig) or ${KUBECONFIG_DATA_ENV} (the base64-encoded kubeconfig)`,
  });
}

/** A kubeconfig for functions that must not reach a cluster: any request fails to resolve. */
function noClusterKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'none', server: 'https://no-cluster-for-this-function.invalid', skipTLSVerify: false }],
    users: [{ name: 'none' }],
    contexts: [{ name: 'none', cluster: 'none', user: 'none' }],
    currentContext: 'none',
  });
  return kc;
}

export async function buildLambdaRuntime(opts: LambdaRuntimeOptions = {}): Promise<LambdaRuntime> {
  const env = opts.env ?? process.env;
  const cfg = loadConfig({ env, file: env.FLUXLESS_CONFIG });
  if (cfg.store.type !== 's3' || cfg.queue.type !== 'sqs') {
    throw new ValidationError(
      `the Lambda functions need FLUXLESS_STORE=s3 and FLUXLESS_QUEUE=sqs, got store ${cfg.store.type} and queue ${cfg.queue.type}`,
      { hint: 'set them in the function environment (serverless.yml does)' },
    );
  }
  const kubeConfig = opts.cluster === false ? noClusterKubeConfig() : await lambdaKubeConfig(cfg, env);
  const rt = createRuntime(cfg, { kubeConfig });
  const sqs = new SQSClient({ region: cfg.aws.region ?? 'us-east-1', ...(cfg.aws.endpoint ? { endpoint: cfg.aws.endpoint } : {}) });
  return { cfg, rt, sqs };
}

const memo = new Map<string, Promise<LambdaRuntime>>();

/**
 * The container's runtime, built on first use from process.env and reused by later
 * invocations. A failed build (bad configuration) is not kept: the next invocation retries.
 */
export function lambdaRuntime(opts: { cluster?: boolean } = {}): Promise<LambdaRuntime> {
  const key = opts.cluster === false ? 'no-cluster' : 'cluster';
  let p = memo.get(key);
  if (!p) {
    p = buildLambdaRuntime({ cluster: opts.cluster });
    memo.set(key, p);
    p.catch((err: unknown) => {
      memo.delete(key);
      llog.error('could not build the runtime from the environment', { error: errorMessage(err) });
    });
  }
  return p;
}

/** Drops the cached runtimes (closing their clients): the next invocation rebuilds from the environment. */
export async function resetLambdaRuntime(): Promise<void> {
  const all = [...memo.values()];
  memo.clear();
  for (const p of all) {
    const r = await p.catch(() => undefined);
    if (!r) continue;
    r.rt.client.close();
    await r.rt.queue.close();
    await r.rt.artifactCache.close();
    r.sqs?.destroy();
  }
}

/** An abort signal that fires `marginMs` before the invocation's deadline (never before 1 s from now). */
export function deadlineSignal(context: LambdaContextLike | undefined, marginMs = 15_000): AbortSignal | undefined {
  if (!context || typeof context.getRemainingTimeInMillis !== 'function') return undefined;
  return AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - marginMs));
}

// ---------------------------------------------------------------------------------------
// SQS batches (the worker)

/** An SQS record as Lambda delivers it (the fields we read). */
export interface SqsRecord {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: {
    ApproximateReceiveCount?: string;
    MessageGroupId?: string;
    SentTimestamp?: string;
    ApproximateFirstReceiveTimestamp?: string;
    [name: string]: string | undefined;
  };
  messageAttributes?: Record<string, { dataType?: string; stringValue?: string; binaryValue?: string } | undefined>;
  md5OfBody?: string;
  eventSource?: string;
  eventSourceARN?: string;
  awsRegion?: string;
}

export interface SqsEvent {
  Records: SqsRecord[];
}

/** The ReportBatchItemFailures response: these records stay in the queue and come back. */
export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export interface SqsBatchDeps {
  handle(msg: ReceivedMessage, signal: AbortSignal): Promise<void>;
  /** Sends the record's body to the dead-letter queue with `reason` (the record is then deleted by Lambda). */
  deadLetter(record: SqsRecord, reason: string): Promise<void>;
  /** Makes a record visible again in `seconds` (best effort; a failure is logged). */
  delay?(record: SqsRecord, seconds: number): Promise<void>;
  /** Failed deliveries after which a message is dead-lettered with its last error, default 5. */
  maxReceives?: number;
  /** Groups handled at once, default 4. */
  concurrency?: number;
  /** Backoff before a failed message is delivered again, default min(60, 2^(n-1)) s. */
  backoffSeconds?(receiveCount: number): number;
  /** Aborted when the invocation is about to time out: unstarted records are given back. */
  signal?: AbortSignal;
  now?(): number;
}

export interface SqsBatchOutcome extends SqsBatchResponse {
  handled: number;
  deadLettered: Array<{ messageId: string; reason: string }>;
}

function receiveCountOf(r: SqsRecord): number {
  const n = Number(r.attributes.ApproximateReceiveCount ?? '1');
  return Number.isFinite(n) && n >= 1 ? Math.floor(n) : 1;
}

/**
 * Handles a batch of SQS records. Per FIFO group (MessageGroupId), records run in order;
 * groups run in parallel. A malformed body is dead-lettered with its reason and counts as
 * done (never retried). A failed record is reported in batchItemFailures together with every
 * later record of its group (so the group keeps its order), and all of them are made visible
 * again after the backoff; after `maxReceives` deliveries the failed message is
 * dead-lettered with its last error instead. Failures keep the batch order.
 */
export async function processSqsBatch(event: SqsEvent, deps: SqsBatchDeps): Promise<SqsBatchOutcome> {
  const records = event.Records ?? [];
  const maxReceives = deps.maxReceives ?? 5;
  const backoff = deps.backoffSeconds ?? defaultBackoffSeconds;
  const now = deps.now ?? Date.now;
  const signal = deps.signal ?? new AbortController().signal;
  const failed = new Set<number>();
  const deadLettered: SqsBatchOutcome['deadLettered'] = [];
  let handled = 0;

  const groups = new Map<string, number[]>();
  records.forEach((r, i) => {
    // Without a group (standard queue) every record is its own group.
    const g = r.attributes.MessageGroupId ?? `\u0000${i}`;
    const list = groups.get(g);
    if (list) list.push(i);
    else groups.set(g, [i]);
  });

  const giveBack = async (idx: number[], seconds: number) => {
    for (const i of idx) failed.add(i);
    if (!deps.delay) return;
    await Promise.all(
      idx.map((i) =>
        deps.delay!(records[i], seconds).catch((err: unknown) =>
          llog.warn('could not change the visibility of a failed record', { messageId: records[i].messageId, error: errorMessage(err) }),
        ),
      ),
    );
  };

  const deadLetter = async (r: SqsRecord, reason: string): Promise<boolean> => {
    try {
      await deps.deadLetter(r, reason);
      deadLettered.push({ messageId: r.messageId, reason });
      llog.warn('message dead-lettered', { messageId: r.messageId, group: r.attributes.MessageGroupId, reason });
      return true;
    } catch (err) {
      llog.warn('could not dead-letter a message; it will be delivered again', { messageId: r.messageId, error: errorMessage(err) });
      return false;
    }
  };

  const runGroup = async (idx: number[]) => {
    for (let k = 0; k < idx.length; k++) {
      const r = records[idx[k]];
      const rest = idx.slice(k);
      if (signal.aborted) {
        await giveBack(rest, 0);
        return;
      }
      // Sent with a delay (SqsWorkQueue keeps it in an attribute): hide it until due; the group waits.
      const notBefore = Number(r.messageAttributes?.[SQS_ATTR.notBefore]?.stringValue);
      if (Number.isFinite(notBefore) && notBefore > now()) {
        await giveBack(rest, Math.min(43_200, Math.ceil((notBefore - now()) / 1000)));
        return;
      }
      const parsed = parseMessage(r.body);
      if (!parsed.ok) {
        if (await deadLetter(r, `malformed message: ${parsed.error.message}`)) continue;
        await giveBack(rest, 0);
        return;
      }
      const receiveCount = receiveCountOf(r);
      const msg: ReceivedMessage = {
        message: parsed.message,
        receipt: r.receiptHandle,
        receiveCount,
        raw: r.body,
        messageId: r.messageId,
        groupId: r.attributes.MessageGroupId ?? '',
      };
      try {
        await deps.handle(msg, signal);
        handled++;
      } catch (err) {
        const t = parsed.message.target;
        const what = `${t.kind}/${t.namespace}/${t.name}`;
        if (receiveCount >= maxReceives && !signal.aborted) {
          const reason = `reconcile of ${what} failed ${receiveCount} time(s) (maxReceives ${maxReceives}); last error: ${errorMessage(err)}`;
          if (await deadLetter(r, reason)) continue;
        }
        llog.warn('reconcile failed; the message will be delivered again', { target: what, messageId: r.messageId, receiveCount, error: errorMessage(err) });
        let seconds = 0;
        try {
          seconds = Math.min(43_200, Math.max(0, Math.ceil(backoff(receiveCount))));
        } catch {
          seconds = defaultBackoffSeconds(receiveCount);
        }
        await giveBack(rest, seconds);
        return;
      }
    }
  };

  const queue = [...groups.values()];
  const workers = Array.from({ length: Math.max(1, Math.min(deps.concurrency ?? 4, queue.length)) }, async () => {
    for (let g = queue.shift(); g; g = queue.shift()) await runGroup(g);
  });
  await Promise.all(workers);
  const batchItemFailures = [...failed].sort((a, b) => a - b).map((i) => ({ itemIdentifier: records[i].messageId }));
  return { batchItemFailures, handled, deadLettered };
}

/** The real dependencies of processSqsBatch: handleMessage on the runtime, the DLQ of the configuration. */
export function sqsBatchDeps(lr: LambdaRuntime, handle: SqsBatchDeps['handle'], signal?: AbortSignal): SqsBatchDeps {
  const { cfg, sqs } = lr;
  if (cfg.queue.type !== 'sqs' || !sqs) throw new ValidationError('the worker needs FLUXLESS_QUEUE=sqs');
  const { url: queueUrl, dlqUrl } = cfg.queue;
  const maxReceives = Number(process.env.FLUXLESS_MAX_RECEIVES ?? 5);
  return {
    handle,
    signal,
    concurrency: cfg.worker.concurrency,
    maxReceives: Number.isInteger(maxReceives) && maxReceives >= 1 ? maxReceives : 5,
    async deadLetter(r, reason) {
      const attrs: Record<string, MessageAttributeValue> = {
        [SQS_ATTR.reason]: { DataType: 'String', StringValue: cleanReason(reason) },
        [SQS_ATTR.sourceMessageId]: { DataType: 'String', StringValue: r.messageId },
        [SQS_ATTR.receiveCount]: { DataType: 'Number', StringValue: String(receiveCountOf(r)) },
        [SQS_ATTR.deadLetteredAt]: { DataType: 'String', StringValue: new Date().toISOString() },
      };
      if (r.attributes.MessageGroupId) attrs[SQS_ATTR.sourceGroupId] = { DataType: 'String', StringValue: r.attributes.MessageGroupId };
      try {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: dlqUrl,
            // SQS refuses an empty body; keep the record's body otherwise as is.
            MessageBody: r.body === '' ? ' ' : r.body,
            // Same scheme as SqsWorkQueue: own group per message, the message id deduplicates retries.
            MessageGroupId: r.messageId,
            MessageDeduplicationId: r.messageId,
            MessageAttributes: attrs,
          }),
        );
      } catch (err) {
        throw new EnvironmentError(`SQS SendMessage to the dead-letter queue ${dlqUrl} failed: ${errorMessage(err)}`, {
          cause: err,
          hint: 'Check FLUXLESS_DLQ_URL and the worker role (sqs:SendMessage on the DLQ).',
        });
      }
    },
    async delay(r, seconds) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: r.receiptHandle, VisibilityTimeout: seconds }));
    },
  };
}
