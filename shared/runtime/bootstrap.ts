/**
 * Writes the bootstrap GitRepository and root Kustomization from the configuration into the
 * state store (Flux's `flux-system` objects), when they differ from what is stored.
 */
import type { FluxlessConfig } from '../config/config.js';
import type { KubeObject } from '../kube/object.js';
import type { ObjectRecord } from '../reconcile/records.js';
import type { Runtime } from './runtime.js';

export function bootstrapObjects(cfg: FluxlessConfig): KubeObject[] {
  const source: KubeObject = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name: cfg.name, namespace: cfg.namespace },
    spec: {
      url: cfg.source.url,
      ref: cfg.source.ref,
      interval: cfg.source.interval,
      ...(cfg.source.secretRef ? { secretRef: { name: cfg.source.secretRef } } : {}),
      ...(cfg.source.ignore ? { ignore: cfg.source.ignore } : {}),
    },
  };
  const root: KubeObject = {
    apiVersion: 'kustomize.toolkit.fluxcd.io/v1',
    kind: 'Kustomization',
    metadata: { name: cfg.name, namespace: cfg.namespace },
    spec: { interval: cfg.interval, path: cfg.path, prune: cfg.prune, sourceRef: { kind: 'GitRepository', name: cfg.name } },
  };
  return [source, root];
}

/** Returns the objects whose definition changed (they should be reconciled now). */
export async function bootstrap(rt: Runtime, cfg: FluxlessConfig): Promise<Array<{ kind: string; namespace: string; name: string }>> {
  const changed: Array<{ kind: string; namespace: string; name: string }> = [];
  for (const obj of bootstrapObjects(cfg)) {
    const key = { kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name };
    await rt.state.update<ObjectRecord>(key, (cur) => {
      if (cur?.object && !cur.deleted && JSON.stringify(cur.object.spec) === JSON.stringify(obj.spec)) return undefined;
      const gen = Number(cur?.object?.metadata.generation ?? 0) + 1;
      changed.push(key);
      return { status: {}, ...cur, deleted: false, origin: { by: 'bootstrap' }, object: { ...obj, metadata: { ...obj.metadata, generation: gen } } };
    });
  }
  return changed;
}
