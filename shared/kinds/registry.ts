/**
 * The kind registry: every Flux kind Fluxless knows, mapped to its reconciler. The worker,
 * the scheduler and the CLI find kinds here and nowhere else. Adding a kind: a folder
 * under shared/kinds/ exporting a KindReconciler, and one line below.
 */
import type { KindReconciler } from '../reconcile/contract.js';
import { gitRepositoryKind } from './gitrepository/reconciler.js';
import { kustomizationKind } from './kustomization/reconciler.js';
import { alertKind, providerKind } from './notification/reconciler.js';
import { ociRepositoryKind } from './ocirepository/reconciler.js';
import { receiverKind } from './receiver/reconciler.js';
import { unsupportedKind } from './unsupported/reconciler.js';

const SOURCE = 'source.toolkit.fluxcd.io';

/** Every kind, in the order `get all` lists them (sources first). */
export const KINDS: readonly KindReconciler[] = [
  gitRepositoryKind,
  ociRepositoryKind,
  unsupportedKind('HelmRepository', SOURCE, ['v1'], { singular: 'source helm', plural: 'sources helm', aliases: ['helmrepository', 'helmrepositories', 'helm'], source: true }, 'Helm'),
  unsupportedKind('HelmChart', SOURCE, ['v1'], { singular: 'source chart', plural: 'sources chart', aliases: ['helmchart', 'helmcharts', 'chart'], source: true }, 'Helm'),
  unsupportedKind('Bucket', SOURCE, ['v1'], { singular: 'source bucket', plural: 'sources bucket', aliases: ['bucket', 'buckets'], source: true }, 'Bucket sources'),
  unsupportedKind('ExternalArtifact', SOURCE, ['v1'], { singular: 'source external', plural: 'sources external', aliases: ['externalartifact', 'externalartifacts'], source: true }, 'ExternalArtifact sources'),
  unsupportedKind('ArtifactGenerator', 'source.extensions.fluxcd.io', ['v1beta1'], { singular: 'artifactgenerator', plural: 'artifactgenerators', aliases: ['ag'] }, 'ArtifactGenerator'),
  kustomizationKind,
  unsupportedKind('HelmRelease', 'helm.toolkit.fluxcd.io', ['v2'], { singular: 'helmrelease', plural: 'helmreleases', aliases: ['hr'] }, 'Helm'),
  unsupportedKind('ImageRepository', 'image.toolkit.fluxcd.io', ['v1'], { singular: 'image repository', plural: 'images repository', aliases: ['imagerepository', 'imagerepositories'] }, 'image automation'),
  unsupportedKind('ImagePolicy', 'image.toolkit.fluxcd.io', ['v1'], { singular: 'image policy', plural: 'images policy', aliases: ['imagepolicy', 'imagepolicies'] }, 'image automation'),
  unsupportedKind('ImageUpdateAutomation', 'image.toolkit.fluxcd.io', ['v1'], { singular: 'image update', plural: 'images update', aliases: ['imageupdateautomation', 'imageupdateautomations'] }, 'image automation'),
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
