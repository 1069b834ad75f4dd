/**
 * Helm's release storage (Secret driver), read directly: Secrets
 * `sh.helm.release.v1.<name>.v<N>` of type `helm.sh/release.v1`, labels
 * `owner=helm,name,status,version`, key `release` = base64(gzip(JSON)) inside the Secret's
 * own base64. Decoding needs no helm process, so status, history and drift checks are cheap.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import type { KubeClient } from '../kube/client.js';
import { isNotFound } from '../kube/client.js';
import { ReleaseDecodeError } from './errors.js';
import type { ChartMetadata } from './index-file.js';
import type { Values } from './values.js';

/** Helm release statuses (helm.sh/helm/v4/pkg/release/common). */
export type ReleaseStatus =
  | 'unknown'
  | 'deployed'
  | 'uninstalled'
  | 'superseded'
  | 'failed'
  | 'uninstalling'
  | 'pending-install'
  | 'pending-upgrade'
  | 'pending-rollback';

/** A hook's last execution. Times are Go RFC 3339 strings, undefined when zero. */
export interface HookExecution {
  startedAt?: string;
  completedAt?: string;
  /** `Unknown` | `Running` | `Succeeded` | `Failed` (or '' when never run). */
  phase: string;
}

/** A release hook (helm release.Hook). */
export interface ReleaseHook {
  name: string;
  kind: string;
  path: string;
  manifest: string;
  events: string[];
  lastRun: HookExecution;
  weight: number;
  deletePolicies: string[];
  outputLogPolicies: string[];
}

/** A decoded release revision. */
export interface StoredRelease {
  name: string;
  namespace: string;
  version: number;
  status: ReleaseStatus;
  description: string;
  notes?: string;
  /** Go RFC 3339 (nanoseconds) strings as stored; undefined when zero. */
  firstDeployed?: string;
  lastDeployed?: string;
  deleted?: string;
  /** Chart.yaml of the released chart. */
  chart: ChartMetadata & { name: string; version: string };
  /** The user-supplied values (what `helm get values` prints). */
  config: Values;
  /** The rendered manifest (post-rendered), without hooks. */
  manifest: string;
  hooks: ReleaseHook[];
  /** `ssa` or `csa` (Helm 4); undefined for releases made before Helm 4. */
  applyMethod?: string;
  /** Custom release labels (the Secret's labels minus Helm's own). */
  labels: Record<string, string>;
  /** The storage Secret's name. */
  secretName: string;
  /** The release JSON as stored (chart templates included), for digests. */
  raw: Record<string, unknown>;
}

/** What the Secret's labels say about a revision, without decoding it. */
export interface ReleaseHeader {
  name: string;
  version: number;
  status: ReleaseStatus;
  secretName: string;
  /** Helm 4 `modifiedAt` label (unix seconds), when present. */
  modifiedAt?: number;
}

/** The storage Secret name of a revision. */
export function releaseSecretName(name: string, version: number): string {
  return `sh.helm.release.v1.${name}.v${version}`;
}

const SYSTEM_LABELS = new Set(['name', 'owner', 'status', 'version', 'createdAt', 'modifiedAt']);
const GZIP_MAGIC = [0x1f, 0x8b, 0x08];

/** Decodes the `release` value (base64 of gzip of JSON; older releases are not gzipped) into the release JSON. */
export function decodeReleasePayload(payload: string | Buffer): Record<string, unknown> {
  const b64 = typeof payload === 'string' ? payload : payload.toString('latin1');
  let bytes = Buffer.from(b64, 'base64');
  if (bytes.length === 0) throw new ReleaseDecodeError('the release payload is empty');
  if (bytes.length > 3 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1] && bytes[2] === GZIP_MAGIC[2]) {
    try {
      bytes = gunzipSync(bytes, { maxOutputLength: 256 << 20 });
    } catch (err) {
      throw new ReleaseDecodeError(`the release payload is not valid gzip: ${(err as Error).message}`, { cause: err });
    }
  }
  try {
    const v = JSON.parse(bytes.toString('utf8')) as unknown;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ReleaseDecodeError(`the release payload is not a release JSON: ${(err as Error).message}`, { cause: err });
  }
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
function optTime(v: unknown): string | undefined {
  return typeof v === 'string' && v && !v.startsWith('0001-01-01') ? v : undefined;
}

