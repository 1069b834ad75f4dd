/**
 * npm run bench:webhook — signed GitHub push webhooks against the local HTTP server (the
 * receiver app on @hono/node-server, as `fluxless serve` runs it) from a second process on
 * loopback. Ends with `RESULT rps=<n> p99_ms=<n>`.
 *
 * The directory holds one github Receiver; the requester only counts (the reconcile path is
 * measured by bench:fleet). Redelivery dedup is on, every request has a new delivery id.
 */
import { fork } from 'node:child_process';
import { createHmac, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createReceiverApp } from '../shared/receivers/app.js';
import { parseReceiver } from '../shared/receivers/spec.js';
import { webhookPath } from '../shared/receivers/signature.js';
import { configureLogging } from '../shared/util/log.js';

const DURATION_S = Number(process.env.BENCH_SECONDS ?? 10);
// A closed loop: each connection sends its next request when the last one is answered.
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 4);

async function client(url: string, token: string): Promise<void> {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), repository: { full_name: 'fleet/fleet' }, head_commit: { id: 'a'.repeat(40), message: 'x' } });
  const sig = 'sha256=' + createHmac('sha256', token).update(body).digest('hex');
  const lat: number[] = [];
  let errors = 0;
  const end = Date.now() + DURATION_S * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomBytes(8).toString('hex'), 'x-hub-signature-256': sig },
          body,
        });
        await res.arrayBuffer();
        if (res.status !== 200) errors++;
        lat.push(performance.now() - t);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  process.send!({ n: lat.length, errors, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)] });
}

async function main(): Promise<void> {
  if (process.argv[2] === 'client') return client(process.argv[3], process.argv[4]);
  configureLogging({ level: 'warn' });
  const token = randomBytes(16).toString('hex');
  const receiver = parseReceiver({
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name: 'github', namespace: 'flux-system' },
    spec: { type: 'github', events: ['push'], secretRef: { name: 'token' }, resources: [{ kind: 'GitRepository', name: 'flux-system' }] },
  });
  let marked = 0;
  const app = createReceiverApp({
    directory: { list: async () => [{ namespace: 'flux-system', name: 'github', spec: receiver, token }] },
    requester: { request: async () => ++marked },
  });
  const server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 });
  await new Promise((r) => server.once('listening', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${webhookPath(token, 'github', 'flux-system')}`;
  const child = fork(fileURLToPath(import.meta.url), ['client', url, token], { execArgv: ['--import', 'tsx'] });
  const r = await new Promise<{ n: number; errors: number; p50: number; p99: number }>((resolve) => child.once('message', (m) => resolve(m as never)));
  server.close();
  console.log(`${r.n} signed push webhooks in ${DURATION_S}s over ${CONNECTIONS} connections, ${r.errors} non-200, ${marked} reconciles requested`);
  console.log(`p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms`);
  console.log(`RESULT rps=${Math.round(r.n / DURATION_S)} p99_ms=${r.p99.toFixed(1)}`);
}

await main();
