/**
 * What Fluxless keeps per Flux object in the state store: the definition (the object as
 * read from Git), where it came from, and its status, in Flux's status shape.
 */
import type { KubeObject } from '../kube/object.js';
import type { ObjectKey, StateStore } from '../state/index.js';

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

export interface InventoryEntry {
  /** `<namespace>_<name>_<group>_<kind>` */
  id: string;
  /** API version, e.g. `v1` */
  v: string;
}

export interface HistoryEntry {
  digest: string;
  firstReconciled: string;
  lastReconciled: string;
  lastReconciledDuration: string;
  lastReconciledStatus: string;
  totalReconciliations: number;
  metadata?: Record<string, string>;
}

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
}

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
}

export interface Origin {
  /** `bootstrap` for objects from the configuration, else the Kustomization that applied it. */
  by: 'bootstrap' | 'Kustomization';
  namespace?: string;
  name?: string;
}

export interface FluxEvent {
  timestamp: string;
  severity: 'info' | 'error';
  reason: string;
  message: string;
  revision?: string;
}

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
}

export const MAX_EVENTS = 50;
export const MAX_HISTORY = 5;

export function recordKey(kind: string, namespace: string, name: string): ObjectKey {
  return { kind, namespace, name };
}

export async function readRecord(state: StateStore, key: ObjectKey): Promise<ObjectRecord | undefined> {
  return (await state.get<ObjectRecord>(key))?.value;
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

export function removeCondition(conds: Condition[] | undefined, type: string): Condition[] {
  return (conds ?? []).filter((c) => c.type !== type);
}

export function getCondition(rec: { status?: ObjectStatus } | undefined, type: string): Condition | undefined {
  return rec?.status?.conditions?.find((c) => c.type === type);
}

export function isReady(rec: ObjectRecord | undefined): boolean {
  return getCondition(rec, 'Ready')?.status === 'True';
}
