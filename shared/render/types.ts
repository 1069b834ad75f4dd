/**
 * Types for rendering a Flux Kustomization's path into Kubernetes objects. Objects are the
 * one KubeObject of shared/kube/object.ts.
 */

/** The one Kubernetes object type of Fluxless (shared/kube/object.ts). */
export type { KubeObject, ObjectMeta } from '../kube/object.js';

/** Flux `kustomize.Selector` (spec.patches[].target). */
export interface PatchSelector {
  group?: string;
  version?: string;
  kind?: string;
  name?: string;
  namespace?: string;
  labelSelector?: string;
  annotationSelector?: string;
}

/** Flux `kustomize.Patch` (spec.patches[]): a strategic-merge or JSON6902 patch, inline. */
export interface KustomizePatch {
  patch: string;
  target?: PatchSelector;
}

/** Flux `kustomize.Image` (spec.images[]). */
export interface KustomizeImage {
  name: string;
  newName?: string;
  newTag?: string;
  digest?: string;
}

/** Flux spec.commonMetadata: applied to every object after the build; overrides same keys. */
export interface CommonMetadata {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The Kustomization spec fields that shape the build. */
export interface RenderSpec {
  targetNamespace?: string;
  namePrefix?: string;
  nameSuffix?: string;
  patches?: KustomizePatch[];
  images?: KustomizeImage[];
  components?: string[];
  /** spec.ignoreMissingComponents: drop spec.components entries that do not exist. */
  ignoreMissingComponents?: boolean;
  commonMetadata?: CommonMetadata;
}
