/**
 * Flux's multi-tenancy lockdown (kustomize-controller / helm-controller flags), as reconcile
 * settings every applier reads the same way:
 *  - `defaultServiceAccount` (`--default-service-account`): the account to impersonate when
 *    an object sets no `serviceAccountName`;
 *  - `noCrossNamespaceRefs` (`--no-cross-namespace-refs`): a Kustomization's `sourceRef`
 *    (a HelmRelease's chart source) must be in its own namespace, else AccessDenied, stalled;
 *    `dependsOn` is not checked (as Flux);
 *  - `noRemoteBases` (`--no-remote-bases`): kustomize builds never fetch remote bases;
 *  - `insecureKubeconfigExec` / `insecureKubeconfigTLS` (`--insecure-kubeconfig-exec`,
 *    `--insecure-kubeconfig-tls`): what a kubeconfig Secret may keep.
 * Unset settings are Flux's defaults (all off).
 */
import type { ReconcileSettings } from '../reconcile/contract.js';
import type { KmsOptions } from '../sops/index.js';
import type { EksOptions } from './eks.js';
import type { KubeConfigSanitizeOptions } from './remote-kubeconfig.js';

/** The tenancy settings, as optional reconcile settings. */
export interface TenancySettings {
  defaultServiceAccount?: string;
  noCrossNamespaceRefs?: boolean;
  noRemoteBases?: boolean;
  insecureKubeconfigExec?: boolean;
  insecureKubeconfigTLS?: boolean;
  /** AWS KMS endpoint and credentials for SOPS (default: the SDK's chain and real endpoints). */
  sopsKms?: KmsOptions;
  /** EKS token credentials and endpoints (default: the SDK's chain and real endpoints). */
  eks?: EksOptions;
  /** How long an unused remote cluster client (and its discovery) is kept, ms (default 5 min). */
  remoteIdleMs?: number;
}

/** The tenancy settings in effect (Flux's defaults where unset). */
export function tenancyOf(settings: ReconcileSettings): TenancySettings {
  return settings as ReconcileSettings & TenancySettings;
}

/** The kubeconfig sanitising options of the settings. */
export function sanitizeOptionsOf(settings: ReconcileSettings): KubeConfigSanitizeOptions {
  const t = tenancyOf(settings);
  return { insecureExec: t.insecureKubeconfigExec, insecureTLS: t.insecureKubeconfigTLS };
}

/** The ServiceAccount to impersonate: the object's, else the default one, else none. */
export function effectiveServiceAccount(settings: ReconcileSettings, serviceAccountName: string | undefined): string | undefined {
  return serviceAccountName || tenancyOf(settings).defaultServiceAccount || undefined;
}

/**
 * Flux's cross-namespace check of a source reference: the AccessDenied message when the
 * lockdown forbids it, undefined when allowed.
 */
export function crossNamespaceDenial(settings: ReconcileSettings, ownNamespace: string, ref: { kind: string; namespace: string; name: string }): string | undefined {
  if (!tenancyOf(settings).noCrossNamespaceRefs || ref.namespace === ownNamespace) return undefined;
  return `can't access '${ref.kind}/${ref.namespace}/${ref.name}', cross-namespace references have been blocked`;
}

/** Flux's `AccessDenied` reason (apis/acl). */
export const ACCESS_DENIED_REASON = 'AccessDenied';
