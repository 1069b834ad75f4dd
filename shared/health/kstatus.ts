/**
 * kstatus: the status of one Kubernetes object computed from its own fields, as Flux does it
 * (fluxcd/cli-utils pkg/kstatus/status: Compute, checkGenericProperties, the per-kind
 * "legacy" rules in core.go and the Ready-condition fallback). Pure functions: no I/O.
 *
 * Order of evaluation, as in kstatus:
 *  1. metadata.deletionTimestamp set                      -> Terminating
 *  2. metadata.generation != status.observedGeneration    -> InProgress
 *  3. condition Reconciling=True -> InProgress; Stalled=True -> Failed
 *  4. a per-kind rule keyed by group/kind (Deployment, StatefulSet, ...)
 *  5. condition Ready: True -> Current; False/Unknown -> InProgress
 *  6. otherwise                                            -> Current
 * When kstatus itself would return an error (a malformed field), the status is Unknown.
 */
import type { KubeObject } from './types.js';

/** The kstatus status of an object (fluxcd/cli-utils kstatus): InProgress, Failed, Current, Terminating, NotFound, Unknown. */
export type HealthStatus = 'InProgress' | 'Failed' | 'Current' | 'Terminating' | 'NotFound' | 'Unknown';

/** An object's kstatus status with the message explaining it. */
export interface StatusResult {
  status: HealthStatus;
  message: string;
}

/** Options of computeStatus: the clock, and whether LoadBalancer Services must have an ingress. */
export interface ComputeOptions {
  /** Clock for the Pod "unschedulable" grace window (epoch ms). Default: Date.now(). */
  now?: number;
  /**
   * Require `status.loadBalancer.ingress` on Services of type LoadBalancer (what Helm's
   * waiter does). Off by default: kstatus, and so a Flux Kustomization health check, only
   * waits for a cluster IP.
   */
  requireLoadBalancerIngress?: boolean;
}

/** How long a Pod may be unschedulable before it is reported Failed (kstatus ScheduleWindow). */
export const POD_SCHEDULE_WINDOW_MS = 15_000;

const MAX_INT32 = 2_147_483_647;

/** The API group of an apiVersion: 'apps/v1' -> 'apps', 'v1' -> ''. */
export function groupOf(apiVersion: string | undefined): string {
  if (!apiVersion) return '';
  const i = apiVersion.indexOf('/');
  return i < 0 ? '' : apiVersion.slice(0, i);
}

/** Raised internally where kstatus returns an error; surfaces as status Unknown. */
class StatusComputeError extends Error {}

type Obj = Record<string, unknown>;

interface BasicCondition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

