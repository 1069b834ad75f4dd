/**
 * The registry client of an ImageRepository (also used by its ImagePolicies for digests),
 * with image-reflector-controller's authentication options:
 *
 * - `spec.secretRef`: a kubernetes.io/dockerconfigjson Secret (k8schain rules);
 * - `spec.serviceAccountName` (provider `generic`): the ServiceAccount's imagePullSecrets;
 * - `provider: aws`: an ECR token with the function's own AWS identity (the host must be ECR);
 * - `spec.certSecretRef`: `ca.crt`, `tls.crt` + `tls.key`; `spec.insecure`: plain HTTP.
 *
 * Failures are ImageAuthError with Flux's prefix (`failed to configure authentication
 * options: ...`, reason AuthenticationFailed); the cause is kept, so an API server that
 * cannot be reached is still seen as transient.
 */
import type { KubeClient } from '../kube/client.js';
import type { SecretReader } from '../kube/secrets.js';
import { RegistryClient, type RegistryClientOptions } from '../oci/client.js';
import { ecrCredential, type EcrOptions } from '../oci/ecr.js';
import { tlsFromSecret } from '../oci/auth.js';
import type { TlsOptions } from '../oci/http.js';
import { anonymousKeychain, pullSecretKeychain, staticKeychain, type Keychain, type PullSecretData } from '../oci/keychain.js';
import type { RepositoryName } from '../oci/reference.js';
import { FluxlessError, errorMessage } from '../util/errors.js';

/** Authentication could not be configured (Flux's AuthenticationFailed). */
export class ImageAuthError extends FluxlessError {
  constructor(message: string, opts: { cause?: unknown; hint?: string } = {}) {
    super('AuthenticationFailed', `failed to configure authentication options: ${message}`, opts);
  }
}

/** Process-wide registry settings of the image kinds (configureImageRegistries). */
export interface ImageRegistryDefaults {
  /** Dial another address for a registry host (`host[:port]` -> `ip:port`), like curl --resolve: mirrors, tests. */
  resolve?: Record<string, string>;
  /** Where and how to reach the ECR API for `provider: aws` (default: the function's AWS identity and region endpoints). */
  ecr?: EcrOptions;
}

let defaults: ImageRegistryDefaults = {};

/** Sets the process-wide registry settings of the image kinds (replaces the previous ones). */
export function configureImageRegistries(d: ImageRegistryDefaults): void {
  defaults = { ...d };
}

/** The ImageRepository settings that shape its client. */
export interface ImageRegistrySettings {
  namespace: string;
  repository: RepositoryName;
  secretRef?: string;
  certSecretRef?: string;
  serviceAccountName?: string;
  provider: 'generic' | 'aws';
  insecure: boolean;
}

/** What building the client may read. */
export interface ImageRegistryDeps {
  secrets: SecretReader;
  client: Pick<KubeClient, 'request'>;
}

async function secretData(deps: ImageRegistryDeps, ns: string, name: string, field: string): Promise<Record<string, string>> {
  try {
    return await deps.secrets.get(ns, name);
  } catch (err) {
    throw new ImageAuthError(`failed to get secret '${ns}/${name}': ${errorMessage(err)}`, {
      cause: err,
      hint: `create the Secret '${ns}/${name}' (${field}), or remove ${field}`,
    });
  }
}

async function serviceAccountPullSecrets(deps: ImageRegistryDeps, ns: string, name: string): Promise<PullSecretData[]> {
  let sa: { imagePullSecrets?: Array<{ name?: string }> };
  try {
    sa = await deps.client.request('GET', `/api/v1/namespaces/${encodeURIComponent(ns)}/serviceaccounts/${encodeURIComponent(name)}`);
  } catch (err) {
    throw new ImageAuthError(`failed to get service account '${ns}/${name}': ${errorMessage(err)}`, { cause: err, hint: 'create the ServiceAccount (spec.serviceAccountName), or remove the field' });
  }
  const out: PullSecretData[] = [];
  for (const ref of sa.imagePullSecrets ?? []) {
    if (!ref.name) continue;
    out.push({ data: await secretData(deps, ns, ref.name, `imagePullSecrets of ServiceAccount '${name}'`), name: `${ns}/${ref.name}` });
  }
  return out;
}

/**
 * Builds the client. `extra` passes request counting and the ECR endpoint (tests); throws
 * ImageAuthError.
 */
export async function imageRegistryClient(
  deps: ImageRegistryDeps,
  s: ImageRegistrySettings,
  extra: Omit<RegistryClientOptions, 'keychain' | 'tls' | 'insecure'> & { ecr?: EcrOptions; signal?: AbortSignal } = {},
): Promise<RegistryClient> {
  let keychain: Keychain = anonymousKeychain;
  const pull: PullSecretData[] = [];
  if (s.secretRef) pull.push({ data: await secretData(deps, s.namespace, s.secretRef, 'spec.secretRef'), name: `${s.namespace}/${s.secretRef}` });
  if (s.serviceAccountName && s.provider === 'generic') pull.push(...(await serviceAccountPullSecrets(deps, s.namespace, s.serviceAccountName)));
  if (pull.length) {
    try {
      keychain = pullSecretKeychain(pull);
    } catch (err) {
      throw new ImageAuthError(errorMessage(err), { cause: err, hint: (err as FluxlessError).hint });
    }
  } else if (s.provider === 'aws') {
    try {
      const cred = await ecrCredential(s.repository.registry, { ...defaults.ecr, ...extra.ecr, signal: extra.ecr?.signal ?? extra.signal });
      keychain = staticKeychain({ username: cred.username, password: cred.password }, 'ECR (provider aws)');
    } catch (err) {
      throw new ImageAuthError(`failed to get credential from aws: ${errorMessage(err)}`, { cause: err, hint: (err as FluxlessError).hint });
    }
  }
  let tls: TlsOptions | undefined;
  if (s.certSecretRef) {
    const data = await secretData(deps, s.namespace, s.certSecretRef, 'spec.certSecretRef');
    try {
      tls = tlsFromSecret(data, `${s.namespace}/${s.certSecretRef}`);
    } catch (err) {
      throw new ImageAuthError(errorMessage(err), { cause: err });
    }
  }
  const { ecr: _ecr, signal: _signal, ...opts } = extra;
  const resolve = defaults.resolve || opts.resolve ? { ...defaults.resolve, ...opts.resolve } : undefined;
  return new RegistryClient({ ...opts, ...(resolve ? { resolve } : {}), keychain, tls, insecure: s.insecure });
}
