/**
 * Target clusters: where an applier (Kustomization, HelmRelease) applies, prunes, health-
 * checks and detects drift, while its status stays in Fluxless's store. Flux's
 * `runtime/client.Impersonator.GetClient`, for a worker that runs outside every cluster:
 *  - no `kubeConfig` and no ServiceAccount to impersonate: the management cluster's shared
 *    client and discovery, as they are (no request, no allocation beyond the result);
 *  - `kubeConfig.secretRef`: the Secret is read from the management cluster on every
 *    resolve (rotation is picked up) and sanitised (remote-kubeconfig.ts);
 *  - `kubeConfig.configMapRef` with `provider: aws`: an EKS cluster, tokens made in-process
 *    and refreshed before they expire (eks.ts);
 *  - a ServiceAccount (`serviceAccountName`, else `defaultServiceAccount`): every request as
 *    `system:serviceaccount:<object namespace>:<name>`, on the target cluster.
 *
 * Remote clients and their discovery (RestMapper) are cached per cluster identity (the
 * sha256 of the sanitised kubeconfig; for EKS the ARN, address and CA) and shared by every
 * reconcile that targets the same cluster; an entry nobody holds is closed after
 * `remoteIdleMs` (default 5 min). Requests to a remote cluster time out after 30 s (Flux),
 * and an unreachable remote is reported as ClusterUnreachableError naming the cluster.
 */
import { createHash } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import type { ReconcileServices } from '../reconcile/contract.js';
import { FluxlessError } from '../util/errors.js';
import { log } from '../util/log.js';
import { createKubeClient, type KubeClient, type RequestOptions } from './client.js';
import { describeEksCluster, EksTokenSource, readKubeConfigConfigMap, type EksConfig } from './eks.js';
import { impersonatingClient, serviceAccountUser } from './impersonate.js';
import { RestMapper } from './mapper.js';
import { readKubeConfigSecret, type KubeConfigMessages, type KubeConfigSecretRef } from './remote-kubeconfig.js';
import { effectiveServiceAccount, sanitizeOptionsOf, tenancyOf } from './tenancy.js';
import { trimEnd } from '../util/trim.js';

/** `spec.kubeConfig` (meta.KubeConfigReference): exactly one of the two. */
export interface KubeConfigRef {
  secretRef?: KubeConfigSecretRef;
  configMapRef?: { name: string };
}

/** What an object says about where it applies. */
export interface TargetSpec {
  /** The object's namespace: where its references live, and the ServiceAccount's namespace. */
  namespace: string;
  kubeConfig?: KubeConfigRef;
  serviceAccountName?: string;
  /**
   * Whether the configured default ServiceAccount applies when `serviceAccountName` is unset
   * (default true). Fluxless's bootstrap root Kustomization is the platform admin's and runs
   * as Fluxless's own identity, as flux-system runs as kustomize-controller in Flux's
   * multi-tenancy setup.
   */
  useDefaultServiceAccount?: boolean;
  /** Flux's messages of which controller (default kustomization; helmrelease words some differently). */
  messages?: KubeConfigMessages;
}

/** The name Fluxless shows for the management cluster. */
export const MANAGEMENT_CLUSTER = 'in-cluster';

/** A cluster as `fluxless get` shows it and status records it. */
export interface ClusterIdentity {
  /** `in-cluster`, the kubeconfig's cluster name, or the EKS cluster name. */
  name: string;
  /** The API server URL. */
  server: string;
}

/** A resolved target: the client and discovery to use for one reconcile, and who it acts as. */
export interface Target {
  cluster: ClusterIdentity;
  /** True for a cluster named by `kubeConfig`. */
  remote: boolean;
  /** Every request of the reconcile goes through this client (impersonating when `impersonate` is set). */
  client: KubeClient;
  /** Discovery of the target cluster (shared per cluster). */
  mapper: RestMapper;
  /** The impersonated user (`system:serviceaccount:<ns>:<name>`), when any. */
  impersonate?: string;
  /**
   * A kubeconfig for a tool (helm) with a remote target's credentials (an EKS token valid for
   * at least 2 more minutes), without impersonation: tools pass `--kube-as-user`. The same
   * object is returned while the credentials are unchanged. Undefined for the management
   * cluster: the tool uses the runtime's own kubeconfig.
   */
  toolKubeConfig(): Promise<KubeConfig | undefined>;
  /** Releases the target (an unused remote cluster client closes after the idle time). */
  release(): void;
}

/** A remote cluster did not answer: names the cluster (the code stays transient-looking for the apply engine). */
export class ClusterUnreachableError extends FluxlessError {
  readonly cluster: ClusterIdentity;
  constructor(cluster: ClusterIdentity, cause: FluxlessError) {
    super(cause.code, `cluster '${cluster.name}' (${cluster.server}) is unreachable: ${stripServer(cause.message, cluster.server)}`, {
      cause,
      hint: 'check that the cluster is up and reachable from Fluxless, and that its kubeconfig is current; the reconcile is retried',
    });
    this.cluster = cluster;
  }
}

