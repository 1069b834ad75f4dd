/**
 * From an object's auth settings (pull Secret, TLS Secret, provider, insecure) to a
 * RegistryClient, with Flux's failure reasons and message prefixes:
 * `failed to get credential: ...`, `failed to get credential from aws: ...`,
 * `failed to generate transport for '<url>': ...` (all AuthenticationFailed).
 */
import { errorMessage, FluxlessError } from '../util/errors.js';
import { RegistryClient, type RegistryClientOptions } from './client.js';
import { ecrCredential, type EcrOptions } from './ecr.js';
import { OciError } from './errors.js';
import type { TlsOptions } from './http.js';
import { anonymousKeychain, pullSecretKeychain, staticKeychain, type Credential, type Keychain, type PullSecretData } from './keychain.js';
import type { RepositoryName } from './reference.js';

/** The decoded Secrets and provider settings an OCI fetch authenticates with. */
export interface OciAuth {
  /** `spec.secretRef`: a kubernetes.io/dockerconfigjson Secret's decoded data. */
  pullSecret?: PullSecretData;
  /**
   * Fixed credentials for the registry of this call, when they do not come from a docker
   * config: a HelmRepository (type oci) Secret with `username`/`password`, `flux push --creds`.
   * Ignored when `pullSecret` is given.
   */
  credentials?: Credential;
  /** `spec.certSecretRef`: decoded `ca.crt`, `tls.crt`, `tls.key`. */
  certSecret?: { data: Record<string, string>; name?: string };
  /** How to reach ECR for `provider: aws` (endpoint/credentials overrides; default: the function's). */
  ecr?: EcrOptions;
}

/** The settings of the object that matter for the client. */
export interface OciClientSettings {
  /** The URL as written, for messages. */
  url: string;
  repository: RepositoryName;
  provider?: 'generic' | 'aws';
  insecure?: boolean;
}

/** TLS options from a certSecretRef's data (Flux: both tls.crt and tls.key, or neither). */
export function tlsFromSecret(data: Record<string, string>, name = 'certSecretRef'): TlsOptions {
  const ca = data['ca.crt'];
  const cert = data['tls.crt'];
  const key = data['tls.key'];
  if ((cert && !key) || (!cert && key)) {
    throw new FluxlessError('InvalidTLSSecret', `secret '${name}' must contain both tls.crt and tls.key, or neither`);
  }
  if (!ca && !cert) {
    throw new FluxlessError('InvalidTLSSecret', `secret '${name}' must contain either 'ca.crt' or both 'tls.crt' and 'tls.key'`);
  }
  return { ...(ca ? { ca } : {}), ...(cert ? { cert, key } : {}) };
}

/**
 * Builds the client for an OCI object: the pull Secret's keychain, else the given
 * credentials (for the object's registry only), else (provider aws) an
 * ECR token for the registry, else anonymous; TLS from the cert Secret (`insecure` without
 * one skips verification, as Flux does for OCIRepository only). Throws OciError
 * (AuthenticationFailed) with Flux's message.
 */
export async function buildRegistryClient(
  settings: OciClientSettings,
  auth: OciAuth | undefined,
  extra: Omit<RegistryClientOptions, 'keychain' | 'tls' | 'insecure'> & { signal?: AbortSignal } = {},
): Promise<RegistryClient> {
  let keychain: Keychain = anonymousKeychain;
  if (auth?.pullSecret) {
    try {
      keychain = pullSecretKeychain([auth.pullSecret]);
    } catch (err) {
      throw new OciError('AuthenticationFailed', `failed to get credential: ${errorMessage(err)}`, { cause: err });
    }
  } else if (auth?.credentials) {
    const reg = settings.repository.registry;
    const cred = auth.credentials;
    keychain = { description: 'the given credentials', resolve: async (t) => (t.registry === reg ? cred : undefined) };
  } else if (settings.provider === 'aws') {
    try {
      const cred = await ecrCredential(settings.repository.registry, { ...auth?.ecr, signal: auth?.ecr?.signal ?? extra.signal });
      keychain = staticKeychain({ username: cred.username, password: cred.password }, 'ECR (provider aws)');
    } catch (err) {
      throw new OciError('AuthenticationFailed', `failed to get credential from aws: ${errorMessage(err)}`, { cause: err, hint: (err as FluxlessError).hint });
    }
  }
  let tls: TlsOptions | undefined;
  if (auth?.certSecret) {
    try {
      tls = tlsFromSecret(auth.certSecret.data, auth.certSecret.name);
    } catch (err) {
      throw new OciError('AuthenticationFailed', `failed to generate transport for '${settings.url}': ${errorMessage(err)}`, { cause: err });
    }
  } else if (settings.insecure) {
    tls = { insecureSkipVerify: true };
  }
  const { signal: _signal, ...clientOpts } = extra;
  return new RegistryClient({ ...clientOpts, keychain, tls, insecure: settings.insecure === true });
}
