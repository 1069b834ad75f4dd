/**
 * A Provider's Secrets, read the way notification-controller reads them
 * (event_handlers.go createNotifier, extractAuthFromSecret; fluxcd/pkg runtime/secrets):
 * - `secretRef`: `address` (overrides spec.address, trimmed, at most 2048 bytes), `token`,
 *   `username` + `password` (both or neither: one alone is malformed and then no secret
 *   auth is used, the token neither), `headers` (a YAML map), `proxy` (deprecated);
 * - `proxySecretRef`: `address` (http/https), optional `username` / `password`;
 * - `certSecretRef`: `ca.crt`, `tls.crt`, `tls.key` (legacy `caFile`, `certFile`,
 *   `keyFile`); commit-status types also take `ca.crt` from `secretRef` without one.
 * A Secret that does not exist (yet) is a TransientDeliveryError: it may appear.
 */
import { parse as parseYaml } from 'yaml';
import type { SecretReader } from '../kube/secrets.js';
import { errorMessage, NotFoundError } from '../util/errors.js';
import { PermanentDeliveryError, TransientDeliveryError } from './errors.js';
import type { TlsMaterial, Transport } from './http.js';
import { COMMIT_STATUS_TYPES, type ProviderSpec } from './spec.js';

/** What the Secrets add to a Provider. */
export interface ProviderCredentials {
  url: string;
  username: string;
  token: string;
  password: string;
  headers: Record<string, string>;
  secretData: Record<string, string>;
  transport: Transport;
}

async function readSecret(secrets: SecretReader, namespace: string, name: string): Promise<Record<string, string>> {
  try {
    return await secrets.get(namespace, name);
  } catch (err) {
    const why = `failed to get secret '${namespace}/${name}': ${errorMessage(err)}`;
    throw err instanceof NotFoundError ? new TransientDeliveryError(why, { cause: err, hint: `create Secret ${namespace}/${name}` }) : new TransientDeliveryError(why, { cause: err });
  }
}

function tlsFrom(data: Record<string, string>, where: string): TlsMaterial | undefined {
  const ca = data['ca.crt'] ?? data.caFile;
  const cert = data['tls.crt'] ?? data.certFile;
  const key = data['tls.key'] ?? data.keyFile;
  if ((cert && !key) || (!cert && key)) throw new PermanentDeliveryError(`failed to get TLS config: secret '${where}' must contain both tls.crt and tls.key`);
  if (!ca && !cert) return undefined;
  return { ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) };
}

/** Reads the Provider's Secrets; every value stays in memory only. */
export async function providerCredentials(secrets: SecretReader, p: ProviderSpec): Promise<ProviderCredentials> {
  const out: ProviderCredentials = { url: p.address, username: p.username, token: '', password: '', headers: {}, secretData: {}, transport: {} };
  if (p.proxy) out.transport.proxy = { url: p.proxy };
  let secretData: Record<string, string> | undefined;
  if (p.secretRef) {
    const where = `${p.namespace}/${p.secretRef}`;
    const data = await readSecret(secrets, p.namespace, p.secretRef);
    secretData = data;
    out.secretData = data;
    if (data.address !== undefined) {
      if (Buffer.byteLength(data.address) > 2048) throw new PermanentDeliveryError('invalid address in secret: address exceeds maximum length of 2048 bytes');
      out.url = data.address.trim();
    }
    if (data.proxy !== undefined) {
      const proxy = data.proxy.trim();
      try {
        new URL(proxy);
      } catch {
        throw new PermanentDeliveryError(`invalid 'proxy' in secret '${where}'`);
      }
      out.transport.proxy = { url: proxy };
    }
    if (data.headers !== undefined) {
      let h: unknown;
      try {
        h = parseYaml(data.headers);
      } catch (err) {
        throw new PermanentDeliveryError(`failed to read headers from secret: ${errorMessage(err)}`);
      }
      if (h !== null && (typeof h !== 'object' || Array.isArray(h))) throw new PermanentDeliveryError('failed to read headers from secret: headers must be a map of header names to values');
      for (const [k, v] of Object.entries((h ?? {}) as Record<string, unknown>)) out.headers[k] = typeof v === 'string' ? v : String(v);
    }
    const hasUser = data.username !== undefined;
    const hasPass = data.password !== undefined;
    // A lone username or password makes the Secret's auth malformed: Flux then uses none of it.
    if (hasUser === hasPass) {
      if (data.token !== undefined) out.token = data.token.trim();
      if (hasUser) {
        out.username = data.username!;
        out.password = data.password!;
      }
    }
  }
  if (p.proxySecretRef) {
    const where = `${p.namespace}/${p.proxySecretRef}`;
    const data = await readSecret(secrets, p.namespace, p.proxySecretRef);
    if (data.address === undefined) throw new PermanentDeliveryError(`failed to get proxy URL: secret '${where}': key 'address' not found`);
    if (data.address === '') throw new PermanentDeliveryError(`failed to get proxy URL: secret '${where}': proxy address is empty`);
    let u: URL;
    try {
      u = new URL(data.address);
    } catch {
      throw new PermanentDeliveryError(`failed to get proxy URL: secret '${where}': invalid proxy URL`);
    }
    out.transport.proxy = { url: u.toString(), ...(data.username !== undefined ? { username: data.username } : {}), ...(data.password !== undefined ? { password: data.password } : {}) };
  }
  if (p.certSecretRef) {
    const data = await readSecret(secrets, p.namespace, p.certSecretRef);
    const tls = tlsFrom(data, `${p.namespace}/${p.certSecretRef}`);
    if (tls) out.transport.tls = tls;
  } else if (secretData && COMMIT_STATUS_TYPES.includes(p.type) && secretData['ca.crt']) {
    out.transport.tls = { ca: secretData['ca.crt'] };
  }
  return out;
}
