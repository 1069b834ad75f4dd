/**
 * Writes the bootstrap source (a GitRepository, or an OCIRepository for an `oci://` URL) and
 * root Kustomization from the configuration into the state store (Flux's `flux-system`
 * objects), merged with their Git definitions when the repository was `flux bootstrap`ped
 * (see reconcile/bootstrap-pair.ts).
 */
import type { FluxlessConfig } from '../config/config.js';
import type { KubeObject, ObjectKey } from '../kube/object.js';
import { withBootstrapInputs } from '../reconcile/bootstrap-pair.js';
import type { ObjectRecord } from '../state/records.js';
import type { Runtime } from './runtime.js';

/** The configuration's source (GitRepository or OCIRepository) and Kustomization, as Flux objects. */
export function bootstrapObjects(cfg: FluxlessConfig): KubeObject[] {
  const source: KubeObject = {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: cfg.source.kind,
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
    spec: { interval: cfg.interval, path: cfg.path, prune: cfg.prune, sourceRef: { kind: cfg.source.kind, name: cfg.name } },
  };
  return [source, root];
}

/** Writes the bootstrap objects; returns those whose definition changed (reconcile them now). */
export async function bootstrap(rt: Runtime, cfg: FluxlessConfig): Promise<ObjectKey[]> {
  const changed: ObjectKey[] = [];
  for (const obj of bootstrapObjects(cfg)) {
    const key = { kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name };
    let wrote = false;
    await rt.state.update<ObjectRecord>(key, (cur) => {
      const next = withBootstrapInputs(cur?.origin?.by === 'bootstrap' ? cur : cur ? { ...cur, bootstrap: undefined } : undefined, { config: obj }, rt.now());
      wrote = Boolean(next);
      return next;
    });
    if (wrote) changed.push(key);
  }
  return changed;
}
