/**
 * kustomize-controller's feature gates that change Kustomization semantics, with Flux
 * 2.9's defaults. Fluxless reads them from the reconcile settings when the runtime sets
 * them (the configuration's feature gates); absent, Flux's default holds.
 */
import type { ReconcileSettings } from '../../reconcile/contract.js';

/** The gates, as optional reconcile settings. */
export interface KustomizationGates {
  /** `StrictPostBuildSubstitutions` (on by default since kc 1.9): an unset `${var}` fails the build. */
  strictPostBuildSubstitutions?: boolean;
  /** `AdditiveCELDependencyCheck` (off by default): `readyExpr` adds to the built-in dependency check instead of replacing it. */
  additiveCELDependencyCheck?: boolean;
}

/** The gates in effect for these settings (Flux 2.9 defaults where unset). */
export function gatesOf(settings: ReconcileSettings): Required<KustomizationGates> {
  const s = settings as ReconcileSettings & KustomizationGates;
  return {
    strictPostBuildSubstitutions: s.strictPostBuildSubstitutions ?? true,
    additiveCELDependencyCheck: s.additiveCELDependencyCheck ?? false,
  };
}
