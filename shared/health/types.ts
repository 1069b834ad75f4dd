/**
 * Minimal Kubernetes object shapes shared across Fluxless. These describe objects as the
 * API server returns them (JSON decoded), not a full typed API: every field a module does
 * not know about is still reachable through the index signatures.
 */

export interface ObjectMeta {
  name: string;
  namespace?: string;
  generation?: number;
  /** RFC 3339 time; set once deletion was requested (finalizers may still hold the object). */
  deletionTimestamp?: string;
  creationTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  finalizers?: string[];
  [k: string]: unknown;
}

export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

/** A `status.conditions[]` entry (metav1.Condition and the older per-type shapes). */
export interface KubeCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

/**
 * Identifies one object to look up. `group` is the API group ('' for the core group,
 * 'apps' for Deployments); `apiVersion` is optional and only a hint for the fetcher.
 * Cluster-scoped objects have no namespace.
 */
export interface ObjectRef {
  apiVersion?: string;
  group: string;
  kind: string;
  namespace?: string;
  name: string;
}
