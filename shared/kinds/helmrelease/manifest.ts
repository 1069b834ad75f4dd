/**
 * The objects of a Helm release manifest, as helm-controller reads them for drift
 * detection, health checks and the inventory: YAML documents parsed, the namespace of
 * namespaced objects defaulted to the release namespace, Helm's ownership metadata
 * (`app.kubernetes.io/managed-by: Helm`, `meta.helm.sh/release-name|namespace`) set, and
 * `status.inventory` entries (manifest objects plus the chart's CRDs, sorted).
 */
import { parseAllDocuments } from 'yaml';
import { inventoryId, splitApiVersion, type KubeObject } from '../../kube/object.js';
import type { RestMapper } from '../../kube/mapper.js';
import type { InventoryEntry } from '../../state/records.js';
import { yamlNestingProblem } from '../../util/yaml-depth.js';

const parsed = new Map<string, KubeObject[]>();

/** The objects of a manifest stream (empty documents and non-objects dropped); parsed once per manifest per process. */
export function manifestObjects(manifest: string): KubeObject[] {
  const hit = parsed.get(manifest);
  if (hit) return structuredClone(hit);
  const out = parseObjects(manifest);
  parsed.set(manifest, out);
  if (parsed.size > 64) parsed.delete(parsed.keys().next().value!);
  return structuredClone(out);
}

function parseObjects(manifest: string): KubeObject[] {
  const out: KubeObject[] = [];
  const deep = yamlNestingProblem(manifest);
  if (deep) throw new Error(`failed to read objects from release manifest: ${deep}`);
  for (const d of parseAllDocuments(manifest)) {
    if (d.errors.length) throw new Error(`failed to read objects from release manifest: ${d.errors[0].message.split('\n')[0]}`);
    const v = d.toJS() as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) continue;
    const o = v as KubeObject;
    if (!o.apiVersion || !o.kind || !o.metadata?.name) continue;
    if (o.kind.endsWith('List') && Array.isArray((o as { items?: unknown }).items)) {
      for (const item of (o as unknown as { items: KubeObject[] }).items) if (item?.kind && item.metadata?.name) out.push(item);
      continue;
    }
    out.push(o);
  }
  return out;
}

/** Sets each namespaced object's namespace to `namespace` when it has none; cluster-scoped ones lose theirs. */
export async function defaultNamespaces(objects: KubeObject[], namespace: string, mapper: RestMapper): Promise<KubeObject[]> {
  const scoped = new Map<string, boolean>();
  for (const o of objects) {
    const k = `${o.apiVersion}|${o.kind}`;
    let namespaced = scoped.get(k);
    if (namespaced === undefined) {
      namespaced = await mapper.mapping(o.apiVersion, o.kind).then(
        (m) => m.namespaced,
        () => true,
      );
      scoped.set(k, namespaced);
    }
    if (namespaced && !o.metadata.namespace) o.metadata = { ...o.metadata, namespace };
    if (!namespaced && o.metadata.namespace) {
      const { namespace: _ns, ...rest } = o.metadata;
      o.metadata = rest;
    }
  }
  return objects;
}

/** helm-controller's setHelmMetadata: the labels and annotations Helm puts on what it owns. */
export function withHelmMetadata(o: KubeObject, releaseName: string, releaseNamespace: string): KubeObject {
  return {
    ...o,
    metadata: {
      ...o.metadata,
      labels: { ...(o.metadata.labels ?? {}), 'app.kubernetes.io/managed-by': 'Helm' },
      annotations: { ...(o.metadata.annotations ?? {}), 'meta.helm.sh/release-name': releaseName, 'meta.helm.sh/release-namespace': releaseNamespace },
    },
  };
}

/** `status.inventory` entries of the manifest objects and the chart's CRDs, sorted by id. */
export function inventoryOf(objects: readonly KubeObject[], crds: readonly KubeObject[]): InventoryEntry[] {
  const seen = new Map<string, InventoryEntry>();
  for (const o of [...objects, ...crds]) {
    const { group, version } = splitApiVersion(o.apiVersion);
    const id = inventoryId({ group, kind: o.kind, namespace: o.metadata.namespace ?? '', name: o.metadata.name });
    seen.set(id, { id, v: version });
  }
  return [...seen.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
