/**
 * The reconcilers, loaded on first use: the worker imports a kind's reconciler (and what it
 * needs: the apply engine, helm, git, SOPS, OpenPGP) when it first handles an object of that
 * kind, so a cold start pays only for the kinds its messages name. Same objects as
 * registry.ts (which loads them all at once, for the CLI).
 */
import type { KindReconciler } from '../reconcile/contract.js';

type Loader = () => Promise<KindReconciler>;

const LOADERS: Readonly<Record<string, Loader>> = {
  GitRepository: async () => (await import('./gitrepository/reconciler.js')).gitRepositoryKind,
  OCIRepository: async () => (await import('./ocirepository/reconciler.js')).ociRepositoryKind,
  HelmRepository: async () => (await import('./helmrepository/reconciler.js')).helmRepositoryKind,
  HelmChart: async () => (await import('./helmchart/reconciler.js')).helmChartKind,
  Bucket: async () => (await import('./unsupported/reconciler.js')).bucketKind,
  ExternalArtifact: async () => (await import('./externalartifact/reconciler.js')).externalArtifactKind,
  ArtifactGenerator: async () => (await import('./artifactgenerator/reconciler.js')).artifactGeneratorKind,
  Kustomization: async () => (await import('./kustomization/reconciler.js')).kustomizationKind,
  HelmRelease: async () => (await import('./helmrelease/reconciler.js')).helmReleaseKind,
  ImageRepository: async () => (await import('./imagerepository/reconciler.js')).imageRepositoryKind,
  ImagePolicy: async () => (await import('./imagepolicy/reconciler.js')).imagePolicyKind,
  ImageUpdateAutomation: async () => (await import('./imageupdateautomation/reconciler.js')).imageUpdateAutomationKind,
  Receiver: async () => (await import('./receiver/reconciler.js')).receiverKind,
  Alert: async () => (await import('./alert/reconciler.js')).alertKind,
  Provider: async () => (await import('./provider/reconciler.js')).providerKind,
};

/** The kinds a loader exists for (the registry test checks they are the descriptors' kinds). */
export const LOADABLE_KINDS: readonly string[] = Object.keys(LOADERS);

/**
 * Loads in flight or done, per kind: every later call gets the same promise, so a warm
 * worker does not go through the module loader (its resolve hooks) once per message.
 */
const loaded = new Map<string, Promise<KindReconciler>>();

/** The reconciler of `kind`, imported on first use; undefined when Fluxless does not know the kind. */
export function loadReconciler(kind: string): Promise<KindReconciler | undefined> {
  const load = Object.hasOwn(LOADERS, kind) ? LOADERS[kind] : undefined;
  if (!load) return Promise.resolve(undefined);
  let p = loaded.get(kind);
  if (!p) {
    const started = load();
    loaded.set(kind, started);
    // A failed import (a missing chunk, a syntax error in a bundle) is not cached: the next message tries again.
    started.catch(() => {
      if (loaded.get(kind) === started) loaded.delete(kind);
    });
    p = started;
  }
  return p;
}
