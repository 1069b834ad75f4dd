/**
 * Kubeconfigs of remote clusters (`spec.kubeConfig.secretRef`), read and sanitised as
 * kustomize-controller does (fluxcd/pkg runtime/client `getRESTConfigFromSecret` and
 * `KubeConfig`):
 *  - the Secret is read on every reconcile (a rotated token is picked up), its key is `key`
 *    when set, else `value`, else `value.yaml`, with Flux's messages when missing;
 *  - of the current context, only in-line material is kept: the server, the CA data, the TLS
 *    server name, client certificate and key data, a bearer token, username/password. File
 *    references (`certificate-authority`, `client-certificate`, `client-key`, `tokenFile`),
 *    `auth-provider` and impersonation (`as`) are dropped; `exec` is kept only with
 *    `insecureExec` and `insecure-skip-tls-verify` only with `insecureTLS` (Flux's
 *    `--insecure-kubeconfig-exec` / `--insecure-kubeconfig-tls`).
 *
 * The YAML is parsed here, not by @kubernetes/client-node, whose loader reads `token-file`
 * from this process's disk while parsing: a tenant's kubeconfig must never make Fluxless
 * send its own files to a server the tenant chose.
 */
import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { parse as parseYaml } from 'yaml';
import { ValidationError } from '../util/errors.js';
import { isNotFound, type KubeClient } from './client.js';
import { trimEnd } from '../util/trim.js';

/** `spec.kubeConfig.secretRef` (meta.SecretKeyReference). */
export interface KubeConfigSecretRef {
  name: string;
  key?: string;
}

/** Flux's handling switches for kubeconfigs given by objects. */
export interface KubeConfigSanitizeOptions {
  /** Keep `users[].user.exec` (Flux: `--insecure-kubeconfig-exec`); the command must exist where Fluxless runs. */
  insecureExec?: boolean;
  /** Keep `insecure-skip-tls-verify` (Flux: `--insecure-kubeconfig-tls`). */
  insecureTLS?: boolean;
}

/** A sanitised remote kubeconfig: what the client uses, and how to name and cache it. */
export interface RemoteKubeConfig {
  kubeConfig: KubeConfig;
  /** The kubeconfig's name of the cluster of its current context. */
  clusterName: string;
  /** The API server URL, without a trailing slash. */
  server: string;
  /** sha256 of everything kept: equal kubeconfigs share one client and one discovery cache. */
  fingerprint: string;
  /** Fields that were dropped (names only), for a log line. */
  dropped: string[];
}

/** Thrown when a kubeConfig reference cannot be resolved; the message is Flux's. */
export class KubeConfigRefError extends ValidationError {
  /** True when the referenced Secret or ConfigMap does not exist (helm-controller then skips the uninstall). */
  get notFound(): boolean {
    return isNotFound(this.cause);
  }
}

/** Whose messages to use: kustomize-controller's (default) or helm-controller's, which differ. */
export type KubeConfigMessages = 'kustomization' | 'helmrelease';

type Raw = Record<string, unknown>;

