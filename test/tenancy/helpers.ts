/** Shared pieces of the tenancy tests: a request-recording client, tenants with namespaced RBAC, reconciles with lockdown settings. */
import type { TestContext } from 'node:test';
import { KubeApiError, type KubeClient, type RequestOptions } from '../../shared/kube/client.js';
import type { KubeObject } from '../../shared/kube/object.js';
import { RestMapper } from '../../shared/kube/mapper.js';
import { closeTargetClusters } from '../../shared/kube/targets.js';
import type { TenancySettings } from '../../shared/kube/tenancy.js';
import { kustomizationKind } from '../../shared/kinds/kustomization/reconciler.js';
import type { ReconcileResult, ReconcileServices } from '../../shared/reconcile/contract.js';
import { readRecord, type ObjectRecord } from '../../shared/state/records.js';
import { log } from '../../shared/util/log.js';
import { fixture, type Fixture } from '../reconcile/helpers.js';

/** One request as the recording client saw it. */
export interface Seen {
  method: string;
  path: string;
  query?: RequestOptions['query'];
  impersonate?: string;
}

/** A client that records every request (and the Impersonate-User header it carries) before sending it. */
export function recording(base: KubeClient): KubeClient & { seen: Seen[] } {
  const seen: Seen[] = [];
  return {
    server: base.server,
    seen,
    request<T>(method: string, path: string, opts: RequestOptions = {}) {
      seen.push({ method, path, query: opts.query, impersonate: opts.headers?.['Impersonate-User'] });
      return base.request<T>(method, path, opts);
    },
    get requestCount() {
      return base.requestCount;
    },
    close: () => base.close(),
  };
}

/** Discovery requests (shared per cluster, as the management cluster's are). */
export function isDiscovery(p: string): boolean {
  return /^\/apis?(\/[^/]+(\/[^/]+)?)?$/.test(p);
}

/** A tenant fixture: the reconcile fixture, a recording management client, lockdown settings. */
export interface TenantFixture extends Fixture {
  rec: ReturnType<typeof recording>;
  svc: ReconcileServices;
  /** Defines a Kustomization as a fleet would (owned by a Kustomization, not the bootstrap root). */
  defineTenantKs(obj: KubeObject): Promise<void>;
  /** Reconciles (or finalizes, when deleted) Kustomization <ns>/<name> with this fixture's services. */
  run(name: string): Promise<ReconcileResult>;
  /** Creates ServiceAccount `name` bound (RoleBinding, as flux2-multi-tenancy's gotk-reconciler) to cluster-admin in the namespace only. */
  tenantAccount(name: string): Promise<void>;
}

/** The fixture with tenancy settings. */
export async function tenantFixture(t: TestContext, settings: TenancySettings = {}): Promise<TenantFixture> {
  const f = await fixture(t);
  const rec = recording(f.client);
  const svc: ReconcileServices = { ...f.svc, client: rec, mapper: new RestMapper(rec), settings: { ...f.svc.settings, ...settings } };
  t.after(() => closeTargetClusters(rec));
  return {
    ...f,
    rec,
    svc,
    async defineTenantKs(obj) {
      await f.state.update<ObjectRecord>({ kind: obj.kind, namespace: obj.metadata.namespace!, name: obj.metadata.name }, (cur) => ({
        status: {},
        ...cur,
        object: obj,
        origin: { by: 'Kustomization', namespace: 'platform', name: 'tenants' },
        deleted: false,
      }));
    },
    async run(name) {
      const key = { kind: 'Kustomization', namespace: f.ns, name };
      const record = await readRecord(f.state, key);
      if (!record?.object) throw new Error(`Kustomization ${f.ns}/${name} is not defined`);
      const req = { key, record, reason: 'test', log: log.child({ test: name }) };
      return record.deleted ? kustomizationKind.finalize(svc, req) : kustomizationKind.reconcile(svc, req);
    },
    async tenantAccount(name) {
      const ns = f.ns;
      await createOrKeep(f.client, `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name } });
      await createOrKeep(f.client, `/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
        metadata: { name: `gotk-reconciler-${name}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [
          { kind: 'User', name: `gotk:${ns}:reconciler`, apiGroup: 'rbac.authorization.k8s.io' },
          { kind: 'ServiceAccount', name, namespace: ns },
        ],
      });
    },
  };
}

/** POSTs an object; an existing one is kept. */
export async function createOrKeep(c: KubeClient, path: string, body: unknown): Promise<void> {
  try {
    await c.request('POST', path, { body });
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status !== 409) throw err;
  }
}
