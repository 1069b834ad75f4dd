/**
 * The consume loop shared by both queue implementations: receive, run the handler with a
 * visibility heartbeat, ack on success, release with backoff on failure, dead-letter after
 * `maxReceives` failed deliveries with the last error as the reason.
 */
import { shareable } from '../util/abort.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { sleep } from '../util/time.js';
import { intInRange } from './options.js';
import { afterHandling, beforeHandling, deliveryPolicy, type Settlement } from './policy.js';
import {
  MAX_RECEIVE_BATCH,
  MAX_VISIBILITY_SECONDS,
  MAX_WAIT_SECONDS,
  ReceiptExpiredError,
  type ConsumeOptions,
  type MessageHandler,
  type ReceivedMessage,
  type WorkQueue,
} from './types.js';

const qlog = log.child({ component: 'queue' });

/**
 * Runs `handler` for messages of `queue` until `opts.signal` aborts, then waits for running
 * handlers and resolves. Never throws for a handler's or the queue's errors: they are logged
 * and retried. At most `concurrency` handlers run at once, each on a different group.
 */
export async function consume(queue: WorkQueue, handler: MessageHandler, opts: ConsumeOptions = {}): Promise<void> {
  const concurrency = intInRange('concurrency', opts.concurrency ?? 4, 1, 1000);
  const maxReceives = intInRange('maxReceives', opts.maxReceives ?? 5, 1, 1000);
  const vt = intInRange('visibilityTimeoutSeconds', opts.visibilityTimeoutSeconds ?? 60, 1, MAX_VISIBILITY_SECONDS);
  const waitSeconds = intInRange('waitSeconds', opts.waitSeconds ?? MAX_WAIT_SECONDS, 0, MAX_WAIT_SECONDS);
  const policy = deliveryPolicy({ maxReceives, backoffSeconds: opts.backoffSeconds });
  const signal = opts.signal;

  const running = new Set<Promise<void>>();
  let stopped: Promise<void> = new Promise<void>((resolve) => {
    if (!signal) return;
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  if (!signal) stopped = new Promise<void>(() => undefined);

  const settle = async (r: ReceivedMessage, how: Settlement): Promise<void> => {
    if (how.action === 'ack') {
      await queue.ack(r.receipt).catch((err: unknown) => qlog.warn('could not ack message; it will be delivered again', { messageId: r.messageId, error: errorMessage(err) }));
      return;
    }
    if (how.action === 'deadLetter') {
      try {
        await queue.deadLetter(r.receipt, how.reason);
        qlog.warn('message dead-lettered', { messageId: r.messageId, group: r.groupId, receiveCount: r.receiveCount, reason: how.reason });
      } catch (err) {
        qlog.warn('could not dead-letter message; it will be delivered again', { messageId: r.messageId, error: errorMessage(err) });
        return;
      }
      await opts.onDeadLetter?.(r.message.target, how.reason).catch((err: unknown) => qlog.warn('dead-letter hook failed', { error: errorMessage(err) }));
      return;
    }
    await queue.release(r.receipt, Math.min(how.delaySeconds, MAX_VISIBILITY_SECONDS)).catch((err: unknown) =>
      qlog.warn('could not release message; it will be delivered again after its visibility timeout', { messageId: r.messageId, error: errorMessage(err) }),
    );
  };

  const handle = async (r: ReceivedMessage): Promise<void> => {
    const early = beforeHandling(policy, { receiveCount: r.receiveCount, target: r.message.target }, Date.now());
    if (early) return settle(r, early);
    const lease = new AbortController();
    shareable(lease.signal);
    let extending = false;
    const heartbeat = setInterval(() => {
      if (extending || lease.signal.aborted) return;
      extending = true;
      queue
        .extend(r.receipt, vt)
        .catch((err: unknown) => {
          if (err instanceof ReceiptExpiredError) {
            qlog.warn('lost the lease on a message while handling it; it may be handled again', { messageId: r.messageId });
            lease.abort(err);
          } else {
            qlog.warn('could not extend message visibility; will retry', { messageId: r.messageId, error: errorMessage(err) });
          }
        })
        .finally(() => {
          extending = false;
        });
    }, Math.max(50, Math.floor((vt * 1000) / 3)));
    let failure: string | undefined;
    try {
      await handler(r, { signal: lease.signal });
    } catch (err) {
      failure = errorMessage(err) || 'handler failed without a message';
    } finally {
      clearInterval(heartbeat);
    }
    if (failure !== undefined) qlog.info('handler failed', { messageId: r.messageId, group: r.groupId, receiveCount: r.receiveCount, error: failure });
    await settle(r, afterHandling(policy, { receiveCount: r.receiveCount, target: r.message.target }, failure));
  };

  let errorDelay = 500;
  while (!signal?.aborted) {
    if (running.size >= concurrency) {
      await Promise.race([...running, stopped]);
      continue;
    }
    let batch: ReceivedMessage[];
    try {
      batch = await queue.receive({
        max: Math.min(MAX_RECEIVE_BATCH, concurrency - running.size),
        waitSeconds,
        visibilityTimeoutSeconds: vt,
        signal,
      });
      errorDelay = 500;
    } catch (err) {
      if (signal?.aborted) break;
      qlog.warn('receiving from the work queue failed; retrying', { error: errorMessage(err), retryInMs: errorDelay });
      await sleep(errorDelay, signal);
      errorDelay = Math.min(30_000, errorDelay * 2);
      continue;
    }
    for (const r of batch) {
      if (signal?.aborted) {
        // Shutting down: give it back at once instead of leaving it hidden.
        await queue.release(r.receipt, 0).catch(() => undefined);
        continue;
      }
      const p: Promise<void> = handle(r)
        .catch((err: unknown) => qlog.error('unexpected error in the consume loop', { error: errorMessage(err) }))
        .finally(() => running.delete(p));
      running.add(p);
    }
  }
  await Promise.allSettled([...running]);
}