function isMap(v: unknown): v is Raw {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function named(list: unknown, name: string, field: string): Raw | undefined {
  if (!Array.isArray(list)) return undefined;
  const e = list.find((x) => isMap(x) && x.name === name) as Raw | undefined;
  return e && isMap(e[field]) ? (e[field] as Raw) : e ? {} : undefined;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/**
 * Parses and sanitises kubeconfig YAML (`where` names it in errors, e.g. the Secret). The
 * current context must name a cluster with a server.
 */
export function sanitizeKubeConfig(text: string, where: string, opts: KubeConfigSanitizeOptions = {}): RemoteKubeConfig {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new KubeConfigRefError(`${where}: not a kubeconfig: ${(err as Error).message.split('\n')[0]}`, { hint: 'the Secret must hold a kubeconfig YAML file' });
  }
  if (!isMap(doc)) throw new KubeConfigRefError(`${where}: not a kubeconfig (expected a YAML mapping)`, { hint: 'the Secret must hold a kubeconfig YAML file' });
  const current = str(doc['current-context']);
  if (!current) throw new KubeConfigRefError(`${where}: the kubeconfig has no current-context`, { hint: 'set current-context to the context of the target cluster' });
  const ctx = named(doc.contexts, current, 'context');
  if (!ctx) throw new KubeConfigRefError(`${where}: context '${current}' not found in the kubeconfig`, { hint: 'set current-context to one of its contexts' });
  const clusterName = str(ctx.cluster);
  const cluster = clusterName ? named(doc.clusters, clusterName, 'cluster') : undefined;
  if (!clusterName || !cluster) throw new KubeConfigRefError(`${where}: cluster '${clusterName ?? ''}' of context '${current}' not found in the kubeconfig`);
  const rawServer = str(cluster.server);
  const server = rawServer === undefined ? undefined : trimEnd(rawServer, '/');
  if (!server) throw new KubeConfigRefError(`${where}: cluster '${clusterName}' has no server`);
  try {
    const u = new URL(server);
    if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error('not http(s)');
  } catch {
    throw new KubeConfigRefError(`${where}: cluster '${clusterName}' server '${server}' is not an https:// URL`);
  }
  const userName = str(ctx.user);
  const user = (userName ? named(doc.users, userName, 'user') : undefined) ?? {};
  const dropped: string[] = [];
  const drop = (obj: Raw, fields: string[], prefix: string) => {
    for (const f of fields) if (obj[f] !== undefined && obj[f] !== null) dropped.push(`${prefix}.${f}`);
  };
  drop(cluster, ['certificate-authority', 'proxy-url'], 'cluster');
  drop(user, ['client-certificate', 'client-key', 'tokenFile', 'token-file', 'auth-provider', 'as', 'as-groups', 'as-uid', 'as-user-extra'], 'user');
  const skipTLS = cluster['insecure-skip-tls-verify'] === true;
  if (skipTLS && !opts.insecureTLS) dropped.push('cluster.insecure-skip-tls-verify');
  const exec = isMap(user.exec) ? user.exec : undefined;
  if (exec && !opts.insecureExec) dropped.push('user.exec');
  const kept = {
    server,
    caData: str(cluster['certificate-authority-data']),
    tlsServerName: str(cluster['tls-server-name']),
    skipTLSVerify: skipTLS && Boolean(opts.insecureTLS),
    certData: str(user['client-certificate-data']),
    keyData: str(user['client-key-data']),
    token: str(user.token),
    username: str(user.username),
    password: str(user.password),
    exec: exec && opts.insecureExec ? exec : undefined,
  };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: clusterName, server, caData: kept.caData, tlsServerName: kept.tlsServerName, skipTLSVerify: kept.skipTLSVerify }],
    users: [
      {
        name: 'remote',
        certData: kept.certData,
        keyData: kept.keyData,
        token: kept.token,
        username: kept.username,
        password: kept.password,
        exec: kept.exec,
      },
    ],
    contexts: [{ name: 'remote', cluster: clusterName, user: 'remote' }],
    currentContext: 'remote',
  });
  const fingerprint = createHash('sha256').update(JSON.stringify({ clusterName, ...kept })).digest('hex');
  return { kubeConfig: kc, clusterName, server, fingerprint, dropped };
}

/**
 * The kubeconfig bytes of a Secret's `data` (base64 values) for `ref`, as Flux picks them:
 * `key` when set (no fallback), else `value`, else `value.yaml`.
 */
export function kubeConfigFromSecretData(data: Record<string, string> | undefined, secretId: string, ref: KubeConfigSecretRef, messages: KubeConfigMessages = 'kustomization'): string {
  const d = data ?? {};
  const helm = messages === 'helmrelease';
  let b64: string | undefined;
  if (ref.key) {
    b64 = d[ref.key];
    if (b64 === undefined) throw new KubeConfigRefError(`KubeConfig secret '${secretId}' does not contain a '${ref.key}' key with ${helm ? 'data' : 'a kubeconfig'}`);
  } else {
    b64 = d.value ?? d['value.yaml'];
    if (b64 === undefined) throw new KubeConfigRefError(`KubeConfig secret '${secretId}' does not contain a ${helm ? "'value' or 'value.yaml' key with data" : "'value' key with a kubeconfig"}`);
  }
  return Buffer.from(b64, 'base64').toString('utf8');
}

/**
 * Reads `spec.kubeConfig.secretRef` from the management cluster (namespace `namespace`) and
 * sanitises it. Errors carry Flux's messages (KS: `unable to read KubeConfig secret
 * '<ns>/<name>' error: ...`; HR: `could not get KubeConfig secret '<ns>/<name>': ...`); an API
 * server that does not answer is rethrown as is (transient).
 */
export async function readKubeConfigSecret(
  client: KubeClient,
  namespace: string,
  ref: KubeConfigSecretRef,
  opts: KubeConfigSanitizeOptions = {},
  messages: KubeConfigMessages = 'kustomization',
): Promise<RemoteKubeConfig> {
  const id = `${namespace}/${ref.name}`;
  let secret: { data?: Record<string, string> };
  try {
    secret = await client.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets/${encodeURIComponent(ref.name)}`);
  } catch (err) {
    if (isNotFound(err) || (err as { status?: number }).status === 403) {
      const msg = messages === 'helmrelease' ? `could not get KubeConfig secret '${id}': ${(err as Error).message}` : `unable to read KubeConfig secret '${id}' error: ${(err as Error).message}`;
      throw new KubeConfigRefError(msg, {
        cause: err,
        hint: `create the Secret ${ref.name} in namespace ${namespace} of the management cluster with the target cluster's kubeconfig under 'value'`,
      });
    }
    throw err;
  }
  return sanitizeKubeConfig(kubeConfigFromSecretData(secret.data, id, ref, messages), `KubeConfig secret '${id}'`, opts);
}
