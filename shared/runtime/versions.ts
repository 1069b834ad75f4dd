/**
 * The API version policy: every version Flux 2.9 serves is accepted; a removed one is
 * refused with the version to migrate to, as `flux migrate` would.
 */
import { splitApiVersion } from '../kube/object.js';
import type { KindReconciler } from '../reconcile/contract.js';

/** A message for a removed (or unknown) API version of `kind`, or undefined when it is served. */
export function removedVersionMessage(kind: KindReconciler, apiVersion: string): string | undefined {
  const { group, version } = splitApiVersion(apiVersion);
  if (group === kind.group && kind.versions.served.includes(version)) return undefined;
  const to = `${kind.group}/${kind.versions.removed?.[version] ?? kind.versions.served[0]}`;
  if (group === kind.group && kind.versions.removed?.[version]) {
    return `${kind.kind} apiVersion ${apiVersion} is no longer served by Flux 2.9: migrate the manifest to ${to} (flux migrate does it)`;
  }
  return `${kind.kind} apiVersion ${apiVersion} is not served by Flux 2.9: use ${to}`;
}
