/**
 * `spec.verify` of an OCIRepository, as source-controller runs it: the revision's signature
 * is checked before the pull when the revision differs from the stored artifact's, the
 * generation differs from the `SourceVerified` condition's, or the last check failed; the
 * keys come from `verify.secretRef` (`*.pub`), keyless trust from
 * `verify.trustedRootSecretRef` or the public Sigstore root. A failure is Flux's
 * `VerificationError`: `failed to verify the signature using provider 'cosign[ keyless]': ...`,
 * retried on the interval. The cosign code (and sigstore-js) is loaded on first use.
 */
import type { ObjectKey } from '../../kube/object.js';
import type { SecretReader } from '../../kube/secrets.js';
import { OciError, type OciVerifyHook, type OciVerification } from '../../oci/index.js';
import type { StatusUpdate } from '../../reconcile/status.js';
import { getCondition, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';

/** The condition Flux sets for `spec.verify`. */
export const SOURCE_VERIFIED = 'SourceVerified';

/** Flux's provider label in messages: `cosign`, or `cosign keyless` without a secretRef. */
function providerLabel(v: OciVerification): string {
  return v.secretRef ? v.provider : `${v.provider} keyless`;
}

/** The fetch hook for `verify` on the object `rec` (see the module comment). */
export function verifyHook(secrets: SecretReader, key: ObjectKey, rec: ObjectRecord, verify: OciVerification): OciVerifyHook {
  const cond = getCondition(rec, SOURCE_VERIFIED);
  const generation = Number(rec.object?.metadata.generation ?? 1);
  return {
    needed: (revision) => rec.status.artifact?.revision !== revision || cond?.status !== 'True' || cond.observedGeneration !== generation,
    run: async (client, repo, digest, signal) => {
      try {
        const { verifyCosign, publicKeysFromSecret, parseTrustedRoot, publicTrustedRoot, TRUSTED_ROOT_KEY } = await import('../../oci/cosign/index.js');
        if (verify.secretRef) {
          const name = `${key.namespace}/${verify.secretRef.name}`;
          const data = await secrets.get(key.namespace, verify.secretRef.name);
          await verifyCosign(client, repo, digest, { kind: 'keys', keys: publicKeysFromSecret(data, name) }, signal);
          return;
        }
        let root;
        if (verify.trustedRootSecretRef) {
          const name = `${key.namespace}/${verify.trustedRootSecretRef.name}`;
          let data;
          try {
            data = await secrets.get(key.namespace, verify.trustedRootSecretRef.name);
          } catch (err) {
            throw new Error(`failed to read trusted root from secret '${name}': ${errorMessage(err)}`, { cause: err });
          }
          const text = data[TRUSTED_ROOT_KEY];
          if (text === undefined) throw new Error(`failed to read trusted root from secret '${name}': key '${TRUSTED_ROOT_KEY}' not found`);
          root = parseTrustedRoot(text, `'${TRUSTED_ROOT_KEY}' of Secret '${name}'`);
        } else {
          root = await publicTrustedRoot();
        }
        await verifyCosign(client, repo, digest, { kind: 'keyless', root, identities: verify.matchOIDCIdentity }, signal);
      } catch (err) {
        const hint = err instanceof OciError ? err.hint : undefined;
        throw new OciError('VerificationError', `failed to verify the signature using provider '${providerLabel(verify)}': ${errorMessage(err)}`, { cause: err, ...(hint ? { hint } : {}) });
      }
    },
  };
}

/** What a verified revision adds to a successful status (Flux: SourceVerified=True, Succeeded). */
export function verifiedCondition(revision: string): NonNullable<StatusUpdate['conditions']>[number] {
  return { type: SOURCE_VERIFIED, status: 'True', reason: 'Succeeded', message: `verified signature of revision ${revision}` };
}

/** What a failed check adds to the failure status (Flux: SourceVerified=False, VerificationError). */
export function unverifiedCondition(message: string): NonNullable<StatusUpdate['conditions']>[number] {
  return { type: SOURCE_VERIFIED, status: 'False', reason: 'VerificationError', message };
}
