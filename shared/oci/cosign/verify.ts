/**
 * Cosign verification of an OCI manifest, as source-controller's cosign verifier does it
 * (cosign v3 library, `internal/oci/cosign`), with the cryptography done by sigstore-js
 * (`@sigstore/verify`: certificate chains, SCTs, Rekor SETs and inclusion proofs, DSSE):
 *
 * - Sigstore bundles (cosign v3) are read first; only when there are none are cosign v2
 *   signatures read (the `.sig` tag), as cosign's verifier falls back.
 * - A bundle must hold a DSSE envelope whose in-toto statement names the manifest digest
 *   among its subjects. A v2 signature's payload must name the digest
 *   (`critical.image.docker-manifest-digest`); it is turned into a bundle (message signature
 *   over the payload, the certificate chain, the Rekor entry with its SET) and verified the
 *   same way.
 * - With public keys (Flux: `*.pub` in `verify.secretRef`) the signature must verify with one
 *   of them; the transparency log is not required (Flux sets IgnoreTlog for keys).
 * - Keyless: the certificate must chain to a Fulcio CA of the trusted root at the time the
 *   transparency log (or a timestamp authority) recorded, carry an SCT from a CT log of the
 *   root, the Rekor entry must be signed by a log of the root and match the signature, and
 *   the certificate's OIDC issuer and subject must match one `matchOIDCIdentity` entry (Go
 *   regexps, unanchored, as cosign matches them; none = any identity).
 *
 * Verification is offline: a v2 keyless signature without its Rekor bundle annotation is
 * refused rather than looked up online.
 */
import type { KeyObject } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import type { X509Certificate } from '@sigstore/core';
import type { TrustedRoot } from '@sigstore/protobuf-specs';
import { Verifier, toSignedEntity, toTrustMaterial, type Signer } from '@sigstore/verify';
import type { RegistryClient } from '../client.js';
import { OciError } from '../errors.js';
import { formatRepository, type RepositoryName } from '../reference.js';
import type { OidcIdentityMatch } from '../spec.js';
import { GoRegexp } from '../../util/go-regexp.js';
import { legacyToBundle, legacyPayloadProblem } from './legacy-bundle.js';
import { findSignatures, signatureTag } from './signatures.js';

/** What the signatures must be checked against. */
export type CosignTrust =
  /** Public keys (name, for messages, and key). */
  | { kind: 'keys'; keys: Array<{ name: string; key: KeyObject }> }
  /** Keyless: the Sigstore trusted root and the identities accepted. */
  | { kind: 'keyless'; root: TrustedRoot; identities: OidcIdentityMatch[] };

/** A successful verification. */
export interface CosignVerified {
  /** The manifest digest verified. */
  digest: string;
  /** Which signature: `bundle` (cosign v3) or `simple-signing` (cosign v2). */
  format: 'bundle' | 'simple-signing';
  /** The key name, or the certificate's issuer and subject. */
  signer: string;
}

/** No signature verified; the message says what was found and why each one failed. */
export class CosignVerificationError extends OciError {
  constructor(message: string, options?: { cause?: unknown; hint?: string }) {
    super('VerificationError', message, options);
  }
}