function isMap(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Like unstructured.NestedFieldNoCopy: the value at path, or undefined when absent. */
function nested(obj: Obj, path: readonly string[]): unknown {
  let cur: unknown = obj;
  for (const key of path) {
    if (!isMap(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** kstatus GetIntField: integers only; absent, null or another type gives the default. */
function intField(obj: Obj, path: readonly string[], def: number): number {
  const v = nested(obj, path);
  return typeof v === 'number' && Number.isInteger(v) ? v : def;
}

/** kstatus GetStringField. */
function stringField(obj: Obj, path: readonly string[], def: string): string {
  const v = nested(obj, path);
  return typeof v === 'string' ? v : def;
}

function strOf(c: Obj, key: string, index: number): string {
  const v = c[key];
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') {
    throw new StatusComputeError(`status.conditions[${index}].${key} is a ${typeof v}, expected a string`);
  }
  return v;
}

/**
 * kstatus GetObjectWithConditions: decodes status.conditions, failing (-> Unknown) when the
 * object does not have the conventional shape, as the Go converter does.
 */
function conditionsOf(obj: Obj): BasicCondition[] {
  const status = obj.status;
  if (status === undefined || status === null) return [];
  if (!isMap(status)) throw new StatusComputeError(`status is a ${typeof status}, expected an object`);
  const raw = status.conditions;
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new StatusComputeError('status.conditions is not a list');
  return raw.map((c: unknown, i) => {
    if (!isMap(c)) throw new StatusComputeError(`status.conditions[${i}] is not an object`);
    return {
      type: strOf(c, 'type', i),
      status: strOf(c, 'status', i),
      reason: strOf(c, 'reason', i),
      message: strOf(c, 'message', i),
    };
  });
}

function findCondition(conds: BasicCondition[], type: string, status: string): BasicCondition | undefined {
  return conds.find((c) => c.type === type && c.status === status);
}

const current = (message: string): StatusResult => ({ status: 'Current', message });
const inProgress = (message: string): StatusResult => ({ status: 'InProgress', message });
const failed = (message: string): StatusResult => ({ status: 'Failed', message });

/** metadata.generation / status.observedGeneration as int64, or undefined when absent. */
function int64At(obj: Obj, path: readonly string[]): number | undefined {
  const v = nested(obj, path);
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new StatusComputeError(`looking up ${path.join('.')} from resource: value is not an integer`);
  }
  return v;
}

// ---------------------------------------------------------------------------------------
// generic.go

function checkGenericProperties(u: KubeObject): StatusResult | undefined {
  const obj = u as Obj;
  const deletionTimestamp = nested(obj, ['metadata', 'deletionTimestamp']);
  if (typeof deletionTimestamp === 'string' && deletionTimestamp !== '') {
    return { status: 'Terminating', message: 'Resource scheduled for deletion' };
  }

  const generation = int64At(obj, ['metadata', 'generation']);
  if (generation !== undefined) {
    const observed = int64At(obj, ['status', 'observedGeneration']);
    if (observed !== undefined && observed !== generation) {
      return inProgress(`${u.kind} generation is ${generation}, but latest observed generation is ${observed}`);
    }
  }

  for (const c of conditionsOf(obj)) {
    if (c.type === 'Reconciling' && c.status === 'True') return inProgress(c.message);
    if (c.type === 'Stalled' && c.status === 'True') return failed(c.message);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------
// core.go: per-kind rules

type KindRule = (u: KubeObject, opts: ComputeOptions) => StatusResult;

const alwaysReady: KindRule = () => current('Resource is always ready');

const statefulSet: KindRule = (u) => {
  const obj = u as Obj;
  if (stringField(obj, ['spec', 'updateStrategy', 'type'], '') === 'OnDelete') {
    return current('StatefulSet is using the ondelete update strategy');
  }
  const specReplicas = intField(obj, ['spec', 'replicas'], 1);
  const readyReplicas = intField(obj, ['status', 'readyReplicas'], 0);
  const currentReplicas = intField(obj, ['status', 'currentReplicas'], 0);
  const updatedReplicas = intField(obj, ['status', 'updatedReplicas'], 0);
  const statusReplicas = intField(obj, ['status', 'replicas'], 0);
  const partition = intField(obj, ['spec', 'updateStrategy', 'rollingUpdate', 'partition'], -1);

  if (specReplicas > statusReplicas) return inProgress(`Replicas: ${statusReplicas}/${specReplicas}`);
  if (specReplicas > readyReplicas) return inProgress(`Ready: ${readyReplicas}/${specReplicas}`);
  if (statusReplicas > specReplicas) return inProgress(`Pending termination: ${statusReplicas - specReplicas}`);

  if (partition !== -1) {
    if (updatedReplicas < specReplicas - partition) {
      return inProgress(`updated: ${updatedReplicas}/${specReplicas - partition}`);
    }
    return current(`Partition rollout complete. updated: ${updatedReplicas}`);
  }

  if (specReplicas > currentReplicas) return inProgress(`current: ${currentReplicas}/${specReplicas}`);

  const currentRevision = stringField(obj, ['status', 'currentRevision'], '');
  const updateRevision = stringField(obj, ['status', 'updateRevision'], '');
  if (currentRevision !== updateRevision) return inProgress('Waiting for updated revision to match current');

  return current(`All replicas scheduled as expected. Replicas: ${statusReplicas}`);
};

const deployment: KindRule = (u) => {
  const obj = u as Obj;
  // Without progressDeadlineSeconds the controller never sets Progressing, so treat the
  // rollout as progressing (kstatus uses MaxInt32 as the "unset" marker, as the controller does).
  let progressing = intField(obj, ['spec', 'progressDeadlineSeconds'], MAX_INT32) === MAX_INT32;
  let available = false;

  for (const c of conditionsOf(obj)) {
    if (c.type === 'Progressing') {
      if (c.reason === 'ProgressDeadlineExceeded') return failed('Progress deadline exceeded');
      if (c.status === 'True' && c.reason === 'NewReplicaSetAvailable') progressing = true;
    } else if (c.type === 'Available') {
      if (c.status === 'True') available = true;
    }
  }

  const specReplicas = intField(obj, ['spec', 'replicas'], 1);
  const statusReplicas = intField(obj, ['status', 'replicas'], 0);
  const updatedReplicas = intField(obj, ['status', 'updatedReplicas'], 0);
  const readyReplicas = intField(obj, ['status', 'readyReplicas'], 0);
  const availableReplicas = intField(obj, ['status', 'availableReplicas'], 0);

  if (specReplicas > statusReplicas) return inProgress(`Replicas: ${statusReplicas}/${specReplicas}`);
  if (specReplicas > updatedReplicas) return inProgress(`Updated: ${updatedReplicas}/${specReplicas}`);
  if (statusReplicas > specReplicas) return inProgress(`Pending termination: ${statusReplicas - specReplicas}`);
  if (updatedReplicas > availableReplicas) return inProgress(`Available: ${availableReplicas}/${updatedReplicas}`);
  if (specReplicas > readyReplicas) return inProgress(`Ready: ${readyReplicas}/${specReplicas}`);

  if (!progressing) return inProgress('ReplicaSet not Available');
  if (!available) return inProgress('Deployment not Available');
  return current(`Deployment is available. Replicas: ${statusReplicas}`);
};

const replicaSet: KindRule = (u) => {
  const obj = u as Obj;
  if (findCondition(conditionsOf(obj), 'ReplicaFailure', 'True')) {
    return inProgress('Replica Failure condition. Check Pods');
  }
  const specReplicas = intField(obj, ['spec', 'replicas'], 1);
  const statusReplicas = intField(obj, ['status', 'replicas'], 0);
  const readyReplicas = intField(obj, ['status', 'readyReplicas'], 0);
  const availableReplicas = intField(obj, ['status', 'availableReplicas'], 0);
  const labelled = intField(obj, ['status', 'fullyLabeledReplicas'], 0);

  if (specReplicas > labelled) return inProgress(`Labelled: ${labelled}/${specReplicas}`);
  if (specReplicas > availableReplicas) return inProgress(`Available: ${availableReplicas}/${specReplicas}`);
  if (specReplicas > readyReplicas) return inProgress(`Ready: ${readyReplicas}/${specReplicas}`);
  if (statusReplicas > specReplicas) return inProgress(`Pending termination: ${statusReplicas - specReplicas}`);
  return current(`ReplicaSet is available. Replicas: ${statusReplicas}`);
};

const daemonSet: KindRule = (u) => {
  const obj = u as Obj;
  // The generic generation check tolerates missing fields; for DaemonSets kstatus insists
  // both are set, since the controller always sets observedGeneration once it acted.
  if (int64At(obj, ['metadata', 'generation']) === undefined) {
    return inProgress(`${u.kind} metadata.generation not found`);
  }
  if (int64At(obj, ['status', 'observedGeneration']) === undefined) {
    return inProgress(`${u.kind} status.observedGeneration not found`);
  }
  const desired = intField(obj, ['status', 'desiredNumberScheduled'], -1);
  const currentScheduled = intField(obj, ['status', 'currentNumberScheduled'], 0);
  const updated = intField(obj, ['status', 'updatedNumberScheduled'], 0);
  const availableNum = intField(obj, ['status', 'numberAvailable'], 0);
  const ready = intField(obj, ['status', 'numberReady'], 0);

  if (desired === -1) return inProgress('Missing .status.desiredNumberScheduled');
  if (desired > currentScheduled) return inProgress(`Current: ${currentScheduled}/${desired}`);
  if (desired > updated) return inProgress(`Updated: ${updated}/${desired}`);
  if (desired > availableNum) return inProgress(`Available: ${availableNum}/${desired}`);
  if (desired > ready) return inProgress(`Ready: ${ready}/${desired}`);
  return current(`All replicas scheduled as expected. Replicas: ${desired}`);
};

const pvc: KindRule = (u) => {
  const phase = stringField(u as Obj, ['status', 'phase'], 'unknown');
  if (phase !== 'Bound') return inProgress(`PVC is not Bound. phase: ${phase}`);
  return current('PVC is Bound');
};

function crashLoopingContainers(obj: Obj): string[] {
  const statuses = nested(obj, ['status', 'containerStatuses']);
  if (!Array.isArray(statuses)) return [];
  const names: string[] = [];
  for (const cs of statuses) {
    if (!isMap(cs) || typeof cs.name !== 'string') continue;
    if (nested(cs, ['state', 'waiting', 'reason']) === 'CrashLoopBackOff') names.push(cs.name);
  }
  return names;
}

const pod: KindRule = (u, opts) => {
  const obj = u as Obj;
  const conds = conditionsOf(obj);
  const phase = stringField(obj, ['status', 'phase'], '');
  switch (phase) {
    case 'Succeeded':
      return current('Pod has completed successfully');
    case 'Failed':
      return current('Pod has completed, but not successfully');
    case 'Running': {
      if (findCondition(conds, 'Ready', 'True')) return current('Pod is Ready');
      const looping = crashLoopingContainers(obj);
      if (looping.length > 0) return failed(`Containers in CrashLoop state: ${looping.join(',')}`);
      return inProgress('Pod is running but is not Ready');
    }
    case 'Pending': {
      const c = findCondition(conds, 'PodScheduled', 'False');
      if (c && c.reason === 'Unschedulable') {
        const created = Date.parse(stringField(obj, ['metadata', 'creationTimestamp'], ''));
        const now = opts.now ?? Date.now();
        // Give the scheduler a grace window before calling it a failure.
        if (!Number.isNaN(created) && now - POD_SCHEDULE_WINDOW_MS < created) {
          return inProgress('Pod has not been scheduled');
        }
        return failed('Pod could not be scheduled');
      }
      return inProgress('Pod is in the Pending phase');
    }
    case '':
      return inProgress('Pod phase not available');
    default:
      throw new StatusComputeError(`unknown phase ${phase}`);
  }
};

const pdb: KindRule = () => current('AllowedDisruptions has been computed.');

const job: KindRule = (u) => {
  const obj = u as Obj;
  const parallelism = intField(obj, ['spec', 'parallelism'], 1);
  const completions = intField(obj, ['spec', 'completions'], parallelism);
  const succeeded = intField(obj, ['status', 'succeeded'], 0);
  const active = intField(obj, ['status', 'active'], 0);
  const failedPods = intField(obj, ['status', 'failed'], 0);
  const startTime = stringField(obj, ['status', 'startTime'], '');

  for (const c of conditionsOf(obj)) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete') return current(`Job Completed. succeeded: ${succeeded}/${completions}`);
    if (c.type === 'Failed') return failed(`Job Failed. failed: ${failedPods}/${completions}`);
    if (c.type === 'Suspended') return current('Job is suspended');
  }
  if (startTime === '') return inProgress('Job not started');
  return current(`Job in progress. success:${succeeded}, active: ${active}, failed: ${failedPods}`);
};

const service: KindRule = (u, opts) => {
  const obj = u as Obj;
  const type = stringField(obj, ['spec', 'type'], 'ClusterIP');
  if (type === 'LoadBalancer') {
    if (stringField(obj, ['spec', 'clusterIP'], '') === '') {
      return inProgress('ClusterIP not set. Service type: LoadBalancer');
    }
    if (opts.requireLoadBalancerIngress) {
      const ingress = nested(obj, ['status', 'loadBalancer', 'ingress']);
      if (!Array.isArray(ingress) || ingress.length === 0) {
        return inProgress('LoadBalancer ingress not assigned. Service type: LoadBalancer');
      }
    }
  }
  return current('Service is ready');
};

const crd: KindRule = (u) => {
  for (const c of conditionsOf(u as Obj)) {
    if (c.type === 'NamesAccepted' && c.status === 'False') return failed(c.message);
    if (c.type === 'Established') {
      if (c.status === 'False' && c.reason !== 'Installing') return failed(c.message);
      if (c.status === 'True') return current('CRD is established');
    }
  }
  return inProgress('Install in progress');
};

/** Keyed like kstatus legacyTypes: "group/Kind", or "Kind" for the core group. */
const kindRules: ReadonlyMap<string, KindRule> = new Map<string, KindRule>([
  ['Service', service],
  ['Pod', pod],
  ['Secret', alwaysReady],
  ['PersistentVolumeClaim', pvc],
  ['apps/StatefulSet', statefulSet],
  ['apps/DaemonSet', daemonSet],
  ['extensions/DaemonSet', daemonSet],
  ['apps/Deployment', deployment],
  ['extensions/Deployment', deployment],
  ['apps/ReplicaSet', replicaSet],
  ['extensions/ReplicaSet', replicaSet],
  ['policy/PodDisruptionBudget', pdb],
  ['batch/CronJob', alwaysReady],
  ['ConfigMap', alwaysReady],
  ['batch/Job', job],
  ['apiextensions.k8s.io/CustomResourceDefinition', crd],
]);

// ---------------------------------------------------------------------------------------
// status.go: the Ready-condition fallback for kinds without a rule

function checkReadyCondition(u: KubeObject): StatusResult | undefined {
  for (const c of conditionsOf(u as Obj)) {
    if (c.type !== 'Ready') continue;
    if (c.status === 'True') return current('Resource is Ready');
    if (c.status === 'False' || c.status === 'Unknown') return inProgress(c.message);
  }
  return undefined;
}

/**
 * Computes the kstatus status of one object from its own fields. Never throws: a
 * malformed object yields `Unknown` with the reason as message.
 */
export function computeStatus(obj: KubeObject, opts: ComputeOptions = {}): StatusResult {
  try {
    const generic = checkGenericProperties(obj);
    if (generic) return generic;
    const group = groupOf(obj.apiVersion);
    const rule = kindRules.get(group === '' ? obj.kind : `${group}/${obj.kind}`);
    if (rule) return rule(obj, opts);
    return checkReadyCondition(obj) ?? current('Resource is current');
  } catch (err) {
    // kstatus returns an error here; the poller turns that into Unknown.
    return { status: 'Unknown', message: err instanceof Error ? err.message : String(err) };
  }
}
