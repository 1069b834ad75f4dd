/**
 * RBAC for definitions. Flux objects in a build (GitRepository, Kustomization, HelmRelease,
 * ...) become Fluxless definitions in the store instead of cluster objects, so no API server
 * sees them being written. In Flux they are applied like any object, so an impersonated
 * tenant can only create them where its RBAC allows. To keep that boundary, a Kustomization
 * that impersonates a ServiceAccount asks the API server, as that account, whether it may
 * create and patch each kind of definition in each namespace (SelfSubjectAccessReview, one
 * per namespace, resource and verb), before anything of the revision is applied. Without
 * impersonation nothing is asked (Fluxless's own identity applies, as Flux's controller's).
 */
import { splitApiVersion, type KubeObject } from '../../kube/object.js';
import type { Target } from '../../kube/targets.js';
import { ReconcileFailure } from '../../reconcile/failure.js';
import type { KustomizationSpec } from './spec.js';

/** kubebuilder's plural of a kind (`GitRepository` -> `gitrepositories`, `ImagePolicy` -> `imagepolicies`). */
export function pluralOf(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  if (/(s|x|z|ch|sh)$/.test(k)) return `${k}es`;
  return `${k}s`;
}

interface AccessReview {
  status?: { allowed?: boolean; reason?: string };
}

/**
 * Throws ReconcileFailure (ReconciliationFailed) naming the first definition the
 * impersonated account may not write, in the API server's words. No-op without impersonation.
 */
export async function authorizeDefinitions(target: Target, spec: KustomizationSpec, objects: KubeObject[]): Promise<void> {
  if (!target.impersonate || !objects.length) return;
  const asked = new Map<string, Promise<AccessReview>>();
  const failures: string[] = [];
  for (const obj of objects) {
    const ns = obj.metadata.namespace ?? spec.render.targetNamespace ?? spec.namespace;
    const { group } = splitApiVersion(obj.apiVersion);
    const resource = pluralOf(obj.kind);
    for (const verb of ['create', 'patch']) {
      const k = `${ns}\0${group}\0${resource}\0${verb}`;
      let p = asked.get(k);
      if (!p) {
        p = target.client.request<AccessReview>('POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
          body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SelfSubjectAccessReview', spec: { resourceAttributes: { namespace: ns, verb, group, resource } } },
        });
        asked.set(k, p);
      }
      const review = await p;
      if (review.status?.allowed) continue;
      failures.push(
        `${obj.kind}/${ns}/${obj.metadata.name}: ${resource}.${group} "${obj.metadata.name}" is forbidden: User "${target.impersonate}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${ns}"`,
      );
      break;
    }
  }
  if (failures.length) {
    throw new ReconcileFailure('ReconciliationFailed', `${failures.length} object(s) failed validation, nothing was applied:\n${failures.join('\n')}`, { retryMs: spec.retryIntervalMs });
  }
}
