/** Sends a GitHub `push` webhook, signed as GitHub signs it, to a Fluxless receiver. */
import { createHmac, randomBytes } from 'node:crypto';
import { webhookPath } from '../../shared/receivers/signature.js';

export interface GithubPush {
  /** Base URL of the webhook server (`http://127.0.0.1:<port>`). */
  url: string;
  /** The Receiver's namespace and token (its webhook path is derived from them). */
  namespace: string;
  token: string;
  /** The pushed commit. */
  head: string;
  /** `repository` of the payload (full_name, clone_url), if any. */
  repository?: Record<string, string>;
  message?: string;
  /** X-GitHub-Delivery (default: random). */
  delivery?: string;
}

export function sendGithubPush(p: GithubPush): Promise<Response> {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: p.head,
    ...(p.repository ? { repository: p.repository } : {}),
    head_commit: { id: p.head, message: p.message ?? 'update' },
  });
  return fetch(p.url + webhookPath(p.token, 'github', p.namespace), {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': p.delivery ?? randomBytes(8).toString('hex'),
      'x-hub-signature-256': 'sha256=' + createHmac('sha256', p.token).update(body).digest('hex'),
    },
    body,
  });
}
