/**
 * Defaults the API server's server-side apply needs but does not fill in for native kinds
 * (after fluxcd/pkg/ssa normalize): `protocol: TCP` on Service ports and container ports,
 * which are list-map keys. Without it, apply fails with "associative list with keys has an
 * element that omits key field \"protocol\"" on clusters before Kubernetes 1.20.x.
 */
import type { KubeObject } from '../kube/object.js';

type Obj = Record<string, unknown>;

function defaultProtocol(ports: unknown): void {
  if (!Array.isArray(ports)) return;
  for (const p of ports) if (p && typeof p === 'object' && (p as Obj).protocol === undefined) (p as Obj).protocol = 'TCP';
}

function podSpec(spec: unknown): void {
  if (!spec || typeof spec !== 'object') return;
  for (const field of ['containers', 'initContainers', 'ephemeralContainers']) {
    const list = (spec as Obj)[field];
    if (Array.isArray(list)) for (const c of list) if (c && typeof c === 'object') defaultProtocol((c as Obj).ports);
  }
}

/** Returns the object with the defaults set (a copy when anything changed). */
export function normalizeForApply(obj: KubeObject): KubeObject {
  const group = obj.apiVersion.includes('/') ? obj.apiVersion.split('/')[0] : '';
  const native = group === '' || group === 'apps' || group === 'batch';
  if (!native) return obj;
  const o = structuredClone(obj) as KubeObject & { spec?: Obj };
  const spec = o.spec;
  if (!spec) return obj;
  switch (o.kind) {
    case 'Service':
      defaultProtocol(spec.ports);
      break;
    case 'Pod':
      podSpec(spec);
      break;
    case 'Deployment':
    case 'StatefulSet':
    case 'DaemonSet':
    case 'ReplicaSet':
    case 'Job':
      podSpec((spec.template as Obj | undefined)?.spec);
      break;
    case 'CronJob':
      podSpec((((spec.jobTemplate as Obj | undefined)?.spec as Obj | undefined)?.template as Obj | undefined)?.spec);
      break;
    default:
      return obj;
  }
  return o;
}
