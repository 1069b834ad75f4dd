/**
 * One Lambda "container": a Node process that loads a function bundle once (the init phase)
 * and then runs invocations one at a time, keeping its module state between them as a warm
 * Lambda container does. The driver (pool.ts) talks to it over IPC. Bundled on its own by
 * bench/aws (esbuild) and run with plain `node`, so nothing but the function bundle is
 * loaded: the init time measured here is the bundle's.
 *
 * Messages in: `{type: 'invoke', id, event, timeoutMs, requestId}`. Out: `{type: 'ready',
 * initMs}` once the bundle is loaded, `{type: 'result', id, ok, result | error, durationMs,
 * cpuMs}` per invocation.
 */
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

interface InvokeMessage {
  type: 'invoke';
  id: number;
  event: unknown;
  timeoutMs: number;
  requestId: string;
}

type Handler = (event: unknown, context: unknown) => Promise<unknown>;

const bundle = process.env.BENCH_BUNDLE ?? '';
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'function';
const memory = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '512';

function send(msg: unknown): void {
  process.send?.(msg);
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const mod = (await import(pathToFileURL(bundle).href)) as { handler?: Handler };
  const initMs = performance.now() - t0;
  if (typeof mod.handler !== 'function') throw new Error(`${bundle} exports no handler`);
  const handler = mod.handler;
  send({ type: 'ready', initMs });
  // One invocation at a time, as Lambda runs a container.
  let chain = Promise.resolve();
  process.on('message', (m: InvokeMessage) => {
    if (m?.type !== 'invoke') return;
    chain = chain.then(async () => {
      const deadline = Date.now() + m.timeoutMs;
      const context = {
        functionName,
        functionVersion: '$LATEST',
        memoryLimitInMB: memory,
        awsRequestId: m.requestId,
        invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
        getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
        callbackWaitsForEmptyEventLoop: true,
      };
      const cpu0 = process.cpuUsage();
      const start = performance.now();
      try {
        const result = await handler(m.event, context);
        send({ type: 'result', id: m.id, ok: true, result, durationMs: performance.now() - start, cpuMs: cpuMs(cpu0) });
      } catch (err) {
        const e = err as Error;
        send({ type: 'result', id: m.id, ok: false, error: { name: e?.name, message: e?.message ?? String(err) }, durationMs: performance.now() - start, cpuMs: cpuMs(cpu0) });
      }
    });
  });
}

function cpuMs(since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since);
  return (d.user + d.system) / 1000;
}

// A clean exit on the pool's SIGTERM, so that a --cpu-prof profile (BENCH_AWS_CPU_PROF) is written.
process.on('SIGTERM', () => process.exit(0));

main().catch((err: unknown) => {
  send({ type: 'initError', error: (err as Error)?.stack ?? String(err) });
  process.exit(1);
});
