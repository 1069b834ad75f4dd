/**
 * The Secrets an OCIRepository authenticates with, read through the reconcile's SecretReader:
 * `spec.secretRef` (a kubernetes.io/dockerconfigjson pull Secret) and `spec.certSecretRef`
 * (`ca.crt`, `tls.crt` + `tls.key`). A Secret that cannot be read fails with Flux's
 * AuthenticationFailed messages (`failed to get credential: ...`, `failed to generate
 * transport for '<url>': ...`); the cause is kept, so an unreachable API server is still
 * seen as transient.
 */
import type { ObjectKey } from '../../kube/object.js';
import type { SecretReader } from '../../kube/secrets.js';
import { OciError, type OciAuth, type OciRepositorySpec } from '../../oci/index.js';
import { errorMessage } from '../../util/errors.js';

/** The pull and TLS Secrets of `spec`, decoded (undefined when the spec names neither). */
export async function ociAuthFor(secrets: SecretReader, key: ObjectKey, spec: OciRepositorySpec): Promise<OciAuth | undefined> {
  if (!spec.secretRef && !spec.certSecretRef) return undefined;
  const auth: OciAuth = {};
  if (spec.secretRef) {
    const name = `${key.namespace}/${spec.secretRef.name}`;
    try {
      auth.pullSecret = { data: await secrets.get(key.namespace, spec.secretRef.name), name };
    } catch (err) {
      throw new OciError('AuthenticationFailed', `failed to get credential: ${errorMessage(err)}`, {
        cause: err,
        hint: `create the kubernetes.io/dockerconfigjson Secret '${name}' (spec.secretRef), or remove spec.secretRef for anonymous pulls`,
      });
    }
  }
  if (spec.certSecretRef) {
    const name = `${key.namespace}/${spec.certSecretRef.name}`;
    try {
      auth.certSecret = { data: await secrets.get(key.namespace, spec.certSecretRef.name), name };
    } catch (err) {
      throw new OciError('AuthenticationFailed', `failed to generate transport for '${spec.url}': ${errorMessage(err)}`, {
        cause: err,
        hint: `create the Secret '${name}' (spec.certSecretRef) with ca.crt, or tls.crt and tls.key`,
      });
    }
  }
  return auth;
}
