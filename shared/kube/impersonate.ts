/**
 * Impersonation as kustomize-controller and helm-controller do it (fluxcd/pkg
 * runtime/client `setImpersonationConfig`): the controller keeps its own credentials and
 * sends `Impersonate-User: system:serviceaccount:<namespace>:<name>` with every request.
 * Flux sets no groups; the API server then adds the account's groups itself
 * (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`, `system:authenticated`),
 * so RBAC bound to the ServiceAccount or to its groups applies.
 *
 * The impersonating client is a thin view of a base client: it shares its connections (and
 * the caller shares discovery), so a tenant's reconcile costs no extra sockets.
 */
import type { KubeClient, RequestOptions } from './client.js';

/** The user name of a ServiceAccount, as the API server authenticates it. */
export function serviceAccountUser(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/** Who a client acts as: a user name (Flux impersonates a user only, never groups). */
export interface Impersonation {
  user: string;
}

/** The impersonation headers of `who`. */
export function impersonationHeaders(who: Impersonation): Record<string, string> {
  return { 'Impersonate-User': who.user };
}

/** A client that sends every request of `base` as `who`; closing it leaves `base` open. */
export function impersonatingClient(base: KubeClient, who: Impersonation): KubeClient & { readonly impersonating: Impersonation } {
  const headers = impersonationHeaders(who);
  let own = 0;
  return {
    server: base.server,
    impersonating: who,
    request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
      own++;
      return base.request<T>(method, path, { ...opts, headers: { ...opts.headers, ...headers } });
    },
    get requestCount() {
      return own;
    },
    close() {
      /* the base client belongs to its owner */
    },
  };
}
