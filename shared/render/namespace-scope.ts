/**
 * Which objects kustomize's namespace transformer treats as namespaced. kustomize (kyaml
 * openapi, v5.7) decides by apiVersion and kind from a table precomputed from its built-in
 * Kubernetes schema; a type it does not know (every custom resource) counts as namespaced.
 * The table below holds the same facts, written out per API group.
 */

/** Cluster-scoped types of kustomize's built-in schema, `apiVersion` -> kinds. */
const CLUSTER_SCOPED: Record<string, readonly string[]> = {
  'admissionregistration.k8s.io/v1': ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'],
  'admissionregistration.k8s.io/v1beta1': ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'],
  'apiextensions.k8s.io/v1': ['CustomResourceDefinition'],
  'apiextensions.k8s.io/v1beta1': ['CustomResourceDefinition'],
  'apiregistration.k8s.io/v1': ['APIService'],
  'apiregistration.k8s.io/v1beta1': ['APIService'],
  'certificates.k8s.io/v1': ['CertificateSigningRequest'],
  'certificates.k8s.io/v1beta1': ['CertificateSigningRequest'],
  'flowcontrol.apiserver.k8s.io/v1beta1': ['FlowSchema', 'PriorityLevelConfiguration'],
  'networking.k8s.io/v1': ['IngressClass'],
  'networking.k8s.io/v1beta1': ['IngressClass'],
  'node.k8s.io/v1': ['RuntimeClass'],
  'node.k8s.io/v1beta1': ['RuntimeClass'],
  'policy/v1beta1': ['PodSecurityPolicy'],
  'rbac.authorization.k8s.io/v1': ['ClusterRole', 'ClusterRoleBinding'],
  'rbac.authorization.k8s.io/v1beta1': ['ClusterRole', 'ClusterRoleBinding'],
  'scheduling.k8s.io/v1': ['PriorityClass'],
  'scheduling.k8s.io/v1beta1': ['PriorityClass'],
  'storage.k8s.io/v1': ['CSIDriver', 'CSINode', 'StorageClass', 'VolumeAttachment'],
  'storage.k8s.io/v1beta1': ['CSIDriver', 'CSINode', 'StorageClass', 'VolumeAttachment'],
  v1: ['ComponentStatus', 'Namespace', 'Node', 'NodeProxyOptions', 'PersistentVolume'],
};

const clusterScoped = new Set(Object.entries(CLUSTER_SCOPED).flatMap(([v, kinds]) => kinds.map((k) => `${v} ${k}`)));

/** True when kustomize's namespace transformer sets metadata.namespace on this type (unknown types included). */
export function isNamespacedForKustomize(apiVersion: string, kind: string): boolean {
  return !clusterScoped.has(`${apiVersion} ${kind}`);
}
