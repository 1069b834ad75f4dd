import { trimEnd } from '../util/trim.js';
/**
 * What a registry event is about: the image repository (and tag / digest) it names, in
 * one normalised form, so the caller can match ImageRepository / OCIRepository /
 * HelmRepository objects by repository whatever registry sent the event.
 *
 * Normalisation follows the Docker reference rules go-containerregistry applies to an
 * ImageRepository's `spec.image`: a first path segment with a `.` or `:` (or `localhost`)
 * is the registry host, otherwise the image is on Docker Hub; Docker Hub's host aliases
 * become `docker.io` and its single-segment names get `library/`. Hosts are lower-cased.
 */

/** One image (or OCI artifact) a registry event is about. */
export interface RegistryArtifact {
  /** `<host>/<repository>`, e.g. `docker.io/library/nginx`, `ghcr.io/org/app`; `<repository>` alone when the host is unknown. */
  image: string;
  /** Registry host, e.g. `docker.io`, `myregistry.azurecr.io`, `127.0.0.1:5000`; '' when the sender does not say (nexus). */
  host: string;
  /** Repository path in the registry, e.g. `library/nginx`. */
  repository: string;
  tag?: string;
  /** `sha256:...` */
  digest?: string;
  /** The sender's action or event type, e.g. `push`, `INSERT`, `PUSH_ARTIFACT`, `published`. */
  action?: string;
  /** Manifest media type, when the sender says (acr, distribution). */
  mediaType?: string;
}

const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'hub.docker.com']);

/** A parsed image reference. */
export interface ImageName {
  host: string;
  repository: string;
  /** `<host>/<repository>` */
  image: string;
  tag?: string;
  digest?: string;
}

/** The longest image reference read from an event; a registry's own limit on a name is 255. */
const MAX_IMAGE_REFERENCE = 4096;

/**
 * Parse and normalise an image reference such as `nginx`, `nginx:1.27`,
 * `ghcr.io/org/app@sha256:...`, `https://quay.io/ns/repo` or `127.0.0.1:5000/a/b:v1`.
 * Returns undefined for something that is not a reference (empty, spaces, no name).
 */
export function parseImageName(ref: string, defaultHost = 'docker.io'): ImageName | undefined {
  if (ref.length > MAX_IMAGE_REFERENCE) return undefined;
  let rest = ref.trim().replace(/^[a-z][a-z0-9+.-]*:\/\//i, '');
  if (rest === '' || /\s/.test(rest)) return undefined;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  rest = trimEnd(rest, '/');
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  const slash = rest.indexOf('/');
  const first = slash < 0 ? rest : rest.slice(0, slash);
  let host: string;
  let repository: string;
  if (slash >= 0 && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    host = first.toLowerCase();
    repository = rest.slice(slash + 1);
  } else {
    host = defaultHost;
    repository = rest;
  }
  if (repository === '' || (host !== '' && !/^[a-z0-9._:[\]-]+$/.test(host))) return undefined;
  if (DOCKER_HUB_ALIASES.has(host)) {
    host = 'docker.io';
    if (!repository.includes('/')) repository = `library/${repository}`;
  }
  const out: ImageName = { host, repository, image: host === '' ? repository : `${host}/${repository}` };
  if (tag !== undefined && tag !== '') out.tag = tag;
  if (digest !== undefined && digest !== '') out.digest = digest;
  return out;
}

/** Build a RegistryArtifact from a reference plus what the event says on the side. */
export function artifactFromReference(
  ref: string,
  extra: { tag?: string; digest?: string; action?: string; mediaType?: string; defaultHost?: string } = {},
): RegistryArtifact | undefined {
  const n = parseImageName(ref, extra.defaultHost);
  if (n === undefined) return undefined;
  const out: RegistryArtifact = { image: n.image, host: n.host, repository: n.repository };
  const tag = extra.tag || n.tag;
  const digest = extra.digest || n.digest;
  if (tag) out.tag = tag;
  if (digest) out.digest = digest;
  if (extra.action) out.action = extra.action;
  if (extra.mediaType) out.mediaType = extra.mediaType;
  return out;
}
