/**
 * Helm building blocks for the HelmRepository, HelmChart and HelmRelease reconcilers:
 * the helm v4 binary runner (with Flux's post-renderers as a plugin), Helm's release
 * storage reader, chart repositories, chart builds, values composition, and the API
 * parsers. Internals (Go YAML/JSON emulation, schema validation) are importable from their
 * own modules.
 */
export { HelmRunner, classifyHelmError } from './runner.js';
export type {
  HelmRunnerOptions,
  CallOptions,
  WaitMode,
  ReleaseRequest,
  InstallRequest,
  UpgradeRequest,
  RollbackRequest,
  UninstallRequest,
  TestRequest,
  TemplateRequest,
  CommandOutput,
  ReleaseJson,
  HistoryEntry,
} from './runner.js';
export { postRender, kustomizeStream, hasUserPostRenderers, PostRenderError, type PostRenderConfig, type KustomizeRunner } from './postrender.js';
export { POSTRENDER_PLUGIN, defaultTransport, type PluginTransport } from './postrender-plugin.js';
export { directLauncher, helperLauncher, defaultLauncher, type Launcher, type Launched, type LaunchOptions } from './launcher.js';
export { setChartVersion, chartCrds, packChart, type ChartCrd, type ChartCrds } from './chart-files.js';
export {
  decodeReleaseSecret,
  decodeReleasePayload,
  releaseFromJson,
  releaseSecretName,
  listReleaseHeaders,
  readRelease,
  readLatestRelease,
  readReleaseHistory,
  listReleases,
  listReleasesAfterWrite,
  markReleaseFailed,
  encodeReleasePayload,
  ReleaseSet,
  type StoredRelease,
  type ReleaseHeader,
  type ReleaseSecret,
  type ReleaseHook,
  type ReleaseStatus,
  type HookExecution,
} from './storage.js';
export { snapshotOf, observationDigest, observationJson, testHooksOf, metav1Time, isTestHook, type Snapshot, type TestHookStatus } from './observation.js';
export { composeValues, mergeMaps, valuesDigest, kubeValuesSource, ValuesReferenceError, type Values, type ValuesReference, type ValuesSource, type ComposedValues, type ValuesErrorReason } from './values.js';
export {
  parseHelmRelease,
  postRenderersDigest,
  commonMetadataDigest,
  HELMRELEASE_API_VERSION,
  HELM_TOOLKIT_GROUP,
  type HelmRelease,
  type HelmReleaseSpec,
  type HelmChartTemplate,
  type ChartRef,
  type InstallSpec,
  type UpgradeSpec,
  type TestSpec,
  type RollbackSpec,
  type UninstallSpec,
  type PostRenderer,
  type CommonMetadata,
  type PostRenderStrategy,
  type DependencyReference,
  type CustomHealthCheck,
  type DriftIgnoreRule,
  type KustomizeSelector,
  type CrdsPolicy,
} from './release-spec.js';
export { parseHelmRepository, normalizeRepositoryUrl, SOURCE_API_VERSION, type HelmRepository, type HelmRepositorySpec } from './repository-spec.js';
export { parseHelmChart, helmChartFromRelease, helmChartStatusRef, remoteChartNameProblem, type HelmChart, type HelmChartSpec } from './chart-spec.js';
export { shortenReleaseName, releaseNameOf, helmReleaseName, releaseNamespaceOf, storageNamespaceOf, helmChartNameOf } from './names.js';
export {
  repositoryAccess,
  loadRepositoryAccess,
  fetchRepositoryIndex,
  loadStoredIndex,
  downloadChart,
  resolveChartUrl,
  indexUrl,
  humanSize,
  tlsFromSecret,
  type FetchedIndex,
  type DownloadedChart,
  type SecretData,
  type SecretLookup,
} from './repository.js';
export { repositoryGet, credentialsApply, redactUrl, type RepositoryAccess, type BasicAuth, type TlsMaterial } from './http.js';
export { loadIndex, indexToJson, selectChartVersion, validateMetadata, MAX_INDEX_SIZE, MAX_CHART_SIZE, IndexError, ChartVersionError, type IndexFile, type ChartVersion, type ChartMetadata, type ChartDependency } from './index-file.js';
export {
  buildRemoteChart,
  buildLocalChart,
  buildDependencies,
  repackageChart,
  chartVersionMetadata,
  versionWithMetadata,
  effectiveValuesFiles,
  hashFromRevision,
  chartDefaultValues,
  type ChartBuildResult,
  type CachedChart,
  type DependencyRepository,
  type DependencyResolver,
  type RemoteChartOptions,
  type LocalChartOptions,
} from './chart-build.js';
export { chartMetadataFromArchive, chartMetadataFromDir, readChartArchive, ChartLoadError } from './chart-archive.js';
export { SpecError, RepositoryError, ChartBuildError, HelmCommandError, ReleaseDecodeError, CHART_BUILD_REASONS, type HelmFailureKind, type ChartBuildStep, type RepositoryErrorReason } from './errors.js';
export { parseVersion, parseStrictVersion, parseConstraint, satisfies, compareVersions, formatVersion, type SemVer, type Constraint } from './semver.js';
