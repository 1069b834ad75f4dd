/**
 * What Fluxless keeps per Flux object in the state store: the definition (the object as
 * read from Git), where it came from, and its status, in Flux's status shape.
 */
import type { KubeObject, ObjectKey } from '../kube/object.js';
import { FluxlessError, errorMessage } from '../util/errors.js';
import { describeKey } from './key.js';
import type { StateStore } from './store.js';

/** A condition's status, as metav1.Condition. */
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** A `status.conditions[]` entry (metav1.Condition). */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** One object of a Kustomization's (or HelmRelease's) inventory. */
export interface InventoryEntry {
  /** `<namespace>_<name>_<group>_<kind>` */
  id: string;
  /** API version, e.g. `v1` */
  v: string;
}

/** What was last applied to one object: its resourceVersion afterwards and a hash of what we sent. */
export interface AppliedStamp {
  resourceVersion: string;
  hash: string;
  /** Kinds with a generation (apply/stamp-generation.ts): the live generation after the apply. */
  generation?: number;
  /** With `generation`: the hash of the live metadata after the apply. */
  meta?: string;
}

/** One `status.history[]` snapshot (Flux 2.7+ reconcile history). */
export interface HistoryEntry {
  digest: string;
  firstReconciled: string;
  lastReconciled: string;
  lastReconciledDuration: string;
  lastReconciledStatus: string;
  totalReconciliations: number;
  metadata?: Record<string, string>;
}

/** A source's artifact, as `status.artifact`. */
export interface ArtifactInfo {
  revision: string;
  digest: string;
  /** Key in the artifact store. */
  key: string;
  size?: number;
  lastUpdateTime: string;
  /** Sources: the spec.ignore the artifact was built with (a change rebuilds it, as Flux). */
  ignore?: string;
  url?: string;
  /** OCI sources: the manifest's annotations (`org.opencontainers.image.revision`, ...), as Flux's `artifact.metadata`. */
  metadata?: Record<string, string>;
}

/** The status Fluxless keeps per object, in Flux's shape; kinds add their own fields. */
export interface ObjectStatus {
  observedGeneration?: number;
  conditions?: Condition[];
  lastAppliedRevision?: string;
  lastAttemptedRevision?: string;
  lastHandledReconcileAt?: string;
  inventory?: { entries: InventoryEntry[] };
  history?: HistoryEntry[];
  /** Sources: the latest artifact. */
  artifact?: ArtifactInfo;
  /** When the next scheduled reconcile is due (ISO time). */
  nextRunAt?: string;
  /** When the last reconcile finished. */
  lastReconciledAt?: string;
  /** Kind-specific status fields (HelmRelease history, image scan results, ...). */
  [field: string]: unknown;
}

/** Where a definition came from: the configuration, or the object that produced it. */
export interface Origin {
  /** `bootstrap` for objects from the configuration, else the kind that produced it (Kustomization, HelmRelease, ...). */
  by: 'bootstrap' | (string & {});
  namespace?: string;
  name?: string;
}

/** An event about an object, as Flux's event recorder emits it. */
export interface FluxEvent {
  timestamp: string;
  severity: 'info' | 'error';
  reason: string;
  message: string;
  revision?: string;
  /** Flux event metadata (`revision`, `summary`, `event.toolkit.fluxcd.io/*` annotations, ...). */
  metadata?: Record<string, string>;
  /** How many times this same event was seen in a row (deduplicated). */
  count?: number;
  /** When the event was last handed to the notification pipeline. */
  emittedAt?: string;
}

/** One state record: a Flux object's definition, origin and status. */
export interface ObjectRecord {
  /** The Flux object as defined in Git (absent once deleted and finalized). */
  object?: KubeObject;
  origin?: Origin;
  /** Set when the definition was removed from Git: the object is being finalized. */
  deleted?: boolean;
  /** Set by `fluxless suspend` (like `flux suspend` patching spec.suspend outside Git). */
  suspended?: boolean;
  /** `reconcile.fluxcd.io/requestedAt` value asked for by a webhook or the CLI. */
  requestedAt?: string;
  status: ObjectStatus;
  /** The last events (newest last, capped). */
  events?: FluxEvent[];
  /** Bootstrap objects: the configuration's and Git's definitions, merged into `object`. */
  bootstrap?: BootstrapSources;
  /** Per inventory id, what the last apply left (the no-op check: one LIST instead of a GET and a dry-run per object). */
  applied?: Record<string, AppliedStamp>;
}

