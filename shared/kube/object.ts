/** The Kubernetes object shape Fluxless works with, and how it names objects. */
/** `metadata` of an object, as the API server returns it. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  deletionTimestamp?: string;
  creationTimestamp?: string;
  finalizers?: string[];
  ownerReferences?: unknown[];
  managedFields?: ManagedFieldsEntry[];
  [k: string]: unknown;
}

/** One `metadata.managedFields[]` entry (server-side apply ownership). */
export interface ManagedFieldsEntry {
  manager?: string;
  operation?: 'Apply' | 'Update';
  apiVersion?: string;
  time?: string;
  fieldsType?: string;
  fieldsV1?: Record<string, unknown>;
  subresource?: string;
}

/** A Kubernetes object as JSON: every field not named here stays reachable by index. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  [k: string]: unknown;
}

/**
 * Names a Flux object (or any object whose group is implied): kind, namespace ('' for
 * cluster-scoped), name. The key of state records, queue messages and artifacts.
 */
export interface ObjectKey {
  kind: string;
  namespace: string;
  name: string;
}

/** Identifies an object: group (no version), kind, namespace ('' for cluster-scoped), name. */
export interface ObjectRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  /** A version hint for readers (`apps/v1`); not part of the identity. */
  apiVersion?: string;
}

/** `group/version` -> its parts (`v1` -> group ''). */
export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.indexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

/** The ObjectRef of an object. */
export function refOf(obj: KubeObject): ObjectRef {
  return {
    group: splitApiVersion(obj.apiVersion).group,
    kind: obj.kind,
    namespace: obj.metadata.namespace ?? '',
    name: obj.metadata.name,
  };
}

/** `Kind/namespace/name` (or `Kind/name` when cluster-scoped), as Flux prints objects. */
export function fmtRef(ref: { kind: string; namespace?: string; name: string }): string {
  return ref.namespace ? `${ref.kind}/${ref.namespace}/${ref.name}` : `${ref.kind}/${ref.name}`;
}

/** `Kind/namespace/name` of an object. */
export function fmtObject(obj: KubeObject): string {
  return fmtRef({ kind: obj.kind, namespace: obj.metadata.namespace, name: obj.metadata.name });
}

/** Flux inventory id: `<namespace>_<name>_<group>_<kind>`. */
export function inventoryId(ref: ObjectRef): string {
  return `${ref.namespace}_${ref.name}_${ref.group}_${ref.kind}`;
}

/** Inverse of inventoryId. */
export function parseInventoryId(id: string): ObjectRef {
  // namespace and name cannot contain '_' (DNS names); group cannot either.
  const parts = id.split('_');
  if (parts.length !== 4) throw new Error(`invalid inventory id '${id}'`);
  const [namespace, name, group, kind] = parts;
  return { namespace, name, group, kind };
}

/** The same object key? */
export function sameKey(a: ObjectKey, b: ObjectKey): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name;
}

/** An annotation of an object, if set. */
export function annotation(obj: KubeObject | undefined, key: string): string | undefined {
  return obj?.metadata.annotations?.[key];
}

/** A label of an object, if set. */
export function label(obj: KubeObject | undefined, key: string): string | undefined {
  return obj?.metadata.labels?.[key];
}

/** True when a label or annotation `key` equals `value` (Flux's AnyInMetadata). */
export function inMetadata(obj: KubeObject | undefined, key: string, value: string): boolean {
  if (!obj) return false;
  return obj.metadata.labels?.[key] === value || obj.metadata.annotations?.[key] === value;
}
