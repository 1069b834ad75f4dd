/**
 * Resolves `secretRef`s: a Secret in the referring object's namespace on the management
 * cluster, decoded. Cached briefly (default 30s) so a burst of webhooks reads it once.
 * Values are never logged.
 */
import { NotFoundError } from '../util/errors.js';
import type { KubeClient } from './client.js';
import { isNotFound } from './client.js';

export interface SecretReader {
  get(namespace: string, name: string): Promise<Record<string, string>>;
  invalidate(namespace?: string, name?: string): void;
}

export function createSecretReader(client: KubeClient, opts: { ttlMs?: number; now?: () => number } = {}): SecretReader {
  const ttl = opts.ttlMs ?? 30_000;
  const now = opts.now ?? Date.now;
  const cache = new Map<string, { at: number; data: Promise<Record<string, string>> }>();
  return {
    get(namespace, name) {
      const key = `${namespace}/${name}`;
      const hit = cache.get(key);
      if (hit && now() - hit.at < ttl) return hit.data;
      const data = client
        .request<{ data?: Record<string, string> }>('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(name)}`)
        .then((s) => Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')])))
        .catch((err: unknown) => {
          cache.delete(key);
          if (isNotFound(err)) {
            throw new NotFoundError(`Secret '${namespace}/${name}' not found`, {
              hint: `create it in namespace ${namespace} of the management cluster`,
            });
          }
          throw err;
        });
      cache.set(key, { at: now(), data });
      return data;
    },
    invalidate(namespace, name) {
      if (namespace && name) cache.delete(`${namespace}/${name}`);
      else cache.clear();
    },
  };
}