function hookOf(h: Record<string, unknown>): ReleaseHook {
  const lr = (h.last_run ?? {}) as Record<string, unknown>;
  return {
    name: str(h.name),
    kind: str(h.kind),
    path: str(h.path),
    manifest: str(h.manifest),
    events: Array.isArray(h.events) ? (h.events as string[]) : [],
    lastRun: { ...(optTime(lr.started_at) ? { startedAt: optTime(lr.started_at) } : {}), ...(optTime(lr.completed_at) ? { completedAt: optTime(lr.completed_at) } : {}), phase: str(lr.phase) },
    weight: typeof h.weight === 'number' ? h.weight : 0,
    deletePolicies: Array.isArray(h.delete_policies) ? (h.delete_policies as string[]) : [],
    outputLogPolicies: Array.isArray(h.output_log_policies) ? (h.output_log_policies as string[]) : [],
  };
}

/** Turns a release JSON (from storage or `helm ... -o json`) into a StoredRelease. */
export function releaseFromJson(raw: Record<string, unknown>, extra: { labels?: Record<string, string>; secretName?: string } = {}): StoredRelease {
  const info = (raw.info ?? {}) as Record<string, unknown>;
  const chart = (raw.chart ?? {}) as Record<string, unknown>;
  const md = (chart.metadata ?? {}) as ChartMetadata;
  const name = str(raw.name);
  const version = typeof raw.version === 'number' ? raw.version : 0;
  return {
    name,
    namespace: str(raw.namespace),
    version,
    status: (str(info.status) || 'unknown') as ReleaseStatus,
    description: str(info.description),
    ...(str(info.notes) ? { notes: str(info.notes) } : {}),
    ...(optTime(info.first_deployed) ? { firstDeployed: optTime(info.first_deployed) } : {}),
    ...(optTime(info.last_deployed) ? { lastDeployed: optTime(info.last_deployed) } : {}),
    ...(optTime(info.deleted) ? { deleted: optTime(info.deleted) } : {}),
    chart: { ...md, name: md.name ?? '', version: md.version ?? '' },
    config: (raw.config && typeof raw.config === 'object' ? raw.config : {}) as Values,
    manifest: str(raw.manifest),
    hooks: Array.isArray(raw.hooks) ? (raw.hooks as Record<string, unknown>[]).filter(Boolean).map(hookOf) : [],
    ...(str(raw.apply_method) ? { applyMethod: str(raw.apply_method) } : {}),
    labels: extra.labels ?? {},
    secretName: extra.secretName ?? releaseSecretName(name, version),
    raw,
  };
}

/** A storage Secret as the API returns it (the fields the decoder reads). */
export interface ReleaseSecret {
  metadata?: { name?: string; namespace?: string; labels?: Record<string, string> };
  type?: string;
  data?: Record<string, string>;
}

/** Decodes one storage Secret (as the API returns it: `data.release` base64-encoded). */
export function decodeReleaseSecret(secret: ReleaseSecret): StoredRelease {
  const name = secret.metadata?.name ?? '<unnamed>';
  if (secret.type !== undefined && secret.type !== 'helm.sh/release.v1') {
    throw new ReleaseDecodeError(`Secret ${name} has type ${secret.type}, not helm.sh/release.v1`);
  }
  const field = secret.data?.release;
  if (!field) throw new ReleaseDecodeError(`Secret ${name} has no 'release' key`);
  let raw: Record<string, unknown>;
  try {
    raw = decodeReleasePayload(Buffer.from(field, 'base64'));
  } catch (err) {
    throw new ReleaseDecodeError(`Secret ${secret.metadata?.namespace ?? ''}/${name}: ${(err as Error).message}`, { cause: err });
  }
  const labels: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.metadata?.labels ?? {})) if (!SYSTEM_LABELS.has(k)) labels[k] = v;
  return releaseFromJson(raw, { labels, secretName: name });
}

function secretsPath(namespace: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
}

function headerOf(s: ReleaseSecret): ReleaseHeader | undefined {
  const l = s.metadata?.labels ?? {};
  const version = Number(l.version);
  if (!l.name || !Number.isInteger(version)) return undefined;
  return {
    name: l.name,
    version,
    status: (l.status || 'unknown') as ReleaseStatus,
    secretName: s.metadata?.name ?? releaseSecretName(l.name, version),
    ...(l.modifiedAt && Number.isFinite(Number(l.modifiedAt)) ? { modifiedAt: Number(l.modifiedAt) } : {}),
  };
}

