/**
 * The local runtime (`fluxless serve`): the webhook server, a worker pool and the scheduler
 * in one process, on the same handlers the Lambda functions call. Graceful shutdown: stop
 * taking messages, let running reconciles finish (unfinished ones are redelivered after a
 * restart, since the on-disk queue keeps them).
 */
import type { FluxlessConfig } from '../config/config.js';
import { consume } from '../queue/index.js';
import { errorMessage } from '../util/errors.js';
import { parseDuration } from '../util/duration.js';
import { log } from '../util/log.js';
import { bootstrap } from './bootstrap.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';
import { scheduleTick } from './schedule.js';
import { createWebhookApp } from './webhook.js';
import { startReceiverServer } from '../receivers/server.js';
import { deadLettered, handleMessage } from './worker.js';
import { checkClusterIdentity } from './cluster-identity.js';

/** A running local runtime. */
export interface LocalRuntime {
  /** Base URL of the webhook server, e.g. http://127.0.0.1:9292 */
  url: string;
  rt: Runtime;
  /** Runs one scheduler tick now. */
  tick(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts the webhook server, the worker pool and the scheduler on `rt`. */
export async function startLocalRuntime(rt: Runtime, cfg: FluxlessConfig, opts: { bootstrap?: boolean } = {}): Promise<LocalRuntime> {
  await checkClusterIdentity(rt);
  if (opts.bootstrap !== false) {
    for (const key of await bootstrap(rt, cfg)) await enqueue(rt, key, 'bootstrap', { dedupKey: `bootstrap-${rt.now().getTime()}` });
  }
  const app = createWebhookApp(rt);
  const server = await startReceiverServer({ app, host: cfg.webhook.host, port: cfg.webhook.port });
  const url = server.url;

  const abort = new AbortController();
  const worker = consume(rt.queue, (m, ctx) => handleMessage(rt, m, ctx.signal), {
    concurrency: cfg.worker.concurrency,
    maxReceives: cfg.worker.maxReceives,
    onDeadLetter: (target, reason) => deadLettered(rt, target, reason),
    visibilityTimeoutSeconds: 120,
    waitSeconds: 1,
    signal: abort.signal,
  });
  let ticking = false;
  const tick = async () => {
    if (ticking) return;
    ticking = true;
    try {
      await scheduleTick(rt);
    } catch (err) {
      log.warn('scheduler tick failed', { error: errorMessage(err) });
    } finally {
      ticking = false;
    }
  };
  const timer = setInterval(() => void tick(), parseDuration(cfg.scheduleInterval, 'scheduleInterval'));
  void tick();
  log.info('fluxless serving', { url, concurrency: cfg.worker.concurrency });
  let stopping: Promise<void> | undefined;
  return {
    url,
    rt,
    tick,
    stop() {
      stopping ??= (async () => {
        clearInterval(timer);
        abort.abort();
        await server.close();
        await worker;
        await rt.queue.close();
        rt.client.close();
        await rt.artifactCache.close();
      })();
      return stopping;
    },
  };
}
