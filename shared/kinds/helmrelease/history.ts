/**
 * `status.history` (helm-controller api/v2 Snapshots): the latest and previous releases,
 * truncation after a remediation or a release in sync, and the test bookkeeping of a
 * snapshot (HasBeenTested, HasTestInPhase), as helm-controller reads them.
 */
import type { Snapshot } from '../../helm/observation.js';

/** helm-controller's default number of snapshots kept. */
export const DEFAULT_MAX_HISTORY = 5;

/** Snapshots sorted newest first (in place, as SortByVersion). */
export function sortByVersion(h: Snapshot[]): Snapshot[] {
  return h.sort((a, b) => b.version - a.version);
}

/** The newest snapshot, if any. */
export function latest(h: Snapshot[]): Snapshot | undefined {
  if (!h.length) return undefined;
  return sortByVersion(h)[0];
}

/** The newest older snapshot that is deployed or superseded (and, unless ignored, without a failed test). */
export function previous(h: Snapshot[], ignoreTests: boolean): Snapshot | undefined {
  if (h.length < 2) return undefined;
  sortByVersion(h);
  return h.slice(1).find((s) => (s.status === 'deployed' || s.status === 'superseded') && (ignoreTests || !hasTestInPhase(s, 'Failed')));
}

/** Drops everything older than the previous successful release (else keeps the newest 5). */
export function truncate(h: Snapshot[], ignoreTests: boolean): Snapshot[] {
  if (h.length < 2) return h;
  sortByVersion(h);
  for (let i = 1; i < h.length; i++) {
    const s = h[i];
    if ((s.status === 'deployed' || s.status === 'superseded') && (ignoreTests || !hasTestInPhase(s, 'Failed'))) return h.slice(0, i + 1);
  }
  return h.length > DEFAULT_MAX_HISTORY ? h.slice(0, DEFAULT_MAX_HISTORY) : h;
}

/** Keeps the newest 5 snapshots, whatever their status. */
export function truncateIgnoringPrevious(h: Snapshot[]): Snapshot[] {
  sortByVersion(h);
  return h.length > DEFAULT_MAX_HISTORY ? h.slice(0, DEFAULT_MAX_HISTORY) : h;
}

/** HasBeenTested: test results recorded, and either one failed or all succeeded. */
export function hasBeenTested(s: Snapshot | undefined): boolean {
  if (!s || s.testHooks === undefined) return false;
  const hooks = Object.values(s.testHooks);
  if (hooks.length === 0) return true;
  if (hooks.some((h) => h?.phase === 'Failed')) return true;
  return hooks.every((h) => h?.phase === 'Succeeded');
}

/** True when one of the snapshot's test hooks is in `phase`. */
export function hasTestInPhase(s: Snapshot | undefined, phase: string): boolean {
  return Object.values(s?.testHooks ?? {}).some((h) => h?.phase === phase);
}

/** True when the snapshot is release `name` in `namespace` at `version`. */
export function targets(s: Snapshot | undefined, name: string, namespace: string, version: number): boolean {
  return Boolean(s && s.name === name && s.namespace === namespace && s.version === version);
}

/** `<namespace>/<name>.v<version>`. */
export function fullReleaseName(s: Pick<Snapshot, 'namespace' | 'name' | 'version'> | undefined): string {
  return s ? `${s.namespace}/${s.name}.v${s.version}` : '';
}

/** `<chartName>@<chartVersion>`. */
export function versionedChartName(s: Pick<Snapshot, 'chartName' | 'chartVersion'> | undefined): string {
  return s ? `${s.chartName}@${s.chartVersion}` : '';
}