/** The two definitions of a bootstrap object (`flux-system`): fluxless.yaml's and gotk-sync.yaml's. */
export interface BootstrapSources {
  /** From the configuration (fluxless.yaml / environment): wins on every field it sets. */
  config: KubeObject;
  /** From Git (gotk-sync.yaml), when the root path contains it. */
  git?: KubeObject;
  /** Fields where the two disagree (the configuration's value is used). */
  conflicts?: string[];
}

/** Events kept per object (newest last). */
export const MAX_EVENTS = 50;
/** `status.history` entries kept (Flux keeps 5). */
export const MAX_HISTORY = 5;

/** The key of a record. */
export function recordKey(kind: string, namespace: string, name: string): ObjectKey {
  return { kind, namespace, name };
}

/** Why a decoded value is not an object record, or undefined when it is one. */
function recordProblem(v: unknown): string | undefined {
  if (!v || typeof v !== 'object' || Array.isArray(v)) return 'the value is not an object';
  const r = v as Record<string, unknown>;
  if (!r.status || typeof r.status !== 'object' || Array.isArray(r.status)) return 'it has no status object';
  if (r.object !== undefined) {
    const o = r.object as Record<string, unknown> | null;
    if (!o || typeof o !== 'object' || !o.metadata || typeof o.metadata !== 'object') return 'its object has no metadata';
  }
  if (r.events !== undefined && !Array.isArray(r.events)) return 'its events are not a list';
  return undefined;
}

/** Reads a record; throws a StateCorrupt error naming the record when it cannot be decoded or is not a record. */
export async function readRecord(state: StateStore, key: ObjectKey): Promise<ObjectRecord | undefined> {
  const got = await state.get<ObjectRecord>(key);
  if (!got) return undefined;
  const problem = recordProblem(got.value);
  if (problem) {
    const where = 'fileFor' in state && typeof (state as { fileFor?: unknown }).fileFor === 'function' ? (state as unknown as { fileFor(k: ObjectKey): string }).fileFor(key) : describeKey(key);
    throw new FluxlessError('StateCorrupt', `state record ${where} is not a Fluxless object record (${problem})`, {
      hint: 'Delete it to start over; the next reconcile rewrites it.',
    });
  }
  return got.value;
}

/** A record, or why it could not be read. */
export interface RecordRead {
  key: ObjectKey;
  record?: ObjectRecord;
  /** Set when the stored document is corrupt: the record is skipped and reported. */
  corrupt?: FluxlessError;
}

/** True for the error a store raises for a record it cannot decode. */
export function isCorrupt(err: unknown): err is FluxlessError {
  return err instanceof FluxlessError && err.code === 'StateCorrupt';
}

/**
 * Reads a record without letting one corrupt document stop the caller: a corrupt record
 * comes back as `corrupt` (with the file and what to do), other errors are thrown.
 */
export async function readRecordSafe(state: StateStore, key: ObjectKey): Promise<RecordRead> {
  try {
    return { key, record: await readRecord(state, key) };
  } catch (err) {
    if (isCorrupt(err)) return { key, corrupt: err };
    throw err;
  }
}

/** Reads every record of a kind (and namespace), skipping and reporting corrupt ones. */
export async function listRecords(state: StateStore, prefix: { kind: string; namespace?: string }): Promise<RecordRead[]> {
  const keys = await state.list(prefix);
  return Promise.all(keys.map((k) => readRecordSafe(state, k)));
}

/** One line saying a record is corrupt and what to do, for logs and `fluxless get`. */
export function corruptMessage(read: RecordRead): string {
  return `state record of ${describeKey(read.key)} is corrupt: ${errorMessage(read.corrupt)}${read.corrupt?.hint ? ` (${read.corrupt.hint})` : ''}`;
}

/** Sets (or replaces) a condition, keeping lastTransitionTime when the status did not change. */
export function setCondition(conds: Condition[] | undefined, c: Omit<Condition, 'lastTransitionTime'>, now: string): Condition[] {
  const list = [...(conds ?? [])];
  const i = list.findIndex((x) => x.type === c.type);
  const prev = i >= 0 ? list[i] : undefined;
  const next: Condition = { ...c, lastTransitionTime: prev && prev.status === c.status ? prev.lastTransitionTime : now };
  if (i >= 0) list[i] = next;
  else list.push(next);
  return list;
}

/** Removes a condition by type. */
export function removeCondition(conds: Condition[] | undefined, type: string): Condition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}

/** A condition by type, if set. */
export function getCondition(rec: { status?: ObjectStatus } | undefined, type: string): Condition | undefined {
  return rec?.status?.conditions?.find((c) => c.type === type);
}

/** Ready=True? */
export function isReady(rec: ObjectRecord | undefined): boolean {
  return getCondition(rec, 'Ready')?.status === 'True';
}
