/**
 * The kind descriptors: every Flux kind Fluxless knows, by name, API versions and schedule,
 * without its reconciler. Every function loads this module (the scheduler asks which kinds
 * are due, the runtime which kinds exist); only the worker and the CLI load the reconcilers
 * (registry.ts), so the webhook and the scheduler do not carry the apply engine, helm or git.
 */
import type { KindDescriptor } from '../reconcile/contract.js';
import { alertDescriptor } from './alert/descriptor.js';
import { artifactGeneratorDescriptor } from './artifactgenerator/descriptor.js';
import { externalArtifactDescriptor } from './externalartifact/descriptor.js';
import { gitRepositoryDescriptor } from './gitrepository/descriptor.js';
import { helmChartDescriptor } from './helmchart/descriptor.js';
import { helmReleaseDescriptor } from './helmrelease/descriptor.js';
import { helmRepositoryDescriptor } from './helmrepository/descriptor.js';
import { imagePolicyDescriptor } from './imagepolicy/descriptor.js';
import { imageRepositoryDescriptor } from './imagerepository/descriptor.js';
import { imageUpdateAutomationDescriptor } from './imageupdateautomation/descriptor.js';
import { kustomizationDescriptor } from './kustomization/descriptor.js';
import { ociRepositoryDescriptor } from './ocirepository/descriptor.js';
import { providerDescriptor } from './provider/descriptor.js';
import { receiverDescriptor } from './receiver/descriptor.js';
import { bucketDescriptor } from './unsupported/descriptor.js';

/** Every kind, in the order `get all` lists them (sources first). */
export const KIND_DESCRIPTORS: readonly KindDescriptor[] = [
  gitRepositoryDescriptor,
  ociRepositoryDescriptor,
  helmRepositoryDescriptor,
  helmChartDescriptor,
  bucketDescriptor,
  externalArtifactDescriptor,
  artifactGeneratorDescriptor,
  kustomizationDescriptor,
  helmReleaseDescriptor,
  imageRepositoryDescriptor,
  imagePolicyDescriptor,
  imageUpdateAutomationDescriptor,
  receiverDescriptor,
  alertDescriptor,
  providerDescriptor,
];

const byKind = new Map(KIND_DESCRIPTORS.map((k) => [k.kind, k]));
const byWord = new Map<string, KindDescriptor>();
for (const k of KIND_DESCRIPTORS) for (const w of [k.names.singular, k.names.plural, ...k.names.aliases, k.kind.toLowerCase()]) byWord.set(w.toLowerCase(), k);

/** The descriptor of `kind`, if Fluxless knows the kind. */
export function kindDescriptor(kind: string): KindDescriptor | undefined {
  return byKind.get(kind);
}

/** True when Fluxless knows `kind`. */
export function isKnownKind(kind: string): boolean {
  return byKind.has(kind);
}

/** The kind a CLI word names (`ks`, `kustomization`, `source git`, `hr`), if any. */
export function descriptorByWord(word: string): KindDescriptor | undefined {
  return byWord.get(word.toLowerCase().trim());
}

/** Kinds the scheduler runs on their interval. */
export function scheduledKinds(): KindDescriptor[] {
  return KIND_DESCRIPTORS.filter((k) => k.schedule);
}
