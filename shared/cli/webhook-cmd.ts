/**
 * `fluxless webhook RECEIVER`: a signed test delivery for a Receiver, as its sender would
 * make it (GitHub push, GitLab push hook, Bitbucket, generic, generic-hmac): prints the URL
 * and a ready-to-run curl line, or sends it (`--send`) to the running server.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { FluxlessConfig } from '../config/config.js';
import { webhookPath } from '../receivers/signature.js';
import { parseReceiverObject } from '../receivers/spec.js';
import type { Runtime } from '../runtime/runtime.js';
import { readRecord } from '../state/records.js';
import { FluxlessError, NotFoundError } from '../util/errors.js';
import { runningServer } from './context.js';
import { withCel } from '../cel/load.js';

/** A delivery: where to post, the headers, the body. */
export interface TestDelivery {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The test delivery for a Receiver of type `type` with `token`. */
export function testDelivery(base: string, type: string, name: string, namespace: string, token: string): TestDelivery {
  const url = base + webhookPath(token, name, namespace);
  const sha = randomBytes(20).toString('hex');
  const hmac = (algo: 'sha1' | 'sha256', body: string) => createHmac(algo, token).update(body).digest('hex');
  switch (type) {
    case 'github': {
      const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, head_commit: { id: sha, message: 'fluxless test delivery' } });
      return { url, body, headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': randomBytes(8).toString('hex'), 'x-hub-signature-256': `sha256=${hmac('sha256', body)}` } };
    }
    case 'gitlab': {
      const body = JSON.stringify({ object_kind: 'push', ref: 'refs/heads/main', checkout_sha: sha });
      return { url, body, headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token } };
    }
    case 'bitbucket': {
      const body = JSON.stringify({ eventKey: 'repo:refs_changed', changes: [{ ref: { id: 'refs/heads/main' }, toHash: sha }] });
      return { url, body, headers: { 'content-type': 'application/json', 'x-event-key': 'repo:refs_changed', 'x-request-id': randomBytes(8).toString('hex'), 'x-hub-signature': `sha256=${hmac('sha256', body)}` } };
    }
    case 'generic':
      return { url, body: '{}', headers: { 'content-type': 'application/json' } };
    case 'generic-hmac': {
      const body = JSON.stringify({ test: true });
      return { url, body, headers: { 'content-type': 'application/json', 'x-signature': `sha256=${hmac('sha256', body)}` } };
    }
    default:
      throw new FluxlessError('Usage', `a test delivery for a '${type}' Receiver is made by its sender`, { hint: "use the sender's test-delivery button, or a generic / generic-hmac Receiver to try Fluxless" });
  }
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The curl command line of a delivery. */
export function curlLine(d: TestDelivery): string {
  return ['curl -sS -X POST', ...Object.entries(d.headers).map(([k, v]) => `-H ${shellQuote(`${k}: ${v}`)}`), `--data ${shellQuote(d.body)}`, shellQuote(d.url)].join(' ');
}

/** Prints (or sends) a test delivery for Receiver `ns/name`. */
export async function webhookCmd(rt: Runtime, cfg: FluxlessConfig, dataDir: string, ns: string, name: string, send: boolean): Promise<{ code: number; text: string }> {
  const rec = await readRecord(rt.state, { kind: 'Receiver', namespace: ns, name });
  if (!rec?.object || rec.deleted) throw new NotFoundError(`Receiver ${ns}/${name} not found`, { hint: "list Receivers with 'fluxless get receivers -A'" });
  const { spec } = await withCel(() => parseReceiverObject(rec.object));
  if (!('secretRef' in spec) || !spec.secretRef) throw new FluxlessError('Usage', `Receiver ${ns}/${name} (${spec.type}) has no token Secret to sign with`);
  const token = (await rt.secrets.get(ns, spec.secretRef.name)).token;
  if (!token) throw new FluxlessError('NoToken', `Secret ${ns}/${spec.secretRef.name} has no 'token' key`);
  const base = runningServer(dataDir)?.url ?? `http://${cfg.webhook.host}:${cfg.webhook.port}`;
  const d = testDelivery(base, spec.type, name, ns, token);
  if (!send) return { code: 0, text: `${d.url}\n${curlLine(d)}` };
  const res = await fetch(d.url, { method: 'POST', headers: d.headers, body: d.body });
  const answer = await res.text();
  return { code: res.ok ? 0 : 1, text: `${res.ok ? '✔' : '✗'} ${res.status} ${answer.trim()}` };
}
