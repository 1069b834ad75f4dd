/**
 * The webhook function: Flux Receivers behind API Gateway (HTTP API, payload v2) or a Lambda
 * function URL. The hono app from shared/runtime/webhook.ts, on the runtime built once per
 * container from the environment.
 */
import { Hono } from 'hono';
import { handle } from 'hono/aws-lambda';
import { lambdaRuntime } from '../shared/runtime/lambda.js';
import { createWebhookApp } from '../shared/runtime/webhook.js';
import { errorMessage } from '../shared/util/errors.js';
import { log } from '../shared/util/log.js';

let app: Promise<Hono> | undefined;

/** The Receiver app, built on the first request (a failed build is retried on the next one). */
function webhookApp(): Promise<Hono> {
  if (!app) {
    const p = lambdaRuntime().then(({ rt }) => createWebhookApp(rt));
    p.catch(() => {
      if (app === p) app = undefined;
    });
    app = p;
  }
  return app;
}

const outer = new Hono();
outer.all('*', async (c) => (await webhookApp()).fetch(c.req.raw));
outer.onError((err, c) => {
  // Configuration or startup failures: logged with the reason, not shown to the caller.
  // The path holds the Receiver's digest, which authenticates generic receivers: log its start only.
  const path = c.req.path.startsWith('/hook/') ? `/hook/${c.req.path.slice(6, 14)}…` : c.req.path.slice(0, 64);
  log.error('webhook request failed', { path, error: errorMessage(err) });
  return c.json({ error: 'the webhook receiver is not available; see the function logs' }, 503);
});

export const handler = handle(outer);
