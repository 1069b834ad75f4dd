/**
 * Finds the cosign signatures of a manifest in its registry, in both layouts cosign writes:
 *
 * - cosign v3 (Sigstore bundles): OCI referrers of the manifest whose artifact type is a
 *   Sigstore bundle; each is an image manifest whose one layer is the bundle JSON. Referrers
 *   come from the referrers API, or the `sha256-<hex>` referrers tag on registries without
 *   it (RegistryClient.referrers).
 * - cosign v2 ("simple signing"): the tag `sha256-<hex>.sig`, an image manifest with one
 *   layer per signature; the layer is the signed payload, its annotations hold the
 *   signature, the Fulcio certificate and chain, and the Rekor bundle (SET).
 *
 * Nothing is verified here; verify.ts does that. Every read is bounded and digest-checked
 * by the registry client.
 */
import { RegistryError } from '../errors.js';
import type { RegistryClient } from '../client.js';
import type { Descriptor } from '../manifest.js';
import type { RepositoryName } from '../reference.js';

/** Media type prefix of a Sigstore bundle (artifact type of a cosign v3 referrer, and its layer). */
export const SIGSTORE_BUNDLE_PREFIX = 'application/vnd.dev.sigstore.bundle';
/** The media type of a cosign v2 signature layer. */
export const SIMPLE_SIGNING = 'application/vnd.dev.cosign.simplesigning.v1+json';
/** cosign v2 layer annotations. */
export const ANNOTATION_SIGNATURE = 'dev.cosignproject.cosign/signature';
export const ANNOTATION_CERTIFICATE = 'dev.sigstore.cosign/certificate';
export const ANNOTATION_CHAIN = 'dev.sigstore.cosign/chain';
export const ANNOTATION_REKOR_BUNDLE = 'dev.sigstore.cosign/bundle';

/** Most signatures or bundles read for one manifest (a registry could list thousands). */
const MAX_SIGNATURES = 32;
/** Largest signature payload or bundle read (cosign's own limit is far below this). */
const MAX_SIGNATURE_BYTES = 1 << 20;

/** One cosign v2 signature: the payload it signs and the layer's annotations. */
export interface LegacySignature {
  /** The simple-signing payload (JSON naming the manifest digest). */
  payload: Buffer;
  /** The layer's annotations (signature, certificate, chain, Rekor bundle). */
  annotations: Record<string, string>;
}

/** The signatures found for one manifest. */
export interface FoundSignatures {
  /** Sigstore bundles (cosign v3), as JSON. */
  bundles: unknown[];
  /** cosign v2 signatures; only read when there are no bundles, as cosign does. */
  legacy: LegacySignature[];
}

/** The cosign v2 signature tag of a manifest digest: `sha256-<hex>.sig`. */
export function signatureTag(digest: string): string {
  return `${digest.replace(':', '-')}.sig`;
}

/** Reads the cosign v3 bundles, and when there are none the v2 signatures, of `digest` in `repo`. */
export async function findSignatures(client: RegistryClient, repo: RepositoryName, digest: string, signal?: AbortSignal): Promise<FoundSignatures> {
  const bundles = await findBundles(client, repo, digest, signal);
  if (bundles.length > 0) return { bundles, legacy: [] };
  return { bundles, legacy: await findLegacySignatures(client, repo, digest, signal) };
}

async function findBundles(client: RegistryClient, repo: RepositoryName, digest: string, signal?: AbortSignal): Promise<unknown[]> {
  const referrers = (await client.referrers(repo, digest, { signal })).filter((d) => d.artifactType === undefined || d.artifactType.startsWith(SIGSTORE_BUNDLE_PREFIX));
  const out: unknown[] = [];
  for (const ref of referrers.slice(0, MAX_SIGNATURES)) {
    const m = await client.getManifest({ ...repo, digest: ref.digest }, { signal });
    if (m.parsed.kind !== 'image') continue;
    const layers = m.parsed.manifest.layers;
    // cosign: exactly one layer, of a bundle media type; anything else is another kind of referrer.
    if (layers.length !== 1 || !layers[0].mediaType.startsWith(SIGSTORE_BUNDLE_PREFIX)) continue;
    const bytes = await client.readBlob(repo, layers[0], { signal, maxBytes: MAX_SIGNATURE_BYTES });
    try {
      out.push(JSON.parse(bytes.toString('utf8')));
    } catch {
      continue; // not a bundle: cosign skips referrers it cannot read
    }
  }
  return out;
}

async function findLegacySignatures(client: RegistryClient, repo: RepositoryName, digest: string, signal?: AbortSignal): Promise<LegacySignature[]> {
  let layers: Descriptor[];
  try {
    const m = await client.getManifest({ ...repo, tag: signatureTag(digest) }, { signal });
    if (m.parsed.kind !== 'image') return [];
    layers = m.parsed.manifest.layers;
  } catch (err) {
    if (err instanceof RegistryError && err.notFound) return [];
    throw err;
  }
  const out: LegacySignature[] = [];
  for (const layer of layers.slice(0, MAX_SIGNATURES)) {
    const annotations = layer.annotations ?? {};
    if (!annotations[ANNOTATION_SIGNATURE]) continue;
    const payload = await client.readBlob(repo, layer, { signal, maxBytes: MAX_SIGNATURE_BYTES });
    out.push({ payload, annotations });
  }
  return out;
}
