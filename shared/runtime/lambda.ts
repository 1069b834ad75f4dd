/**
 * The per-container runtime of the Lambda functions (functions/*.ts), and the translation
 * of their events into calls of the shared handlers:
 * - the Runtime is built once per container (lazily, from the environment) and kept across
 *   invocations; a failed build is not cached, so the next invocation retries;
 * - the worker's SQS batches are in lambda-sqs.ts: this module is loaded by every function
 *   and carries nothing only the worker needs (the reconcilers), for a short cold start.
 */
import { SQSClient } from '@aws-sdk/client-sqs';
import { loadConfig, type FluxlessConfig } from '../config/config.js';
import { managementKubeConfig, noClusterKubeConfig } from '../kube/kubeconfig.js';
import { ValidationError, errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { createRuntime } from './factory.js';
import type { Runtime } from './runtime.js';
import { checkClusterIdentity } from './cluster-identity.js';

const llog = log.child({ component: 'lambda' });

type Env = Record<string, string | undefined>;

/** The parts of the Lambda context object we use. */
export interface LambdaContextLike {
  getRemainingTimeInMillis(): number;
  awsRequestId?: string;
  functionName?: string;
}

/** A container's configuration, runtime and SQS client. */
export interface LambdaRuntime {
  cfg: FluxlessConfig;
  rt: Runtime;
  sqs: SQSClient;
}

/** Builds the runtime from the environment; `cluster: false` for functions that never reach a cluster (the scheduler). */
export async function buildLambdaRuntime(opts: { cluster?: boolean; env?: Env } = {}): Promise<LambdaRuntime> {
  const env = opts.env ?? process.env;
  const cfg = loadConfig({ env, file: env.FLUXLESS_CONFIG });
  if (cfg.store.type !== 's3' || cfg.queue.type !== 'sqs') {
    throw new ValidationError(`the Lambda functions need FLUXLESS_STORE=s3 and FLUXLESS_QUEUE=sqs, got store ${cfg.store.type} and queue ${cfg.queue.type}`, {
      hint: 'set them in the function environment (serverless.yml does)',
    });
  }
  const kubeConfig = opts.cluster === false ? noClusterKubeConfig() : await managementKubeConfig(cfg, env);
  const rt = createRuntime(cfg, { kubeConfig });
  // Once per container: a store used with another cluster before reconciles everything again.
  if (opts.cluster !== false) await checkClusterIdentity(rt);
  const sqs = new SQSClient({ region: cfg.aws.region ?? 'us-east-1', ...(cfg.aws.endpoint ? { endpoint: cfg.aws.endpoint } : {}) });
  return { cfg, rt, sqs };
}

const memo = new Map<string, Promise<LambdaRuntime>>();

/** The container's runtime, built on first use and reused; a failed build is retried by the next invocation. */
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
    r.sqs.destroy();
  }
}

/** An abort signal that fires `marginMs` before the invocation's deadline (never before 1 s from now). */
export function deadlineSignal(context: LambdaContextLike | undefined, marginMs = 15_000): AbortSignal | undefined {
  if (!context || typeof context.getRemainingTimeInMillis !== 'function') return undefined;
  return AbortSignal.timeout(Math.max(1000, context.getRemainingTimeInMillis() - marginMs));
}