function stripServer(msg: string, server: string): string {
  return msg.replace(`cannot reach the Kubernetes API at ${server}: `, '');
}

/** The first ClusterUnreachableError in an error's cause chain. */
export function unreachableCluster(err: unknown): ClusterUnreachableError | undefined {
  for (let e: unknown = err, i = 0; e && i < 8; e = (e as { cause?: unknown }).cause, i++) if (e instanceof ClusterUnreachableError) return e;
  return undefined;
}

/** One cached remote cluster: its client, discovery and tool kubeconfig. */
export interface TargetEntry {
  key: string;
  cluster: ClusterIdentity;
  client: KubeClient;
  mapper: RestMapper;
  refs: number;
  timer?: NodeJS.Timeout;
  kubeConfig: () => Promise<KubeConfig>;
}

const DEFAULT_IDLE_MS = 5 * 60_000;
const REMOTE_TIMEOUT_MS = 30_000;

/** Wraps a remote client so that unavailability errors name the cluster. */
function namingErrors(base: KubeClient, cluster: ClusterIdentity): KubeClient {
  return {
    server: base.server,
    request: <T>(method: string, path: string, opts?: RequestOptions) =>
      base.request<T>(method, path, opts).catch((err: unknown): never => {
        if (err instanceof FluxlessError && (err.code === 'Unreachable' || err.code === 'Timeout')) throw new ClusterUnreachableError(cluster, err);
        throw err;
      }),
    get requestCount() {
      return base.requestCount;
    },
    close: () => base.close(),
  };
}

/** The remote cluster clients of one management client (one per process), cached per cluster. */
export class TargetClusters {
  private readonly entries = new Map<string, TargetEntry>();
  private readonly creating = new Map<string, Promise<TargetEntry>>();
  private closed = false;

  constructor(private readonly idleMs: number = DEFAULT_IDLE_MS) {}

  /** How many remote clusters have an open client (tests, metrics). */
  get size(): number {
    return this.entries.size;
  }

  private acquire(e: TargetEntry): TargetEntry {
    e.refs++;
    if (e.timer) {
      clearTimeout(e.timer);
      e.timer = undefined;
    }
    return e;
  }

  private releaseEntry(e: TargetEntry): void {
    e.refs = Math.max(0, e.refs - 1);
    if (e.refs > 0 || this.closed) return;
    e.timer = setTimeout(() => this.evict(e), this.idleMs);
    e.timer.unref();
  }

  private evict(e: TargetEntry): void {
    if (e.refs > 0) return;
    if (this.entries.get(e.key) === e) this.entries.delete(e.key);
    e.client.close();
    log.debug('remote cluster client closed (unused)', { cluster: e.cluster.name, server: e.cluster.server });
  }

  /** The entry for `key`, created once by `make` (concurrent resolves share the creation). */
  async entry(key: string, make: () => Promise<Omit<TargetEntry, 'key' | 'refs'>>): Promise<TargetEntry> {
    const hit = this.entries.get(key);
    if (hit) return this.acquire(hit);
    let p = this.creating.get(key);
    if (!p) {
      p = make().then((e) => {
        const entry: TargetEntry = { ...e, key, refs: 0 };
        this.entries.set(key, entry);
        return entry;
      });
      this.creating.set(key, p);
      void p.finally(() => this.creating.delete(key)).catch(() => undefined);
    }
    return this.acquire(await p);
  }

  /** Releases an entry acquired with `entry`. */
  release(e: TargetEntry): void {
    this.releaseEntry(e);
  }

  /** Closes every client (the runtime is stopping). */
  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) {
      if (e.timer) clearTimeout(e.timer);
      e.client.close();
    }
    this.entries.clear();
  }
}

const registries = new WeakMap<KubeClient, TargetClusters>();

/** The target cluster registry of a management client (created on first use). */
export function targetClustersOf(management: KubeClient, idleMs?: number): TargetClusters {
  let r = registries.get(management);
  if (!r) {
    r = new TargetClusters(idleMs);
    registries.set(management, r);
  }
  return r;
}

/** Closes the remote clients resolved through `management` (call when the runtime stops). */
export function closeTargetClusters(management: KubeClient): void {
  registries.get(management)?.close();
  registries.delete(management);
}

function fingerprint(...parts: Array<string | undefined>): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}

function staticKubeConfig(kc: KubeConfig): () => Promise<KubeConfig> {
  return () => Promise.resolve(kc);
}