const IN_TOTO = 'application/vnd.in-toto+json';
const EMPTY_ROOT = { mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1', tlogs: [], certificateAuthorities: [], ctlogs: [], timestampAuthorities: [] } as unknown as TrustedRoot;

/**
 * Verifies that `digest` in `repo` carries a cosign signature that `trust` accepts; throws
 * CosignVerificationError (Flux's `no matching signatures were found for '<ref>'`, with
 * the reasons) otherwise. Registry errors are thrown as they are.
 */
export async function verifyCosign(client: RegistryClient, repo: RepositoryName, digest: string, trust: CosignTrust, signal?: AbortSignal): Promise<CosignVerified> {
  const ref = `${formatRepository(repo)}@${digest}`;
  const found = await findSignatures(client, repo, digest, signal);
  const fail = (detail: string): never => {
    throw new CosignVerificationError(`no matching signatures were found for '${ref}': ${detail}`, {
      hint:
        trust.kind === 'keys'
          ? 'sign the artifact with the private key of one of the *.pub keys in spec.verify.secretRef (cosign sign --key), or add the signer\'s public key to that Secret'
          : 'sign the artifact keylessly (cosign sign) with an identity that spec.verify.matchOIDCIdentity accepts, or correct the issuer/subject patterns',
    });
  };
  if (found.bundles.length === 0 && found.legacy.length === 0) {
    fail(`the artifact has no cosign signature (no Sigstore bundle among its referrers, no tag ${signatureTag(digest)})`);
  }

  const candidates: Array<{ what: string; format: CosignVerified['format']; bundle: () => { bundle: Bundle; artifact?: Buffer } }> = [];
  found.bundles.forEach((json, i) => {
    candidates.push({ what: `bundle ${i + 1}`, format: 'bundle', bundle: () => ({ bundle: readBundle(json, digest) }) });
  });
  found.legacy.forEach((sig, i) => {
    candidates.push({
      what: `signature ${i + 1}`,
      format: 'simple-signing',
      bundle: () => {
        const problem = legacyPayloadProblem(sig.payload, digest);
        if (problem) throw new Error(problem);
        return { bundle: legacyToBundle(sig, { keyless: trust.kind === 'keyless' }), artifact: sig.payload };
      },
    });
  });

  const reasons: string[] = [];
  if (trust.kind === 'keys') {
    if (trust.keys.length === 0) fail('the verify Secret holds no public key (keys named *.pub)');
    for (const { name, key } of trust.keys) {
      const verifier = new Verifier(
        toTrustMaterial(EMPTY_ROOT, () => ({ publicKey: key, validFor: () => true })),
        { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 },
      );
      for (const c of candidates) {
        try {
          const { bundle, artifact } = c.bundle();
          if (bundle.verificationMaterial.content.$case !== 'publicKey') throw new Error('it is signed keylessly (a Fulcio certificate), not with a key: verify it with spec.verify.matchOIDCIdentity and no secretRef');
          // Flux sets IgnoreTlog for keys: log entries a key-signed bundle carries (cosign uploads by default) are not checked.
          verifier.verify({ ...toSignedEntity(bundle, artifact), tlogEntries: [], timestamps: [] });
          return { digest, format: c.format, signer: name };
        } catch (err) {
          reasons.push(`${c.what} with ${name}: ${reasonOf(err)}`);
        }
      }
    }
    return fail(reasons.join('; '));
  }

  const verifier = new Verifier(toTrustMaterial(trust.root), { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 });
  for (const c of candidates) {
    let signer: Signer;
    try {
      const { bundle, artifact } = c.bundle();
      if (bundle.verificationMaterial.content.$case === 'publicKey') throw new Error('it is signed with a key, not a Fulcio certificate: verify it with spec.verify.secretRef');
      const entity = toSignedEntity(bundle, artifact);
      signer = verifier.verify(entity);
      if (entity.key.$case === 'certificate') checkCodeSigning(entity.key.certificate);
    } catch (err) {
      reasons.push(`${c.what}: ${reasonOf(err)}`);
      continue;
    }
    const issuer = signer.identity?.extensions?.issuer ?? '';
    const subject = signer.identity?.subjectAlternativeName ?? '';
    if (!identityMatches(trust.identities, issuer, subject)) {
      reasons.push(`${c.what}: the certificate's identity (issuer '${issuer}', subject '${subject}') matches no spec.verify.matchOIDCIdentity entry`);
      continue;
    }
    return { digest, format: c.format, signer: `issuer '${issuer}', subject '${subject}'` };
  }
  return fail(reasons.join('; '));
}

/** True when `identities` is empty or one entry's issuer and subject regexps both match (cosign: unanchored). */
export function identityMatches(identities: OidcIdentityMatch[], issuer: string, subject: string): boolean {
  if (identities.length === 0) return true;
  return identities.some((m) => GoRegexp.compile(m.issuer).test(issuer) && GoRegexp.compile(m.subject).test(subject));
}

const EXT_KEY_USAGE = '2.5.29.37';
const CODE_SIGNING = '1.3.6.1.5.5.7.3.3';

/** The leaf must be a code-signing certificate, as cosign's x509 verification requires (sigstore-js does not check it). */
function checkCodeSigning(cert: X509Certificate): void {
  const ext = cert.extension(EXT_KEY_USAGE);
  const usages = ext?.valueObj.subs[0]?.subs.map((s) => s.toOID()) ?? [];
  if (!usages.includes(CODE_SIGNING)) throw new Error('the certificate is not for code signing (its extended key usage lacks codeSigning)');
}

/** Parses a cosign v3 bundle and checks that its DSSE statement names `digest`. */
function readBundle(json: unknown, digest: string): Bundle {
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    throw new Error(`not a valid Sigstore bundle (${reasonOf(err)})`, { cause: err });
  }
  if (bundle.content.$case !== 'dsseEnvelope') throw new Error('the bundle does not contain a DSSE envelope');
  const env = bundle.content.dsseEnvelope;
  if (env.payloadType !== IN_TOTO) throw new Error(`the DSSE payload type is '${env.payloadType}', expected ${IN_TOTO}`);
  let statement: { subject?: Array<{ digest?: Record<string, string> }> };
  try {
    statement = JSON.parse(Buffer.from(env.payload).toString('utf8')) as typeof statement;
  } catch {
    throw new Error('the DSSE payload is not an in-toto statement (not JSON)');
  }
  const hex = digest.slice('sha256:'.length);
  const subjects = Array.isArray(statement.subject) ? statement.subject : [];
  if (!subjects.some((s) => typeof s?.digest?.sha256 === 'string' && s.digest.sha256.toLowerCase() === hex)) {
    throw new Error(`the signed statement does not name ${digest} among its subjects (it was signed for another artifact)`);
  }
  return bundle;
}

/** What sigstore-js's error codes mean for the user (its messages alone are terse). */
const CODE_CONTEXT: Record<string, string> = {
  TLOG_BODY_ERROR: 'the transparency log entry does not match the signature',
  TLOG_INCLUSION_PROMISE_ERROR: 'the transparency log entry is not signed by a log of the trusted root',
  TLOG_INCLUSION_PROOF_ERROR: 'the transparency log inclusion proof does not verify against a log of the trusted root',
  TLOG_MISSING_INCLUSION_ERROR: 'the transparency log entry has neither an inclusion promise nor a proof',
  TLOG_ERROR: 'no transparency log entry',
  CERTIFICATE_ERROR: 'the certificate is not trusted (chain to a Fulcio CA of the trusted root, validity, SCT)',
  TIMESTAMP_ERROR: 'no trusted time of signing (transparency log or timestamp authority)',
  PUBLIC_KEY_ERROR: 'the public key',
};

function reasonOf(err: unknown): string {
  const e = err as { message?: unknown; code?: unknown; fields?: unknown };
  let msg = typeof e?.message === 'string' ? e.message : String(err);
  if (Array.isArray(e?.fields) && e.fields.length) msg = `${msg}: ${e.fields.join(', ')}`;
  const context = typeof e?.code === 'string' ? CODE_CONTEXT[e.code] : undefined;
  return context ? `${context}: ${msg}` : msg;
}
