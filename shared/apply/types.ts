/** The apply engine's public types and the state it shares between its verbs. */
import type { KubeClient } from '../kube/client.js';
import type { RestMapper, ResourceMapping } from '../kube/mapper.js';
import type { KubeObject, ObjectRef } from '../kube/object.js';
import type { FieldChange } from './diff.js';
import type { IgnoreRules } from './ignore.js';
import type { GenerationStamp } from './stamp-generation.js';

/** What the engine did (or, in diff mode, would do) with one object. */
export type Action = 'created' | 'configured' | 'unchanged' | 'skipped' | 'deleted';

/**
 * What the caller stored about an object after our last apply of it: the object's
 * resourceVersion as we last saw it and the hash of what we applied (appliedHash).
 */
export interface AppliedStamp extends GenerationStamp {
  resourceVersion: string;
  hash: string;
}

/** One object's outcome of applyAll / deleteAll. */
export interface ChangeEntry {
  /** `Kind/namespace/name` */
  subject: string;
  ref: ObjectRef;
  /** The API version of the object (`v1`, `v1beta1`), for the inventory. */
  version: string;
  action: Action;
  /** Field-level changes (diff mode, and for configured objects). */
  changes?: FieldChange[];
  /**
   * With `lastApplied`: what to store for the next applyAll (the live resourceVersion after
   * this apply, and the hash of the desired object). Absent when nothing live was seen.
   */
  stamp?: AppliedStamp;
}

/** How an ApplyEngine talks to the API server. */
export interface ApplyOptions {
  fieldManager?: string;
  /** Recreate objects on immutable-field errors (spec.force). */
  force?: boolean;
  /** Concurrent API requests (default 24). */
  concurrency?: number;
  /** How long to wait for CRDs / Namespaces / Classes to be ready (default 60s). */
  waitTimeoutMs?: number;
  waitIntervalMs?: number;
  /**
   * How long one API request may go without an answer before it fails as a transient
   * KubeApiUnavailableError (default: the client's, 60s).
   */
  requestTimeoutMs?: number;
  signal?: AbortSignal;
}

/** Per-call options of applyAll. */
export interface ApplyAllOptions {
  /** Plan only: report what would change (with field changes), write nothing. */
  diffOnly?: boolean;
  /** Field-level changes for created/configured objects (default: diffOnly). */
  withChanges?: boolean;
  /** Objects probably not in the cluster yet (not in the last inventory): skip the GET. */
  likelyNew?: (ref: ObjectRef) => boolean;
  /**
   * Opt in to the cheap no-op: the stamp stored for each object after our last apply, if
   * any. Objects whose desired hash is unchanged are checked with one LIST per kind and
   * namespace; only those whose resourceVersion moved (or that are missing) get the usual
   * dry-run. Every entry then carries the `stamp` to store for next time.
   */
  lastApplied?: (ref: ObjectRef) => AppliedStamp | undefined;
  /**
   * Kustomization `spec.ignore`: paths left out of drift detection for existing objects;
   * when such an object is applied anyway, each drifted ignored path is stripped from the
   * payload (another Apply manager owns it) or set to its live value.
   */
  ignore?: IgnoreRules;
}

/** Result of deleteAll: per-object outcomes, and the deletes that did not happen. */
export interface DeleteResult {
  entries: ChangeEntry[];
  failed: Array<{ ref: ObjectRef; version?: string; reason: string }>;
}

/** Options of deleteAll. */
export interface DeleteOptions {
  /** Only objects with all these labels are deleted (the others are `skipped`). */
  ownerLabels?: Record<string, string>;
  propagation?: 'Background' | 'Foreground' | 'Orphan';
}

/** One request of the engine (the signal and timeout are added by EngineContext.request). */
export interface EngineRequest {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  /** Not cancelled by the engine's signal (prune runs to its end). */
  noSignal?: boolean;
}

/** The live objects as an engine last saw them (apply responses, reads that found them unchanged). */
export interface ObservedStore {
  set(ref: ObjectRef, obj: KubeObject): void;
  get(ref: ObjectRef): KubeObject | undefined;
}

/** What the verbs of one ApplyEngine share. */
export interface EngineContext {
  readonly client: KubeClient;
  readonly mapper: RestMapper;
  readonly manager: string;
  readonly concurrency: number;
  readonly opts: ApplyOptions;
  /** The live objects as last seen by this engine. */
  readonly observed: ObservedStore;
  /** A request with the engine's signal and request timeout. */
  request<T = unknown>(method: string, path: string, ro?: EngineRequest): Promise<T>;
}

/** One object of an applyAll batch, from plan to write. */
export interface Planned {
  obj: KubeObject;
  subject: string;
  mapping?: ResourceMapping;
  path?: string;
  existing?: KubeObject;
  /** `existing` is the live object as just listed: plan skips its GET. */
  existingKnown?: boolean;
  dryRun?: KubeObject;
  action?: Action;
  recreate?: boolean;
  cleanup?: unknown[];
  deferred?: boolean;
  /** A planning failure, already masked. */
  error?: string;
  /** The API server did not answer (or we were cancelled) while planning: the batch stops. */
  fatal?: unknown;
  /** appliedHash of `obj` (with `lastApplied`). */
  hash?: string;
  /** resourceVersion of the object after our write. */
  writtenVersion?: string;
  /** The object as our write left it (the apply response). */
  written?: KubeObject;
  /** `spec.ignore` pointers that apply to this existing object (drift and diffs leave them out). */
  ignored?: string[];
  /** What the write sends when ignored paths were resolved (else `obj`). */
  payload?: KubeObject;
}

/** Masks the error texts of one batch (secret values of the batch's Secrets, and of `p`'s live object). */
export type BatchMasker = (text: string, p?: Planned) => string;

