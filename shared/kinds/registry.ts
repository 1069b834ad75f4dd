/**
 * The kind registry: every Flux kind Fluxless knows, mapped to its reconciler, in the order
 * of descriptors.ts (which holds the names and schedules, for the functions that never
 * reconcile). The worker and the CLI find reconcilers here and nowhere else. Adding a kind:
 * a folder under shared/kinds/ exporting a KindDescriptor and a KindReconciler, and one
 * line in each of the two lists.
 */
import type { KindReconciler } from '../reconcile/contract.js';
import { alertKind } from './alert/reconciler.js';
import { artifactGeneratorKind } from './artifactgenerator/reconciler.js';
import { KIND_DESCRIPTORS, descriptorByWord } from './descriptors.js';
import { externalArtifactKind } from './externalartifact/reconciler.js';
import { gitRepositoryKind } from './gitrepository/reconciler.js';
import { helmChartKind } from './helmchart/reconciler.js';
import { helmReleaseKind } from './helmrelease/reconciler.js';
import { helmRepositoryKind } from './helmrepository/reconciler.js';
import { imagePolicyKind } from './imagepolicy/reconciler.js';
import { imageRepositoryKind } from './imagerepository/reconciler.js';
import { imageUpdateAutomationKind } from './imageupdateautomation/reconciler.js';
import { kustomizationKind } from './kustomization/reconciler.js';
import { ociRepositoryKind } from './ocirepository/reconciler.js';
import { providerKind } from './provider/reconciler.js';
import { receiverKind } from './receiver/reconciler.js';
import { bucketKind } from './unsupported/reconciler.js';

export { isKnownKind, scheduledKinds } from './descriptors.js';

const reconcilers: readonly KindReconciler[] = [
  gitRepositoryKind,
  ociRepositoryKind,
  helmRepositoryKind,
  helmChartKind,
  bucketKind,
  externalArtifactKind,
  artifactGeneratorKind,
  kustomizationKind,
  helmReleaseKind,
  imageRepositoryKind,
  imagePolicyKind,
  imageUpdateAutomationKind,
  receiverKind,
  alertKind,
  providerKind,
];

const byKind = new Map(reconcilers.map((k) => [k.kind, k]));

/** Every kind's reconciler, in the order `get all` lists them (sources first): the descriptors' order. */
export const KINDS: readonly KindReconciler[] = KIND_DESCRIPTORS.map((d) => {
  const r = byKind.get(d.kind);
  if (!r) throw new Error(`kind ${d.kind} has a descriptor (shared/kinds/descriptors.ts) and no reconciler in shared/kinds/registry.ts`);
  return r;
});
if (reconcilers.length !== KINDS.length) throw new Error('shared/kinds/registry.ts lists a reconciler whose kind has no descriptor in shared/kinds/descriptors.ts');

/** The reconciler of `kind`, if Fluxless knows the kind. */
export function kindReconciler(kind: string): KindReconciler | undefined {
  return byKind.get(kind);
}

/** The kind a CLI word names (`ks`, `kustomization`, `source git`, `hr`), if any. */
export function kindByWord(word: string): KindReconciler | undefined {
  const d = descriptorByWord(word);
  return d && byKind.get(d.kind);
}
