/**
 * An ImageRepository scan, as image-reflector-controller's: list every tag over the registry
 * v2 API (`/v2/<name>/tags/list`, following `Link` pages), drop the tags matching any
 * exclusion regex, store the rest sorted (descending) with their checksum, and say what
 * `status.lastScanResult` records. `shouldScan` is Flux's decision whether to scan now.
 */
import type { ObjectKey } from '../../kube/object.js';
import type { RegistryClient } from '../../oci/client.js';
import { GoRegexp } from '../../util/go-regexp.js';
import type { StateStore } from '../../state/store.js';
import { FluxlessError, errorMessage } from '../../util/errors.js';
import { LATEST_TAGS_COUNT, readTags, writeTags, type StoredTags } from '../../images/tags.js';
import type { ImageRepositorySpec } from './spec.js';

/** `status.lastScanResult`, as Flux writes it. */
export interface ScanResult {
  revision: string;
  tagCount: number;
  scanTime: string;
  latestTags?: string[];
}

/** A scan that failed (Flux: Ready=False ReadOperationFailed, `scan failed: ...`). */
export class ScanError extends FluxlessError {
  constructor(message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('ReadOperationFailed', `scan failed: ${message}`, opts);
  }
}

/** The status fields the scan decision reads. */
export interface ScanState {
  lastScanResult?: ScanResult;
  canonicalImageName?: string;
  observedExclusionList?: string[];
  lastHandledReconcileAt?: string;
}

/** Why a scan runs now, or how long until the next one. */
export type ScanDecision = { scan: true; reason: string } | { scan: false; waitMs: number };

function sameContent(a: readonly string[], b: readonly string[] | undefined): boolean {
  if (!b || a.length !== b.length) return false;
  return a.every((x) => b.includes(x));
}

/** Flux's shouldScan. `requestedAt` is the reconcile request being handled. */
export async function shouldScan(state: StateStore, key: ObjectKey, spec: ImageRepositorySpec, status: ScanState, requestedAt: string | undefined, now: Date): Promise<ScanDecision> {
  const last = status.lastScanResult;
  if (!last) return { scan: true, reason: 'first scan' };
  if (requestedAt && requestedAt !== status.lastHandledReconcileAt) return { scan: true, reason: 'reconcile requested' };
  if (spec.canonicalImageName !== status.canonicalImageName) return { scan: true, reason: 'new image name' };
  if (!sameContent(spec.exclusionList, status.observedExclusionList)) return { scan: true, reason: 'updated exclusion list' };
  const stored = await readTags(state, key);
  if (!stored || stored.canonicalImageName !== spec.canonicalImageName || stored.tags.length === 0) return { scan: true, reason: 'no tags in database' };
  const when = spec.intervalMs - (now.getTime() - Date.parse(last.scanTime));
  if (when < 1000) return { scan: true, reason: 'triggered by interval' };
  return { scan: false, waitMs: when };
}

/** Compiles the exclusion list (Flux: `failed to compile regex <re>: ...`). */
export function compileExclusions(list: readonly string[]): GoRegexp[] {
  return list.map((p) => {
    try {
      return GoRegexp.compile(p);
    } catch (err) {
      throw new ScanError(`failed to compile regex ${p}: ${errorMessage(err)}`, { cause: err, hint: 'fix spec.exclusionList (Go regular expressions)' });
    }
  });
}

/** Lists, filters and stores the tags; returns the scan result. Registry errors are thrown as they are. */
export async function scanRepository(
  state: StateStore,
  key: ObjectKey,
  spec: ImageRepositorySpec,
  client: RegistryClient,
  opts: { signal?: AbortSignal; now: Date },
): Promise<{ result: ScanResult; stored: StoredTags }> {
  const exclusions = compileExclusions(spec.exclusionList);
  const tags = await client.listTags(spec.repository, { signal: opts.signal });
  const kept = tags.filter((t) => !exclusions.some((re) => re.test(t)));
  let stored: StoredTags;
  try {
    stored = await writeTags(state, key, spec.canonicalImageName, kept, opts.now);
  } catch (err) {
    throw new FluxlessError((err as FluxlessError).code ?? 'StateWriteFailed', `failed to set tags for "${spec.canonicalImageName}": ${errorMessage(err)}`, { cause: err });
  }
  const latest = stored.tags.slice(0, LATEST_TAGS_COUNT);
  return {
    stored,
    result: { revision: stored.revision, tagCount: stored.tags.length, scanTime: stored.scanTime, ...(latest.length ? { latestTags: latest } : {}) },
  };
}
