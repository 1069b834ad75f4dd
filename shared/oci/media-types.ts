/** OCI, Docker, Flux and Helm media types and annotation keys the registry code deals with. */

/** OCI image manifest (what `flux push artifact` and `helm push` write). */
export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
/** OCI image index (multi-platform images). */
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
/** Docker image manifest v2 schema 2. */
export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** Docker manifest list (multi-platform images). */
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
/** The manifest types we ask for and accept, in our order of preference. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST];
/** True for an image index or a Docker manifest list. */
export function isIndexMediaType(mediaType: string | undefined): boolean {
  return mediaType === OCI_INDEX || mediaType === DOCKER_MANIFEST_LIST;
}

/** Config media type of Flux artifacts (fluxcd/pkg oci CanonicalConfigMediaType). */
export const FLUX_CONFIG = 'application/vnd.cncf.flux.config.v1+json';
/** Prefix of Flux content layers; static single-file layers add `.<ext>`. */
export const FLUX_CONTENT_PREFIX = 'application/vnd.cncf.flux.content.v1';
/** The tarball layer of a Flux artifact. */
export const FLUX_CONTENT_TARGZ = 'application/vnd.cncf.flux.content.v1.tar+gzip';

/** Helm chart config (the chart's Chart.yaml metadata as JSON). */
export const HELM_CONFIG = 'application/vnd.cncf.helm.config.v1+json';
/** Helm chart package layer (the .tgz). */
export const HELM_CHART_CONTENT = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
/** Helm provenance layer. */
export const HELM_PROVENANCE = 'application/vnd.cncf.helm.chart.provenance.v1.prov';
/** Helm's deprecated chart layer type, still accepted by Helm on pull. */
export const HELM_LEGACY_CHART_CONTENT = 'application/tar+gzip';

/** `org.opencontainers.image.created` (RFC 3339). */
export const ANNOTATION_CREATED = 'org.opencontainers.image.created';
/** `org.opencontainers.image.source`: where the content came from (the Git URL). */
export const ANNOTATION_SOURCE = 'org.opencontainers.image.source';
/** `org.opencontainers.image.revision`: the source revision (`<branch>@sha1:<commit>`). */
export const ANNOTATION_REVISION = 'org.opencontainers.image.revision';
