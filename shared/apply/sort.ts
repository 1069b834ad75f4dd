/** Flux's apply order (fluxcd/pkg/ssa sort.go) and the apply stages. */
import type { KubeObject, ObjectRef } from '../kube/object.js';
import { splitApiVersion } from '../kube/object.js';

const ORDER = [
  'CustomResourceDefinition',
  'Namespace',
  'ClusterRole',
  'ClusterClass',
  'RuntimeClass',
  'PriorityClass',
  'StorageClass',
  'VolumeSnapshotClass',
  'IngressClass',
  'GatewayClass',
  'ClusterRoleBinding',
  'ResourceQuota',
  'ServiceAccount',
  'Role',
  'RoleBinding',
  'ConfigMap',
  'Secret',
  'Service',
  'LimitRange',
  'Deployment',
  'StatefulSet',
  'CronJob',
  'PodDisruptionBudget',
];
const LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];
const rankOf = new Map<string, number>();
ORDER.forEach((k, i) => rankOf.set(k, i));
const UNLISTED = ORDER.length;
LAST.forEach((k, i) => rankOf.set(k, UNLISTED + 1 + i));

/** Position of a kind in Flux's apply order (unlisted kinds between the listed ones and webhooks). */
export function kindRank(kind: string): number {
  return rankOf.get(kind) ?? UNLISTED;
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Flux's apply order of two references: kind rank, then group, kind, namespace, name. */
export function compareRefs(a: ObjectRef, b: ObjectRef): number {
  return (
    kindRank(a.kind) - kindRank(b.kind) ||
    cmp(a.group, b.group) ||
    cmp(a.kind, b.kind) ||
    cmp(a.namespace, b.namespace) ||
    cmp(a.name, b.name)
  );
}

/** Flux's apply order of two objects (compareRefs on their references). */
export function compareObjects(a: KubeObject, b: KubeObject): number {
  return compareRefs(
    { group: splitApiVersion(a.apiVersion).group, kind: a.kind, namespace: a.metadata.namespace ?? '', name: a.metadata.name },
    { group: splitApiVersion(b.apiVersion).group, kind: b.kind, namespace: b.metadata.namespace ?? '', name: b.metadata.name },
  );
}

/** Stage 1: cluster definitions (CRDs, Namespaces, ClusterRoles); 2: `*Class` kinds; 3: the rest. */
export function stageOf(kind: string): 1 | 2 | 3 {
  if (kind === 'CustomResourceDefinition' || kind === 'Namespace' || kind === 'ClusterRole') return 1;
  if (kind.endsWith('Class')) return 2;
  return 3;
}
