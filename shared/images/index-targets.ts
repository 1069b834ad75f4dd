/**
 * The reverse-index targets the image kinds share (reconcile/reverse-index.ts, users index):
 * an ImagePolicy registers under its ImageRepository's key; an ImageUpdateAutomation
 * registers under its namespace's pseudo-target, since any ImagePolicy in the namespace may
 * be used by its markers (Flux enqueues every automation of the namespace too).
 */
import type { ObjectKey } from '../kube/object.js';

/** The users-index target under which the automations of `namespace` register. */
export function automationsTarget(namespace: string): ObjectKey {
  // Kubernetes names cannot start with `_`: no real ImagePolicy has this key.
  return { kind: 'ImagePolicy', namespace, name: '_automations' };
}
