/** OCI registries: the v2 client, OCIRepository fetch, Flux artifact push, Helm charts from OCI. */
export { RegistryClient, clearChallengeCache, type RegistryClientOptions, type CallOptions, type FetchedManifest } from './client.js';
export { buildRegistryClient, tlsFromSecret, type OciAuth, type OciClientSettings } from './auth.js';
export {
  fetchOciRepository,
  artifactStoredMessage,
  newArtifactMessage,
  newRevisionMessage,
  combineSignals,
  type FetchOciOptions,
  type OciVerifyHook,
  type OciFetchResult,
  type OciFetched,
  type OciUnchanged,
} from './fetch.js';
export {
  parseOciRepository,
  parseOciUrl,
  parseVerification,
  layerOperation,
  layerSelectorEqual,
  isHelmChartSelector,
  OCI_REPOSITORY_API_VERSIONS,
  DEFAULT_OCI_TIMEOUT,
  type OciRepository,
  type OciRepositorySpec,
  type OciRef,
  type OciLayerSelector,
  type OciVerification,
  type OidcIdentityMatch,
} from './spec.js';
export { pushArtifact, DEFAULT_PUSH_IGNORE, REPRODUCIBLE_CREATED, type PushArtifactOptions, type PushArtifactResult } from './push.js';
export { pullHelmChart, resolveHelmChartVersion, parseChartUrl, type HelmChartPullOptions, type HelmChartPullResult, type HelmChartVersion } from './helm.js';
export { ecrCredential, parseEcrHost, clearEcrCache, ProviderAuthError, ECR_HOST_PATTERN, PUBLIC_ECR, type EcrOptions } from './ecr.js';
export { pullSecretKeychain, staticKeychain, anonymousKeychain, urlsMatch, keyringKey, decodeAuth, type Keychain, type Credential, type PullSecretData } from './keychain.js';
export {
  parseReference,
  parseRepository,
  formatReference,
  formatRepository,
  isLocalRegistry,
  isValidTag,
  isValidDigest,
  InvalidReferenceError,
  DEFAULT_REGISTRY,
  DEFAULT_TAG,
  OCI_SCHEME,
  type OciReference,
  type RepositoryName,
} from './reference.js';
export { parseVersion, parseStrictVersion, parseConstraint, constraintMatches, pickSemverTag, ociTagToSemver, semverToOciTag, type VersionConstraint } from './version.js';
export { parseManifest, encodeImageManifest, encodeFluxConfig, pickPlatform, type Descriptor, type ImageManifest, type ImageIndex, type ParsedManifest } from './manifest.js';
export { RegistryError, RegistryAuthError, RegistryUnreachableError, RegistryTooLargeError, OciError, OciSpecError, type RegistryErrorEntry } from './errors.js';
export { untarLayer, LayerExtractError, DEFAULT_MAX_EXTRACTED_BYTES, type UntarResult } from './untar.js';
export { clearTokenCache } from './tokens.js';
export { resetTransportCaches, type TlsOptions, type RequestInfo } from './http.js';
export * from './media-types.js';
