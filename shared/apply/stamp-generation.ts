/**
 * The generation part of an applied stamp. A Deployment's resourceVersion moves every time
 * its controller writes status, so a stamp of the resourceVersion alone sends it to the
 * dry-run on nearly every drift check. For kinds whose API server bumps
 * `metadata.generation` on every change outside metadata and status, an object whose
 * generation and metadata (labels, annotations, owner references, finalizers, deletion) are
 * those of our last apply has had only its status written since: nothing we apply changed.
 *
 * Only built-in kinds whose registry strategy is known to do so are listed. Custom
 * resources are left out (an aggregated API need not keep the convention), as are kinds
 * without a generation (ConfigMap, Secret, Service, ServiceAccount, RBAC): their
 * resourceVersion moves only when they change.
 */
import { createHash } from 'node:crypto';
import { splitApiVersion, type KubeObject } from '../kube/object.js';
import { stableJson } from './hash.js';

/** `group/Kind` of the kinds whose generation covers every field but metadata and status. */
const GENERATION_KINDS = new Set([
  'apps/Deployment',
  'apps/StatefulSet',
  'apps/DaemonSet',
  'apps/ReplicaSet',
  'batch/Job',
  'batch/CronJob',
  'policy/PodDisruptionBudget',
  'networking.k8s.io/Ingress',
  'networking.k8s.io/NetworkPolicy',
]);

/** The generation half of a stamp: set only for the kinds above, from the live object after our apply. */
export interface GenerationStamp {
  /** `metadata.generation` of the live object. */
  generation?: number;
  /** Hash of the live object's labels, annotations, owner references, finalizers and deletion timestamp. */
  meta?: string;
}

function tracksGeneration(obj: KubeObject): boolean {
  return GENERATION_KINDS.has(`${splitApiVersion(obj.apiVersion).group}/${obj.kind}`);
}

function metaHash(live: KubeObject): string {
  const m = live.metadata as KubeObject['metadata'] & { ownerReferences?: unknown; finalizers?: unknown; deletionTimestamp?: unknown };
  const text = stableJson({ labels: m.labels ?? {}, annotations: m.annotations ?? {}, ownerReferences: m.ownerReferences ?? [], finalizers: m.finalizers ?? [], deletionTimestamp: m.deletionTimestamp ?? null });
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** The generation stamp of `live` (what we applied as `desired`), or {} for other kinds. */
export function generationStamp(desired: KubeObject, live: KubeObject | undefined): GenerationStamp {
  const g = live?.metadata.generation;
  if (!live || !tracksGeneration(desired) || typeof g !== 'number' || !Number.isInteger(g) || g < 1) return {};
  return { generation: g, meta: metaHash(live) };
}

/** True when `live` moved since the stamp only by status writes (same generation and metadata). */
export function onlyStatusMoved(stamp: GenerationStamp, desired: KubeObject, live: KubeObject): boolean {
  if (stamp.generation === undefined || stamp.meta === undefined || !tracksGeneration(desired)) return false;
  return live.metadata.generation === stamp.generation && metaHash(live) === stamp.meta;
}
