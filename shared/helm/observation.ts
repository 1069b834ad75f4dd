/**
 * helm-controller's view of a stored release (internal/release/observation.go): the
 * Observation (release minus the chart, test hooks filtered out), its digest (sha256 of
 * the Go JSON encoding), and the `status.history` Snapshot built from it.
 */
import { createHash } from 'node:crypto';
import type { GoStruct } from '../util/gojson.js';
import { goJsonEncode, goStruct } from '../util/gojson.js';
import type { ChartMetadata } from './index-file.js';
import type { ReleaseHook, StoredRelease } from './storage.js';
import { valuesDigest } from './values.js';

/** `status.history[]` entry (helm-controller api/v2 Snapshot). Times are metav1 (RFC 3339, seconds, UTC). */
export interface Snapshot {
  apiVersion: 'v2';
  digest: string;
  name: string;
  namespace: string;
  version: number;
  status: string;
  chartName: string;
  chartVersion: string;
  appVersion?: string;
  configDigest: string;
  firstDeployed?: string;
  lastDeployed?: string;
  deleted?: string;
  testHooks?: Record<string, TestHookStatus | null>;
  ociDigest?: string;
  action?: 'install' | 'upgrade' | 'rollback' | 'uninstall' | 'uninstall-remediation';
}

/** A test hook's result in a Snapshot. */
export interface TestHookStatus {
  lastStarted?: string;
  lastCompleted?: string;
  phase?: string;
}

function metadataStruct(md: ChartMetadata): GoStruct {
  return goStruct([
    ['name', md.name, 'omitempty'],
    ['home', md.home, 'omitempty'],
    ['sources', md.sources, 'omitempty'],
    ['version', md.version, 'omitempty'],
    ['description', md.description, 'omitempty'],
    ['keywords', md.keywords, 'omitempty'],
    ['maintainers', md.maintainers?.map((m) => (m ? goStruct([['name', m.name, 'omitempty'], ['email', m.email, 'omitempty'], ['url', m.url, 'omitempty']]) : null)), 'omitempty'],
    ['icon', md.icon, 'omitempty'],
    ['apiVersion', md.apiVersion, 'omitempty'],
    ['condition', md.condition, 'omitempty'],
    ['tags', md.tags, 'omitempty'],
    ['appVersion', md.appVersion, 'omitempty'],
    ['deprecated', md.deprecated, 'omitempty'],
    ['annotations', md.annotations, 'omitempty'],
    ['kubeVersion', md.kubeVersion, 'omitempty'],
    [
      'dependencies',
      md.dependencies?.map((d) =>
        d
          ? goStruct([
              ['name', d.name ?? ''],
              ['version', d.version, 'omitempty'],
              ['repository', d.repository ?? ''],
              ['condition', d.condition, 'omitempty'],
              ['tags', d.tags, 'omitempty'],
              ['enabled', d.enabled, 'omitempty'],
              ['import-values', d['import-values'], 'omitempty'],
              ['alias', d.alias, 'omitempty'],
            ])
          : null,
      ),
      'omitempty',
    ],
    ['type', md.type, 'omitempty'],
  ]);
}

function hookStruct(h: ReleaseHook): GoStruct {
  return goStruct([
    ['name', h.name, 'omitempty'],
    ['kind', h.kind, 'omitempty'],
    ['path', h.path, 'omitempty'],
    ['manifest', h.manifest, 'omitempty'],
    ['events', h.events, 'omitempty'],
    ['last_run', goStruct([['started_at', h.lastRun.startedAt, 'omitzero'], ['completed_at', h.lastRun.completedAt, 'omitzero'], ['phase', h.lastRun.phase]])],
    ['weight', h.weight, 'omitempty'],
    ['delete_policies', h.deletePolicies, 'omitempty'],
    ['output_log_policies', h.outputLogPolicies, 'omitempty'],
  ]);
}

/** True when the hook runs on `helm test`. */
export function isTestHook(h: ReleaseHook): boolean {
  return h.events.includes('test');
}

