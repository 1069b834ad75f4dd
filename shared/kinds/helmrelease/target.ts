/**
 * Where a HelmRelease releases to (kube/targets.ts), as helm-controller's
 * buildRESTClientGetter: the management cluster, or the cluster of `spec.kubeConfig`, as
 * `serviceAccountName` (else the configured `defaultServiceAccount`) when one is set.
 * Release storage, every helm command (install, upgrade, test, rollback, uninstall), drift
 * detection, the wait, CRDs and the inventory's discovery go to the target; values,
 * `valuesFrom`, chart sources and the kubeconfig Secret are read from the management
 * cluster, and the status stays in the store (with `status.targetCluster` for a remote).
 *
 * helm gets the target's credentials per command: for a remote cluster its kubeconfig is
 * written 0600 into a private temp dir for that command only (HelmRunner CallOptions
 * `kubeConfig`), never the management cluster's; an impersonated account is passed as
 * `--kube-as-user system:serviceaccount:<ns>:<name>` (Flux sets no groups).
 */
import type { HelmRelease } from '../../helm/release-spec.js';
import type { CallOptions, HelmRunner } from '../../helm/runner.js';
import { isNotFound } from '../../kube/client.js';
import { resolveTarget, unreachableCluster, type ClusterIdentity, type ClusterUnreachableError, type Target, type TargetSpec } from '../../kube/targets.js';
import type { ReconcileServices } from '../../reconcile/contract.js';
import { ReconcileFailure, transientCause } from '../../reconcile/failure.js';
import { EnvironmentError, errorMessage } from '../../util/errors.js';
import { helmRunnerFor, offlineHelmRunner } from './runner.js';

/** helm-controller's reason when the target's client cannot be built (kubeconfig Secret or ConfigMap unusable). */
export const REST_CLIENT_ERROR = 'RESTClientError';

/** The target fields of a HelmRelease (helm-controller's messages for the kubeconfig Secret). */
export function targetSpecOf(hr: Pick<HelmRelease, 'metadata' | 'spec'>): TargetSpec {
  return {
    namespace: hr.metadata.namespace,
    kubeConfig: hr.spec.kubeConfig,
    serviceAccountName: hr.spec.serviceAccountName,
    messages: 'helmrelease',
  };
}

/**
 * Resolves the HelmRelease's target. A reference that cannot be used is a ReconcileFailure
 * (RESTClientError, Flux's message); an unreachable management cluster stays transient.
 */
export async function releaseTargetOf(svc: ReconcileServices, hr: Pick<HelmRelease, 'metadata' | 'spec'>): Promise<Target> {
  try {
    return await resolveTarget(svc, targetSpecOf(hr));
  } catch (err) {
    if (transientCause(err)) throw err;
    throw new ReconcileFailure(REST_CLIENT_ERROR, errorMessage(err), { cause: err });
  }
}

/** `status.targetCluster` of a target: name and server for a remote cluster, undefined (removed) for the management one. */
export function targetClusterField(target: Target): ClusterIdentity | undefined {
  return target.remote ? { name: target.cluster.name, server: target.cluster.server } : undefined;
}

/** The unreachable remote cluster behind `err`, when the target is remote (the object's failure, never the worker's). */
export function remoteDown(target: Target | undefined, err: unknown): ClusterUnreachableError | undefined {
  return target?.remote ? unreachableCluster(err) : undefined;
}

/** The helm verbs a release runs, bound to its target. */
export type ReleaseHelm = Pick<HelmRunner, 'install' | 'upgrade' | 'rollback' | 'uninstall' | 'test' | 'history' | 'status' | 'getValues'>;

/**
 * The helm verbs for `target`: the management cluster's runner (its kubeconfig), or for a
 * remote cluster a runner without cluster access of its own given the target's kubeconfig
 * per command (an EKS token is refreshed between commands); `--kube-as-user` when the
 * target impersonates.
 */
export async function helmForTarget(svc: Pick<ReconcileServices, 'client' | 'settings'>, target: Target): Promise<ReleaseHelm> {
  const runner = target.remote ? await offlineHelmRunner(svc) : await helmRunnerFor(svc);
  const bind = async (): Promise<Pick<CallOptions, 'asUser' | 'kubeConfig'>> => {
    const kubeConfig = target.remote ? await target.toolKubeConfig() : undefined;
    if (target.remote && !kubeConfig) throw new EnvironmentError(`no kubeconfig for cluster '${target.cluster.name}' (${target.cluster.server}) to run helm with`);
    return { ...(kubeConfig ? { kubeConfig } : {}), ...(target.impersonate ? { asUser: target.impersonate } : {}) };
  };
  return {
    install: async (req) => runner.install({ ...req, ...(await bind()) }),
    upgrade: async (req) => runner.upgrade({ ...req, ...(await bind()) }),
    rollback: async (req) => runner.rollback({ ...req, ...(await bind()) }),
    uninstall: async (req) => runner.uninstall({ ...req, ...(await bind()) }),
    test: async (req) => runner.test({ ...req, ...(await bind()) }),
    history: async (name, ns, call = {}) => runner.history(name, ns, { ...call, ...(await bind()) }),
    status: async (name, ns, call = {}) => runner.status(name, ns, { ...call, ...(await bind()) }),
    getValues: async (name, ns, call = {}) => runner.getValues(name, ns, { ...call, ...(await bind()) }),
  };
}

/**
 * helm-controller's check before uninstalling on the management cluster as an account: the
 * ServiceAccount is looked up there. `missing` when it is gone (Flux then skips the
 * uninstall); a failure that is not transient is returned with Flux's message.
 */
export async function accountForUninstall(svc: Pick<ReconcileServices, 'client'>, target: Target, namespace: string): Promise<{ ok: true } | { missing: string } | { failed: string }> {
  if (target.remote || !target.impersonate) return { ok: true };
  const name = target.impersonate.slice(target.impersonate.lastIndexOf(':') + 1);
  try {
    await svc.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(namespace)}/serviceaccounts/${encodeURIComponent(name)}`);
    return { ok: true };
  } catch (err) {
    if (isNotFound(err)) return { missing: name };
    if (transientCause(err)) throw err;
    return { failed: `failed to confirm ServiceAccount '${name}' can be used to uninstall release: ${errorMessage(err)}` };
  }
}
