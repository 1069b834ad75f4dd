/**
 * helm-controller's summarize (internal/reconcile/release.go): Ready is the first of the
 * Remediated, TestSuccess (when tests are enabled and their failures not ignored) and
 * Released conditions after a stable sort by generation and that priority; a Remediated
 * winner is always False; Ready=True removes Stalled. The observed post-renderers and
 * common-metadata digests follow the spec.
 */
import { commonMetadataDigest, postRenderersDigest, type HelmReleaseSpec } from '../../helm/release-spec.js';
import type { Condition } from '../../state/records.js';
import type { WorkingStatus } from './status-work.js';

/** Go's sort.SliceStable for short slices: an insertion sort with `less`. */
function sliceStable<T>(list: T[], less: (a: T, b: T) => boolean): void {
  for (let i = 1; i < list.length; i++) {
    for (let j = i; j > 0 && less(list[j], list[j - 1]); j--) {
      const t = list[j];
      list[j] = list[j - 1];
      list[j - 1] = t;
    }
  }
}

/** The spec parts summarize reads; `rawSpec` tells an absent list from an empty one. */
export interface SummarizeSpec {
  spec: Pick<HelmReleaseSpec, 'test' | 'postRenderers' | 'commonMetadata'>;
  rawSpec: Record<string, unknown>;
}

/** `status.observedPostRenderersDigest` for a spec ('' without spec.postRenderers). */
export function specPostRenderersDigest(s: SummarizeSpec): string {
  return s.rawSpec.postRenderers !== undefined && s.rawSpec.postRenderers !== null ? postRenderersDigest(s.spec.postRenderers) : '';
}

/** `status.observedCommonMetadataDigest` for a spec ('' without spec.commonMetadata). */
export function specCommonMetadataDigest(s: SummarizeSpec): string {
  return s.rawSpec.commonMetadata !== undefined && s.rawSpec.commonMetadata !== null ? commonMetadataDigest(s.spec.commonMetadata) : '';
}

/** Summarizes the release conditions into Ready (see the module comment). */
export function summarize(w: WorkingStatus, s: SummarizeSpec): void {
  const test = s.spec.test;
  const sumConds = test.enable && !test.ignoreFailures ? ['Remediated', 'TestSuccess', 'Released'] : ['Remediated', 'Released'];
  if (!test.enable) w.delete('TestSuccess');
  const conds = w.conditions;
  if (conds.length === 0) return;
  const pos = (c: Condition) => sumConds.indexOf(c.type);
  sliceStable(conds, (a, b) => {
    const i = pos(a);
    if (i < 0) return false;
    const j = pos(b);
    if (j < 0) return true;
    return (a.observedGeneration ?? 0) >= (b.observedGeneration ?? 0) && i < j;
  });
  const first = conds[0];
  const status = first.type === 'Remediated' ? 'False' : first.status;
  if (status === 'True') w.delete('Stalled');
  w.mark('Ready', status, first.reason, first.message);
  const pr = specPostRenderersDigest(s);
  const cm = specCommonMetadataDigest(s);
  w.f.observedPostRenderersDigest = pr || undefined;
  w.f.observedCommonMetadataDigest = cm || undefined;
}