/**
 * Revisions of release `name` in `namespace` from the Secret labels only (no decoding),
 * oldest first. Without `name`, every Helm release in the namespace.
 */
export async function listReleaseHeaders(client: KubeClient, namespace: string, name?: string, signal?: AbortSignal): Promise<ReleaseHeader[]> {
  const selector = name ? `owner=helm,name=${name}` : 'owner=helm';
  const list = await client.request<{ items?: ReleaseSecret[] }>('GET', secretsPath(namespace), {
    query: { labelSelector: selector },
    signal,
  });
  return (list.items ?? [])
    .filter((s) => s.type === undefined || s.type === 'helm.sh/release.v1')
    .map(headerOf)
    .filter((h): h is ReleaseHeader => h !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
}

/** Every revision of release `name`, decoded, oldest first (like `helm history`). */
export async function readReleaseHistory(client: KubeClient, namespace: string, name: string, signal?: AbortSignal): Promise<StoredRelease[]> {
  const list = await client.request<{ items?: ReleaseSecret[] }>('GET', secretsPath(namespace), {
    query: { labelSelector: `owner=helm,name=${name}` },
    signal,
  });
  return (list.items ?? [])
    .filter((s) => s.type === undefined || s.type === 'helm.sh/release.v1')
    .map(decodeReleaseSecret)
    .filter((r) => r.name === name)
    .sort((a, b) => a.version - b.version);
}

/** One revision of a release; undefined when it does not exist. */
export async function readRelease(client: KubeClient, namespace: string, name: string, version: number, signal?: AbortSignal): Promise<StoredRelease | undefined> {
  try {
    const s = await client.request<ReleaseSecret>('GET', `${secretsPath(namespace)}/${encodeURIComponent(releaseSecretName(name, version))}`, { signal });
    return decodeReleaseSecret(s);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

/** The newest revision of a release (any status, as Helm's storage.Last); undefined when there is none. */
export async function readLatestRelease(client: KubeClient, namespace: string, name: string, signal?: AbortSignal): Promise<StoredRelease | undefined> {
  const headers = await listReleaseHeaders(client, namespace, name, signal);
  const last = headers.filter((h) => h.name === name).at(-1);
  if (!last) return undefined;
  return readRelease(client, namespace, name, last.version, signal);
}

/** All revisions of one release, read with one LIST and decoded on demand. */
export class ReleaseSet {
  private readonly decoded = new Map<number, StoredRelease>();
  private constructor(
    /** Revisions from the Secret labels, oldest first. */
    readonly headers: ReleaseHeader[],
    private readonly secrets: Map<number, ReleaseSecret>,
  ) {}

  /** Builds a set from the Secrets of one release (as a LIST returns them). */
  static of(name: string, items: readonly ReleaseSecret[]): ReleaseSet {
    const secrets = new Map<number, ReleaseSecret>();
    const headers: ReleaseHeader[] = [];
    for (const s of items) {
      if (s.type !== undefined && s.type !== 'helm.sh/release.v1') continue;
      const h = headerOf(s);
      if (!h || h.name !== name) continue;
      headers.push(h);
      secrets.set(h.version, s);
    }
    headers.sort((a, b) => a.version - b.version);
    return new ReleaseSet(headers, secrets);
  }

  /** The newest revision number, 0 when there is none. */
  get latestVersion(): number {
    return this.headers.at(-1)?.version ?? 0;
  }

  /** One revision, decoded (undefined when it does not exist). Throws ReleaseDecodeError. */
  get(version: number): StoredRelease | undefined {
    const hit = this.decoded.get(version);
    if (hit) return hit;
    const s = this.secrets.get(version);
    if (!s) return undefined;
    const rel = decodeReleaseSecret(s);
    this.decoded.set(version, rel);
    return rel;
  }

  /** The newest revision (any status, as Helm's storage.Last), decoded. */
  latest(): StoredRelease | undefined {
    const v = this.latestVersion;
    return v ? this.get(v) : undefined;
  }

  /** Every revision decoded, oldest first. */
  all(): StoredRelease[] {
    return this.headers.map((h) => this.get(h.version)!).filter(Boolean);
  }
}

/** Every revision of release `name` in `namespace`, from one LIST (payloads decoded on demand). */
export async function listReleases(client: KubeClient, namespace: string, name: string, signal?: AbortSignal): Promise<ReleaseSet> {
  const list = await client.request<{ items?: ReleaseSecret[] }>('GET', secretsPath(namespace), {
    query: { labelSelector: `owner=helm,name=${name}` },
    signal,
  });
  return ReleaseSet.of(name, list.items ?? []);
}

/**
 * Every revision of release `name`, read right after a helm action wrote `versions` (the
 * revision it created and the one it superseded, updated or tested). The resourceVersion
 * of the newest of those Secrets (one GET each, by key) is a point the API server's watch
 * cache is sure to reach, so the LIST is asked `NotOlderThan` it and served from the cache
 * instead of reading every Secret of the namespace from etcd (what a label-selector LIST
 * costs before Kubernetes 1.31). The result holds every write up to and including the
 * action's last, as a plain LIST made then would. Helm's last write of an install, upgrade,
 * rollback or test is to one of those two revisions; an uninstall that deleted them, a
 * server without numeric resourceVersions, or any error of the cached read falls back to
 * `listReleases`.
 */
export async function listReleasesAfterWrite(
  client: KubeClient,
  namespace: string,
  name: string,
  versions: readonly number[],
  signal?: AbortSignal,
): Promise<ReleaseSet> {
  const wanted = [...new Set(versions.filter((v) => Number.isInteger(v) && v > 0))];
  const rvs = await Promise.all(
    wanted.map(async (v) => {
      try {
        const s = await client.request<ReleaseSecret & { metadata?: { resourceVersion?: string } }>(
          'GET',
          `${secretsPath(namespace)}/${encodeURIComponent(releaseSecretName(name, v))}`,
          { signal },
        );
        return s.metadata?.resourceVersion;
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
    }),
  );
  let newest: bigint | undefined;
  for (const rv of rvs) {
    if (rv === undefined) continue;
    if (!/^[0-9]{1,30}$/.test(rv)) return listReleases(client, namespace, name, signal);
    const n = BigInt(rv);
    if (newest === undefined || n > newest) newest = n;
  }
  if (newest === undefined) return listReleases(client, namespace, name, signal);
  try {
    const list = await client.request<{ items?: ReleaseSecret[] }>('GET', secretsPath(namespace), {
      query: { labelSelector: `owner=helm,name=${name}`, resourceVersion: newest.toString(), resourceVersionMatch: 'NotOlderThan' },
      signal,
    });
    return ReleaseSet.of(name, list.items ?? []);
  } catch (err) {
    if (signal?.aborted) throw err;
    return listReleases(client, namespace, name, signal);
  }
}

/** Helm's `release` payload for a release JSON: base64 of gzip of the JSON. */
export function encodeReleasePayload(raw: Record<string, unknown>): string {
  return gzipSync(Buffer.from(JSON.stringify(raw))).toString('base64');
}

/**
 * Marks a stored revision failed, as helm-controller's unlock (and a failed wait) does:
 * `info.status` and `info.description` in the payload and the `status` label, written
 * with the Secret's resourceVersion (a concurrent writer makes it fail). Returns the
 * revision as stored afterwards.
 */
export async function markReleaseFailed(client: KubeClient, rel: StoredRelease, description: string, signal?: AbortSignal): Promise<StoredRelease> {
  const p = `${secretsPath(rel.namespace)}/${encodeURIComponent(rel.secretName)}`;
  const cur = await client.request<ReleaseSecret & { metadata?: { resourceVersion?: string } }>('GET', p, { signal });
  const raw = structuredClone(decodeReleaseSecret(cur).raw);
  const info = ((raw.info as Record<string, unknown> | undefined) ?? {}) as Record<string, unknown>;
  info.status = 'failed';
  info.description = description;
  raw.info = info;
  const payload = Buffer.from(encodeReleasePayload(raw)).toString('base64');
  const updated = await client.request<ReleaseSecret>('PATCH', p, {
    body: {
      metadata: { resourceVersion: cur.metadata?.resourceVersion, labels: { status: 'failed', modifiedAt: String(Math.floor(Date.now() / 1000)) } },
      data: { release: payload },
    },
    contentType: 'application/merge-patch+json',
    signal,
  });
  return decodeReleaseSecret(updated);
}
