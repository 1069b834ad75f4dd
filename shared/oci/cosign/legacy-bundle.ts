/**
 * cosign v2 signatures as Sigstore bundles, so one verifier (sigstore-js) checks both
 * formats: the payload's signature becomes a message signature, the certificate
 * annotation (and chain) the verification material, and the Rekor bundle annotation
 * (`{SignedEntryTimestamp, Payload: {body, integratedTime, logIndex, logID}}`) a
 * transparency log entry with its inclusion promise, exactly as cosign's own
 * bundle conversion lays them out.
 */
import { createHash } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { ANNOTATION_CERTIFICATE, ANNOTATION_CHAIN, ANNOTATION_REKOR_BUNDLE, ANNOTATION_SIGNATURE, type LegacySignature } from './signatures.js';

const BUNDLE_V01 = 'application/vnd.dev.sigstore.bundle+json;version=0.1';

/** Why a v2 payload does not sign `digest` (undefined when it does). */
export function legacyPayloadProblem(payload: Buffer, digest: string): string | undefined {
  let j: { critical?: { image?: Record<string, unknown>; type?: unknown } };
  try {
    j = JSON.parse(payload.toString('utf8')) as typeof j;
  } catch {
    return 'the signed payload is not JSON (not a cosign simple-signing payload)';
  }
  const named = j?.critical?.image?.['docker-manifest-digest'];
  if (typeof named !== 'string') return 'the signed payload names no critical.image.docker-manifest-digest';
  if (named !== digest) return `the signature is for ${named}, not ${digest}`;
  return undefined;
}

/** DER certificates of a PEM text (one or more CERTIFICATE blocks). */
export function pemCertificates(pem: string): Buffer[] {
  const out: Buffer[] = [];
  // indexOf, not /BEGIN([\s\S]*?)END/g: that regex rescans to the end from every BEGIN
  // without an END (quadratic in a registry-supplied annotation).
  const begin = '-----BEGIN CERTIFICATE-----';
  const end = '-----END CERTIFICATE-----';
  for (let from = 0; ; ) {
    const b = pem.indexOf(begin, from);
    if (b < 0) break;
    const e = pem.indexOf(end, b + begin.length);
    if (e < 0) break;
    out.push(Buffer.from(pem.slice(b + begin.length, e).replace(/\s+/g, ''), 'base64'));
    from = e + end.length;
  }
  return out;
}

/**
 * The bundle of one v2 signature. `keyless: false` (verification with a public key) takes
 * the signature alone, as cosign ignores certificate and log entry when given a key;
 * `keyless: true` needs the certificate and the Rekor bundle annotation.
 */
export function legacyToBundle(sig: LegacySignature, opts: { keyless: boolean }): Bundle {
  const a = sig.annotations;
  const signature = (a[ANNOTATION_SIGNATURE] ?? '').replace(/\s+/g, '');
  const messageSignature = {
    messageDigest: { algorithm: 'SHA2_256', digest: createHash('sha256').update(sig.payload).digest('base64') },
    signature,
  };
  if (!opts.keyless) {
    return bundleFromJSON({ mediaType: BUNDLE_V01, verificationMaterial: { publicKey: { hint: '' }, tlogEntries: [] }, messageSignature });
  }
  const certPem = a[ANNOTATION_CERTIFICATE];
  if (!certPem) throw new Error(`it carries no certificate (${ANNOTATION_CERTIFICATE}): it was signed with a key, so verify it with spec.verify.secretRef`);
  const certs = [...pemCertificates(certPem), ...pemCertificates(a[ANNOTATION_CHAIN] ?? '')];
  if (certs.length === 0) throw new Error(`its ${ANNOTATION_CERTIFICATE} annotation holds no PEM certificate`);
  const rekorText = a[ANNOTATION_REKOR_BUNDLE];
  if (!rekorText) {
    throw new Error(`it carries no transparency log entry (${ANNOTATION_REKOR_BUNDLE}); Fluxless verifies keyless signatures offline, so sign with cosign uploading to Rekor (the default)`);
  }
  let rekor: { SignedEntryTimestamp?: unknown; Payload?: { body?: unknown; integratedTime?: unknown; logIndex?: unknown; logID?: unknown } };
  try {
    rekor = JSON.parse(rekorText) as typeof rekor;
  } catch {
    throw new Error(`its ${ANNOTATION_REKOR_BUNDLE} annotation is not JSON`);
  }
  const p = rekor?.Payload;
  if (typeof rekor?.SignedEntryTimestamp !== 'string' || typeof p?.body !== 'string' || typeof p.integratedTime !== 'number' || typeof p.logIndex !== 'number' || typeof p.logID !== 'string') {
    throw new Error(`its ${ANNOTATION_REKOR_BUNDLE} annotation lacks SignedEntryTimestamp or Payload.body/integratedTime/logIndex/logID`);
  }
  let kind: { kind?: unknown; apiVersion?: unknown };
  try {
    kind = JSON.parse(Buffer.from(p.body, 'base64').toString('utf8')) as typeof kind;
  } catch {
    throw new Error('its transparency log entry body is not JSON');
  }
  const tlogEntry = {
    logIndex: String(p.logIndex),
    logId: { keyId: Buffer.from(p.logID, 'hex').toString('base64') },
    kindVersion: { kind: String(kind?.kind ?? ''), version: String(kind?.apiVersion ?? '') },
    integratedTime: String(p.integratedTime),
    inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
    canonicalizedBody: p.body,
  };
  return bundleFromJSON({
    mediaType: BUNDLE_V01,
    verificationMaterial: { x509CertificateChain: { certificates: certs.map((c) => ({ rawBytes: c.toString('base64') })) }, tlogEntries: [tlogEntry] },
    messageSignature,
  });
}
