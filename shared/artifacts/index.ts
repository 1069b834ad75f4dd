/** Artifacts: build (Flux's archive format), extract safely, store on disk or S3. */
export { buildArtifact, planArtifact, type BuildArtifactOptions, type BuiltArtifact, type PlannedEntry } from './build.js';
export {
  extractArtifact,
  readArtifact,
  entrySegments,
  UnsafeArtifactError,
  ArtifactTooLargeError,
  DEFAULT_MAX_BYTES,
  DEFAULT_MAX_FILES,
  type ExtractOptions,
  type ExtractResult,
  type ArtifactContents,
} from './extract.js';
export { verifyDigest, computeDigest, parseDigest, ArtifactDigestMismatch } from './digest.js';
export { Pattern, Matcher, parsePatterns, sourceIgnoreMatcher, EXCLUDE_VCS, EXCLUDE_DEFAULTS, IGNORE_FILE } from './ignore.js';
/** Types of the artifact store contract: the store, its records and refs, and gc options. */
export type { ArtifactStore, ArtifactRecord, ArtifactRef, GcOptions } from './store.js';
export { artifactKey, parseArtifactKey } from './store.js';
export { FsArtifactStore, type FsArtifactStoreOptions } from './fs-store.js';
export { S3ArtifactStore, type S3ArtifactStoreOptions } from './s3-store.js';
