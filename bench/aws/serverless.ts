/**
 * What bench:aws takes from serverless.yml: each function's memory, timeout and
 * environment, the SQS mapping (batch size, maximum concurrency), the queue's visibility
 * timeout and the default parameters, so the local Lambda path runs as the deployed one.
 */
import { readFileSync } from 'node:fs';
import { parseDocument, type Tags } from 'yaml';

/** One function's settings. */
export interface ServerlessFunction {
  memoryMb: number;
  timeoutS: number;
  env: Record<string, string>;
  ephemeralStorageMb: number;
}

/** The settings bench:aws uses. */
export interface ServerlessSettings {
  functions: Record<'webhook' | 'worker' | 'schedule', ServerlessFunction>;
  sqs: { batchSize: number; maximumConcurrency: number };
  queueVisibilityTimeoutS: number;
  maxReceiveCount: number;
  params: Record<string, string>;
  scheduleRate: string;
}

type Json = Record<string, unknown>;

// CloudFormation intrinsics: kept as plain strings (bench:aws fills those values in itself).
const cfnTags: Tags = ['!Ref', '!GetAtt', '!Join', '!Sub', '!If', '!Select', '!Split', '!ImportValue', '!Equals', '!Not', '!FindInMap'].map((tag) => ({
  tag,
  resolve: (v: string | unknown) => `${tag} ${typeof v === 'string' ? v : JSON.stringify(v)}`,
  identify: () => false,
  collection: undefined,
})) as unknown as Tags;

/** `${param:x}` and `${self:...}` placeholders resolved from the default parameters. */
function fill(v: unknown, params: Record<string, string>): string {
  return String(v).replace(/\$\{param:([A-Za-z0-9]+)\}/g, (_m, k: string) => params[k] ?? '');
}

/** Reads serverless.yml. */
export function readServerless(file: string): ServerlessSettings {
  const doc = parseDocument(readFileSync(file, 'utf8'), { customTags: cfnTags, logLevel: 'silent' });
  const y = doc.toJS() as Json;
  const params = Object.fromEntries(Object.entries(((y.params as Json)?.default ?? {}) as Json).map(([k, v]) => [k, String(v)]));
  const provider = y.provider as Json;
  const providerEnv = (provider.environment ?? {}) as Json;
  const fns = y.functions as Record<string, Json>;
  const fn = (name: 'webhook' | 'worker' | 'schedule'): ServerlessFunction => {
    const f = fns[name]!;
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries({ ...providerEnv, ...((f.environment ?? {}) as Json) })) env[k] = fill(v, params);
    return {
      memoryMb: Number(f.memorySize ?? provider.memorySize ?? 1024),
      timeoutS: Number(f.timeout ?? provider.timeout ?? 6),
      ephemeralStorageMb: Number(f.ephemeralStorageSize ?? 512),
      env,
    };
  };
  const workerEvents = (fns.worker!.events ?? []) as Array<{ sqs?: Json }>;
  const sqs = workerEvents.find((e) => e.sqs)?.sqs ?? {};
  const scheduleEvents = (fns.schedule!.events ?? []) as Array<{ schedule?: Json }>;
  const resources = ((y.resources as Json)?.Resources ?? {}) as Record<string, { Properties?: Json }>;
  const queue = resources.WorkQueue?.Properties ?? {};
  const redrive = (queue.RedrivePolicy ?? {}) as Json;
  return {
    functions: { webhook: fn('webhook'), worker: fn('worker'), schedule: fn('schedule') },
    sqs: { batchSize: Number(sqs.batchSize ?? 10), maximumConcurrency: Number(sqs.maximumConcurrency ?? 1000) },
    queueVisibilityTimeoutS: Number(queue.VisibilityTimeout ?? 30),
    maxReceiveCount: Number(fill(redrive.maxReceiveCount ?? '10', params)),
    params,
    scheduleRate: String(scheduleEvents.find((e) => e.schedule)?.schedule?.rate ?? 'rate(1 minute)'),
  };
}