/**
 * The JSON helm-controller hashes for a release (Observation with the default filter, which
 * drops test hooks so running tests does not change the digest).
 */
export function observationJson(rel: StoredRelease, opts: { ociDigest?: string } = {}): string {
  const info = (rel.raw.info ?? {}) as Record<string, unknown>;
  const hooks = rel.hooks.filter((h) => !isTestHook(h));
  const config = Object.keys(rel.config).length ? rel.config : null;
  const obs = goStruct([
    ['name', rel.name],
    ['version', rel.version],
    [
      'info',
      goStruct([
        ['first_deployed', rel.firstDeployed, 'omitzero'],
        ['last_deployed', rel.lastDeployed, 'omitzero'],
        ['deleted', rel.deleted, 'omitzero'],
        ['description', rel.description, 'omitempty'],
        ['status', typeof info.status === 'string' ? info.status : '', 'omitempty'],
        ['notes', rel.notes, 'omitempty'],
        ['resources', info.resources, 'omitempty'],
      ]),
    ],
    ['chartMetadata', metadataStruct(rel.chart)],
    ['config', config],
    ['manifest', rel.manifest],
    ['hooks', hooks.length ? hooks.map(hookStruct) : null],
    ['namespace', rel.namespace],
    ['ociDigest', opts.ociDigest, 'omitempty'],
  ]);
  return goJsonEncode(obs);
}

/** helm-controller release.Digest of the Observation: `sha256:<hex>`. */
export function observationDigest(rel: StoredRelease, opts: { ociDigest?: string } = {}): string {
  return 'sha256:' + createHash('sha256').update(observationJson(rel, opts)).digest('hex');
}

/** A Go RFC 3339 time as metav1.Time serialises it (UTC, whole seconds); undefined for zero. */
export function metav1Time(t: string | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Date.parse(t);
  if (!Number.isFinite(ms)) return undefined;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** Test hook results of a release by hook name (TestHooksFromRelease), optionally filtered like test.filters. */
export function testHooksOf(rel: StoredRelease, filters: readonly { name: string; exclude?: boolean }[] = []): Record<string, TestHookStatus | null> {
  const out: Record<string, TestHookStatus | null> = {};
  const hasInclude = filters.some((f) => !f.exclude);
  for (const h of rel.hooks.filter(isTestHook)) {
    if (filters.some((f) => f.exclude && f.name === h.name)) continue;
    if (hasInclude && !filters.some((f) => !f.exclude && f.name === h.name)) continue;
    const started = metav1Time(h.lastRun.startedAt);
    const completed = metav1Time(h.lastRun.completedAt);
    out[h.name] = {
      ...(started ? { lastStarted: started } : {}),
      ...(completed ? { lastCompleted: completed } : {}),
      ...(h.lastRun.phase ? { phase: h.lastRun.phase } : {}),
    };
  }
  return out;
}

/** ObservedToSnapshot: the `status.history` entry for a stored release. */
export function snapshotOf(rel: StoredRelease, opts: { action?: Snapshot['action']; ociDigest?: string } = {}): Snapshot {
  return {
    apiVersion: 'v2',
    digest: observationDigest(rel, { ociDigest: opts.ociDigest }),
    name: rel.name,
    namespace: rel.namespace,
    version: rel.version,
    status: rel.status,
    chartName: rel.chart.name,
    chartVersion: rel.chart.version,
    ...(rel.chart.appVersion ? { appVersion: rel.chart.appVersion } : {}),
    configDigest: valuesDigest(rel.config),
    ...(metav1Time(rel.firstDeployed) ? { firstDeployed: metav1Time(rel.firstDeployed) } : {}),
    ...(metav1Time(rel.lastDeployed) ? { lastDeployed: metav1Time(rel.lastDeployed) } : {}),
    ...(metav1Time(rel.deleted) ? { deleted: metav1Time(rel.deleted) } : {}),
    ...(opts.ociDigest ? { ociDigest: opts.ociDigest } : {}),
    ...(opts.action ? { action: opts.action } : {}),
  };
}
