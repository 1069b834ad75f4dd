/**
 * The kind registry: every Flux kind Fluxless knows, mapped to its reconciler. The worker,
 * the scheduler and the CLI find kinds here and nowhere else. Adding a kind: a folder
 * under shared/kinds/ exporting a KindReconciler, and one line below.
 */
import type { KindReconciler } from '../reconcile/contract.js';
import { alertKind } from './alert/reconciler.js';
import { artifactGeneratorKind } from './artifactgenerator/reconciler.js';
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
import { unsupportedKind } from './unsupported/reconciler.js';

const SOURCE = 'source.toolkit.fluxcd.io';

/** Every kind, in the order `get all` lists them (sources first). */
export const KINDS: readonly KindReconciler[] = [
  gitRepositoryKind,
  ociRepositoryKind,
  helmRepositoryKind,
  helmChartKind,
  unsupportedKind('Bucket', SOURCE, ['v1'], { singular: 'source bucket', plural: 'sources bucket', aliases: ['bucket', 'buckets'], source: true }, 'Bucket sources'),
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

const byKind = new Map(KINDS.map((k) => [k.kind, k]));
const byWord = new Map<string, KindReconciler>();
for (const k of KINDS) for (const w of [k.names.singular, k.names.plural, ...k.names.aliases, k.kind.toLowerCase()]) byWord.set(w.toLowerCase(), k);

/** The reconciler of `kind`, if Fluxless knows the kind. */
export function kindReconciler(kind: string): KindReconciler | undefined {
  return byKind.get(kind);
}

/** True when Fluxless knows `kind`. */
export function isKnownKind(kind: string): boolean {
  return byKind.has(kind);
}

/** The kind a CLI word names (`ks`, `kustomization`, `source git`, `hr`), if any. */
export function kindByWord(word: string): KindReconciler | undefined {
  return byWord.get(word.toLowerCase().trim());
}

/** Kinds the scheduler runs on their interval. */
export function scheduledKinds(): KindReconciler[] {
  return KINDS.filter((k) => k.schedule);
}
