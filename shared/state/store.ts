/**
 * The state store: one JSON document per Kubernetes object (`{kind, namespace, name}`), with
 * optimistic concurrency. Two implementations behave the same: FsStateStore (local mode) and
 * S3StateStore (Lambda). The document type is the caller's; the store only needs it to be
 * JSON-serialisable.
 *
 * Versions are opaque strings. Every successful write returns a new version that never equals
 * an earlier one of the same record (also across delete and re-create), so `ifVersion` cannot
 * be fooled by a record that went A -> B -> A.
 */
import { ConflictError, FluxlessError, ValidationError } from '../util/errors.js';
import { describeKey, type ObjectKey } from './key.js';
import { sleep } from '../util/time.js';

/** Identifies the object a state record belongs to (kind, namespace, name). */
export type { ObjectKey } from './key.js';

/** A stored value with its version, to pass as ifVersion on the next write. */
export interface Versioned<T> {
  value: T;
  version: string;
}

/** Preconditions of StateStore.put: the expected current version, or that the record is absent. */
export interface PutOptions {
  /** Write only if the record's current version is this one; else ConflictError. */
  ifVersion?: string;
  /** Write only if the record does not exist; else ConflictError. */
  ifAbsent?: boolean;
}

/** Options of StateStore.delete: the expected current version, or a delete that need not say whether the record existed. */
export interface DeleteOptions {
  /** Delete only if the record's current version is this one (a missing record conflicts too). */
  ifVersion?: string;
  /**
   * The caller does not need to know whether the record existed: the result is always true,
   * and on S3 the delete is one request (no HEAD first). Not with ifVersion.
   */
  blind?: boolean;
}

/** Options of StateStore.update: how many conflicts to retry. */
export interface UpdateOptions {
  /** How many times to re-read and retry after a ConflictError (default 10). */
  retries?: number;
}

/**
 * The function given to `update`: gets the current value (undefined when absent) and returns
 * the new one. It may run several times (once per attempt), so it must not have side effects
 * other than building the value. Returning `undefined` means "no change": nothing is written.
 */
export type Updater<T> = (current: T | undefined) => T | undefined;

/** One JSON record per Kubernetes object with optimistic concurrency: versioned get, put, delete, list and update. */
export interface StateStore {
  get<T>(key: ObjectKey): Promise<Versioned<T> | undefined>;
  /** Writes the record; returns its new version. */
  put<T>(key: ObjectKey, value: T, opts?: PutOptions): Promise<string>;
  /** Deletes the record; returns false when it did not exist (and neither ifVersion nor blind was given). */
  delete(key: ObjectKey, opts?: DeleteOptions): Promise<boolean>;
  /** Keys of all records, or those of one kind / one kind and namespace; sorted. */
  list(prefix?: { kind?: string; namespace?: string }): Promise<ObjectKey[]>;
  /** Read-modify-write with retries on ConflictError; returns what is stored afterwards. */
  update<T>(key: ObjectKey, fn: Updater<T>, opts?: UpdateOptions): Promise<Versioned<T> | undefined>;
}

/** What each implementation stores: the value plus enough to debug and to version it. */
export interface StoredEnvelope<T> {
  fluxless: typeof ENVELOPE_TAG;
  key: ObjectKey;
  /** Random per write: makes every write's bytes (and so the S3 ETag) unique. */
  nonce: string;
  updatedAt: string;
  value: T;
}

/** Marker and schema version every state document carries in its `fluxless` field. */
export const ENVELOPE_TAG = 'state/v1';

/** Parses a stored state document; throws a StateCorrupt error naming `where` when it is not a Fluxless envelope. */
export function parseEnvelope<T>(raw: Buffer | string, where: string): StoredEnvelope<T> {
  let doc: unknown;
  try {
    doc = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch (err) {
    throw new FluxlessError('StateCorrupt', `state record ${where} is not valid JSON`, {
      cause: err,
      hint: 'It was not written by Fluxless (writes are atomic). Delete it to start over; the next reconcile rewrites it.',
    });
  }
  const env = doc as Partial<StoredEnvelope<T>>;
  if (!env || typeof env !== 'object' || env.fluxless !== ENVELOPE_TAG || typeof env.nonce !== 'string' || !('value' in env)) {
    throw new FluxlessError('StateCorrupt', `state record ${where} is not a Fluxless state document (missing "fluxless": "${ENVELOPE_TAG}")`, {
      hint: 'Delete it to start over; the next reconcile rewrites it.',
    });
  }
  return env as StoredEnvelope<T>;
}

/** Validates put preconditions: not both ifVersion and ifAbsent, and a non-empty ifVersion string. */
export function checkPutOptions(key: ObjectKey, opts: PutOptions | undefined): void {
  if (opts?.ifAbsent && opts.ifVersion !== undefined) {
    throw new ValidationError(`put ${describeKey(key)}: give either ifVersion or ifAbsent, not both`);
  }
  if (opts?.ifVersion !== undefined && (typeof opts.ifVersion !== 'string' || opts.ifVersion === '')) {
    throw new ValidationError(`put ${describeKey(key)}: ifVersion must be a version string returned by get or put`);
  }
}

/** The ConflictError a store raises when a precondition on `key` fails, telling the caller to re-read and retry. */
export function conflict(key: ObjectKey, what: string): ConflictError {
  return new ConflictError(`state record ${describeKey(key)} ${what}; read it again and retry`);
}

/** Shared read-modify-write loop used by both implementations. */
export async function updateWithRetry<T>(
  store: Pick<StateStore, 'get' | 'put'>,
  key: ObjectKey,
  fn: Updater<T>,
  opts: UpdateOptions = {},
): Promise<Versioned<T> | undefined> {
  const retries = opts.retries ?? 10;
  for (let attempt = 0; ; attempt++) {
    const cur = await store.get<T>(key);
    const next = fn(cur?.value);
    if (next === undefined) return cur;
    try {
      const version = await store.put<T>(key, next, cur ? { ifVersion: cur.version } : { ifAbsent: true });
      return { value: next, version };
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= retries) {
        if (err instanceof ConflictError) {
          throw new ConflictError(
            `state record ${describeKey(key)} kept changing under us: gave up after ${attempt + 1} attempts`,
            { cause: err },
          );
        }
        throw err;
      }
      // Jittered exponential backoff, capped: contention is short (one small write).
      await sleep(Math.random() * Math.min(200, 5 * 2 ** attempt));
    }
  }
}
