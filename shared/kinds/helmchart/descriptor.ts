/** The HelmChart kind's descriptor: its names, API versions and schedule (shared/reconcile/contract.ts). */
import type { KindDescriptor } from '../../reconcile/contract.js';

/** What the HelmChart kind is, without the reconciler (light: loaded by every function). */
export const helmChartDescriptor: KindDescriptor = {
  kind: 'HelmChart',
  group: 'source.toolkit.fluxcd.io',
  versions: { served: ['v1'], removed: { v1beta1: 'v1', v1beta2: 'v1' } },
  names: { singular: 'source chart', plural: 'sources chart', aliases: ['helmchart', 'helmcharts', 'chart'], source: true },
  schedule: 'poll',
};