async function eksEntry(cfg: EksConfig, svc: Pick<ReconcileServices, 'settings'>): Promise<Omit<TargetEntry, 'key' | 'refs'>> {
  const opts = tenancyOf(svc.settings).eks ?? {};
  let address = cfg.address;
  let caPem = cfg.caPem;
  if (!address || !caPem) {
    const creds = opts.credentials ?? (await import('@aws-sdk/credential-provider-node')).defaultProvider();
    const d = await describeEksCluster(cfg.cluster, creds, opts);
    address ??= d.endpoint;
    caPem ??= d.caPem;
  }
  const server = trimEnd(address, '/');
  const cluster: ClusterIdentity = { name: cfg.cluster.name, server };
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: cfg.cluster.name, server, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
    users: [{ name: 'eks' }],
    contexts: [{ name: 'eks', cluster: cfg.cluster.name, user: 'eks' }],
    currentContext: 'eks',
  });
  const tokens = new EksTokenSource(cfg.cluster, opts);
  const client = namingErrors(createKubeClient(kc, { bearerToken: () => tokens.token(), timeoutMs: REMOTE_TIMEOUT_MS }), cluster);
  // Tools get a kubeconfig holding a token; a new object only when the token changed.
  let tool: { token: string; kc: KubeConfig } | undefined;
  // Tokens are replaced 2 minutes before they expire; a helm run longer than that re-asks.
  const kubeConfig = async () => {
    const token = await tokens.token();
    if (tool?.token !== token) {
      const k = new KubeConfig();
      k.loadFromOptions({
        clusters: [{ name: cfg.cluster.name, server, caData: Buffer.from(caPem).toString('base64'), skipTLSVerify: false }],
        users: [{ name: 'eks', token }],
        contexts: [{ name: 'eks', cluster: cfg.cluster.name, user: 'eks' }],
        currentContext: 'eks',
      });
      tool = { token, kc: k };
    }
    return tool.kc;
  };
  return { cluster, client, mapper: new RestMapper(client, { maxAgeMs: 60_000 }), kubeConfig };
}

/**
 * Resolves where an object applies (see the module comment). Throws KubeConfigRefError (a
 * ValidationError) with Flux's message when a referenced Secret or ConfigMap is missing or
 * unusable; an unreachable management cluster is rethrown as is (transient).
 */
export async function resolveTarget(svc: Pick<ReconcileServices, 'client' | 'mapper' | 'settings'>, spec: TargetSpec): Promise<Target> {
  const sa = accountOf(svc.settings, spec);
  const impersonate = sa ? serviceAccountUser(spec.namespace, sa) : undefined;
  if (!spec.kubeConfig) {
    const client = impersonate ? impersonatingClient(svc.client, { user: impersonate }) : svc.client;
    return {
      cluster: { name: MANAGEMENT_CLUSTER, server: svc.client.server },
      remote: false,
      client,
      mapper: svc.mapper,
      impersonate,
      toolKubeConfig: () => Promise.resolve(undefined),
      release: () => undefined,
    };
  }
  const registry = targetClustersOf(svc.client, tenancyOf(svc.settings).remoteIdleMs);
  let entry: TargetEntry;
  if (spec.kubeConfig.secretRef) {
    const remote = await readKubeConfigSecret(svc.client, spec.namespace, spec.kubeConfig.secretRef, sanitizeOptionsOf(svc.settings), spec.messages);
    if (remote.dropped.length) log.debug('kubeconfig fields dropped', { secret: `${spec.namespace}/${spec.kubeConfig.secretRef.name}`, dropped: remote.dropped });
    entry = await registry.entry(`kc:${remote.fingerprint}`, async () => {
      const cluster: ClusterIdentity = { name: remote.clusterName, server: remote.server };
      const client = namingErrors(createKubeClient(remote.kubeConfig, { timeoutMs: REMOTE_TIMEOUT_MS }), cluster);
      return { cluster, client, mapper: new RestMapper(client, { maxAgeMs: 60_000 }), kubeConfig: staticKubeConfig(remote.kubeConfig) };
    });
  } else {
    const cfg = await readKubeConfigConfigMap(svc.client, spec.namespace, spec.kubeConfig.configMapRef!.name);
    entry = await registry.entry(`eks:${fingerprint(cfg.cluster.arn, cfg.address, cfg.caPem)}`, () => eksEntry(cfg, svc));
  }
  let released = false;
  return {
    cluster: entry.cluster,
    remote: true,
    client: impersonate ? impersonatingClient(entry.client, { user: impersonate }) : entry.client,
    mapper: entry.mapper,
    impersonate,
    toolKubeConfig: () => entry.kubeConfig(),
    release: () => {
      if (released) return;
      released = true;
      registry.release(entry);
    },
  };
}

/** The ServiceAccount impersonated for `spec`, when any: `{namespace, name}` (for Flux's deletion check). */
export function impersonatedAccount(svc: Pick<ReconcileServices, 'settings'>, spec: TargetSpec): { namespace: string; name: string } | undefined {
  const sa = accountOf(svc.settings, spec);
  return sa ? { namespace: spec.namespace, name: sa } : undefined;
}

function accountOf(settings: ReconcileServices['settings'], spec: TargetSpec): string | undefined {
  return spec.useDefaultServiceAccount === false ? spec.serviceAccountName || undefined : effectiveServiceAccount(settings, spec.serviceAccountName);
}
