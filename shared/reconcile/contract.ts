/**
 * The reconciler contract: what every Flux kind implements to be reconciled by Fluxless.
 *
 * A kind is one folder under `shared/kinds/` exporting a `KindDescriptor` (descriptor.ts:
 * what the kind is called and how it is scheduled, light enough for every function) and a
 * `KindReconciler` built on it (reconciler.ts: the work), with one line for each in
 * `shared/kinds/descriptors.ts` and `shared/kinds/registry.ts`. The worker, the scheduler
 * and the CLI only talk to kinds through this contract: they never name a kind.
 *
 * A reconcile runs once per queue message. It reads the object's record (given), does its
 * work, writes the status through `shared/reconcile/status.ts`, and says which objects to
 * wake next (dependents, users of a source, definitions it created or removed). A failure
 * that belongs to the object (a bad manifest, a failed health check) is written to its
 * status and the message is acked; a failure that says nothing about the object (the API
 * server or a store unreachable) is returned as `transientError`, so the queue redelivers
 * the message and, after N tries, dead-letters it.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { ArtifactCache } from '../artifacts/cache.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { KubeClient } from '../kube/client.js';
import type { RestMapper } from '../kube/mapper.js';
import type { KubeObject, ObjectKey } from '../kube/object.js';
import type { SecretReader } from '../kube/secrets.js';
import type { ObjectRecord } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import type { Logger } from '../util/log.js';

/** Limits and switches that shape reconciles, read once from the configuration. */
export interface ReconcileSettings {
  /** Health polling interval (Flux: 5 s). */
  healthIntervalMs: number;
  /** Allow kustomize remote bases (Flux allows them; Fluxless keeps them off unless set). */
  allowRemoteBases: boolean;
  /** Memory limit of one kustomize/helm child process, MiB. */
  toolMemoryMiB: number;
  /** Apply Flux's own components (gotk-components.yaml) found in a build; off: Fluxless replaces them. */
  applyFluxComponents: boolean;
  /** Flux 2.9 feature gate StrictPostBuildSubstitutions (default true). */
  strictPostBuildSubstitutions?: boolean;
  /** Flux 2.9 feature gate AdditiveCELDependencyCheck (default false). */
  additiveCELDependencyCheck?: boolean;
}

/** The services a reconcile may use; the runtime provides them (filesystem or S3, local or Lambda). */
export interface ReconcileServices {
  state: StateStore;
  /** Source artifacts (S3 or filesystem). */
  artifacts: ArtifactStore;
  /** Artifacts fetched, verified and extracted once per process, shared read-only. */
  artifactCache: ArtifactCache;
  /** The management cluster. */
  client: KubeClient;
  /** The kubeconfig `client` was made from, for tools run as child processes (helm). */
  kubeConfig?: KubeConfig;
  /** Discovery of the management cluster, shared by the reconciles of this process. */
  mapper: RestMapper;
  /** Secrets on the management cluster (secretRef), decoded, briefly cached. */
  secrets: SecretReader;
  fieldManager: string;
  settings: ReconcileSettings;
  /** True when a reconciler exists for `kind` (fleet recursion asks before storing definitions). */
  isKnownKind(kind: string): boolean;
  /** The reconciler of a kind, for a reconcile that runs another object's inline (a Kustomization waiting on its definitions). */
  reconcilerOf?(kind: string): Promise<KindReconciler | undefined>;
  now(): Date;
}

/** One reconcile request: the object, its record as read at the start, why it runs. */
export interface ReconcileRequest {
  key: ObjectKey;
  /** The record read when the message was taken (the reconcile re-reads before writing). */
  record: ObjectRecord;
  /** Why the reconcile was asked for (webhook, poll, drift, dependency, manual, ...). */
  reason: string;
  /** The source revision that triggered the request, when known. */
  revision?: string;
  signal?: AbortSignal;
  log: Logger;
}

/** An object to reconcile after this one, with the dedup key that collapses repeats. */
export interface Wake {
  key: ObjectKey;
  reason: string;
  /** Requests with the same key for the same object within 5 minutes collapse into one. */
  dedupKey: string;
  revision?: string;
}

/** What a reconcile (or finalize) reports back to the worker. */
export interface ReconcileResult {
  ready: boolean;
  reason: string;
  message: string;
  revision?: string;
  /** Objects to reconcile next. */
  wake: Wake[];
  /** Set when the failure says nothing about the object: the status is written, the message is retried. */
  transientError?: Error;
}

/** The names a kind answers to on the command line (`get`, `reconcile`, `suspend`, `tree`). */
export interface KindNames {
  /** Singular word, as `flux` uses it: `kustomization`, `source git`, `helmrelease`. */
  singular: string;
  /** Plural word for `get`: `kustomizations`, `sources git`. */
  plural: string;
  /** Other accepted words: `ks`, `gitrepository`, `hr`. */
  aliases: string[];
  /** `get sources` includes this kind. */
  source?: boolean;
}

/** A row of `fluxless get`: what the kind shows in the REVISION column. */
export interface StatusSummary {
  revision: string;
}

/** Served and removed API versions of a kind, for the version policy. */
export interface ApiVersions {
  /** Versions Flux 2.9 serves (the first is the storage version). */
  served: string[];
  /** Removed versions -> the version to migrate to, as `flux migrate` would. */
  removed?: Record<string, string>;
}

/**
 * What a kind is, without what it does: its names, API versions and schedule. Every
 * function loads these (the scheduler, the webhook); only the worker and the CLI load the
 * reconcilers, so the functions that never reconcile do not carry the apply engine.
 */
export interface KindDescriptor {
  kind: string;
  /** API group, e.g. `kustomize.toolkit.fluxcd.io`. */
  group: string;
  versions: ApiVersions;
  names: KindNames;
  /**
   * How the scheduler treats the kind when its interval is due: `poll` (sources: ask the
   * remote) or `drift` (appliers: re-apply and correct drift). Undefined: never scheduled.
   */
  schedule?: 'poll' | 'drift';
  /** Runs on every scheduler tick (cheap checks such as watched ConfigMaps); returns objects to wake. */
  tick?(svc: ReconcileServices): Promise<Wake[]>;
  /**
   * Whether `tick` has anything to check, from the state store alone: a scheduler without a
   * cluster (Lambda's) hands the tick to the worker only when it has. Undefined: always.
   */
  tickWanted?(state: StateStore): Promise<boolean>;
}

/** One Flux kind, reconciled by Fluxless: its descriptor and the work. */
export interface KindReconciler extends KindDescriptor {
  /** Reconcile the object's current definition. */
  reconcile(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult>;
  /** The definition left Git: undo what the object did (prune, uninstall, delete artifacts) and drop the record. */
  finalize(svc: ReconcileServices, req: ReconcileRequest): Promise<ReconcileResult>;
  /** What `get` shows for the object. */
  summary(record: ObjectRecord): StatusSummary;
  /** The objects this one manages, for `tree` (inventory). */
  children?(record: ObjectRecord): ObjectKeyWithGroup[];
  /** The Flux objects this one reads (its source), for `reconcile --with-source`. */
  sourceOf?(record: ObjectRecord): ObjectKey | undefined;
  /** Checks a definition without reconciling it (`fluxless check`); throws a ValidationError naming the field. */
  validate?(obj: KubeObject): void;
}

/** A managed object as `tree` lists it. */
export interface ObjectKeyWithGroup extends ObjectKey {
  group: string;
}

/** A result that changed nothing and wakes nothing. */
export function emptyResult(reason: string, message: string, ready = false): ReconcileResult {
  return { ready, reason, message, wake: [] };
}
