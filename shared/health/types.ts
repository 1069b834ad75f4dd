/**
 * Minimal Kubernetes object shapes shared across Fluxless. These describe objects as the
 * API server returns them (JSON decoded), not a full typed API: every field a module does
 * not know about is still reachable through the index signatures.
 */

/** Kubernetes object, metadata and reference shapes, from shared/kube. */
export type { KubeObject, ObjectMeta, ObjectRef } from '../kube/object.js';

/** A `status.conditions[]` entry (metav1.Condition and the older per-type shapes). */
export interface KubeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}
