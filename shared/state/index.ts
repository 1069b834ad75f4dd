/** State store: per-object JSON records with optimistic concurrency, on disk or S3. */
export type { ObjectKey } from './key.js';
export { describeKey, keySegments, compareKeys, sameKey } from './key.js';
/** Types of the StateStore contract: versioned records, write preconditions and read-modify-write. */
export type { StateStore, Versioned, PutOptions, DeleteOptions, UpdateOptions, Updater } from './store.js';
export { updateWithRetry } from './store.js';
export { FsStateStore, type FsStateStoreOptions } from './fs-store.js';
export { S3StateStore, type S3StateStoreOptions } from './s3-store.js';
