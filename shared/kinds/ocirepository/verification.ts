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
import { OciError, type OciVerifyHook, type OciVerification, type RegistryClient, type RepositoryName } from '../../oci/index.js';
import type { StatusUpdate } from '../../reconcile/status.js';
import { getCondition, type ObjectRecord } from '../../state/records.js';
import { errorMessage } from '../../util/errors.js';

/** The condition Flux sets for `spec.verify`. */
export const SOURCE_VERIFIED = 'SourceVerified';

/** Flux's provider label in messages: `cosign`, or `cosign keyless` without a secretRef. */
function providerLabel(v: OciVerification): string {
  return v.secretRef ? v.provider : `${v.provider} keyless`;
}

/** A check of one manifest digest against `verify` (its Secrets read in `namespace`), failing with Flux's VerificationError. */
export type CosignCheck = (client: RegistryClient, repo: RepositoryName, digest: string, signal: AbortSignal) => Promise<void>;

/**
 * The cosign check `verify` asks for, with Secrets read in `namespace`: the `*.pub` keys of
 * `secretRef`, else keyless against `trustedRootSecretRef` or the public Sigstore root. A
 * failure is OciError VerificationError with Flux's message.
 */
export function cosignCheck(secrets: SecretReader, namespace: string, verify: OciVerification): CosignCheck {
  return async (client, repo, digest, signal) => {
    try {
      const { verifyCosign, publicKeysFromSecret, parseTrustedRoot, publicTrustedRoot, TRUSTED_ROOT_KEY } = await import('../../oci/cosign/index.js');
      if (verify.secretRef) {
        const name = `${namespace}/${verify.secretRef.name}`;
        const data = await secrets.get(namespace, verify.secretRef.name);
        await verifyCosign(client, repo, digest, { kind: 'keys', keys: publicKeysFromSecret(data, name) }, signal);
        return;
      }
      let root;
      if (verify.trustedRootSecretRef) {
        const name = `${namespace}/${verify.trustedRootSecretRef.name}`;
        let data;
        try {
          data = await secrets.get(namespace, verify.trustedRootSecretRef.name);
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
  };
}

/** The fetch hook for `verify` on the OCIRepository `rec` (see the module comment). */
export function verifyHook(secrets: SecretReader, key: ObjectKey, rec: ObjectRecord, verify: OciVerification): OciVerifyHook {
  const cond = getCondition(rec, SOURCE_VERIFIED);
  const generation = Number(rec.object?.metadata.generation ?? 1);
  return {
    needed: (revision) => rec.status.artifact?.revision !== revision || cond?.status !== 'True' || cond.observedGeneration !== generation,
    run: cosignCheck(secrets, key.namespace, verify),
  };
}

/**
 * `SourceVerified` on a successful reconcile: True with `verifiedMessage` when a signature was
 * checked in it, left as it is when it was checked before, removed when the spec has no
 * `verify` (Flux).
 */
export function withVerification(update: StatusUpdate, hasVerify: boolean, verifiedMessage: string | undefined): StatusUpdate {
  if (!hasVerify) return { ...update, removeConditions: [...(update.removeConditions ?? []), SOURCE_VERIFIED] };
  if (verifiedMessage === undefined) return update;
  return { ...update, conditions: [...(update.conditions ?? []), { type: SOURCE_VERIFIED, status: 'True', reason: 'Succeeded', message: verifiedMessage }] };
}

/** What a failed check adds to the failure status (Flux: SourceVerified=False, VerificationError). */
export function unverifiedCondition(message: string): NonNullable<StatusUpdate['conditions']>[number] {
  return { type: SOURCE_VERIFIED, status: 'False', reason: 'VerificationError', message };
}
