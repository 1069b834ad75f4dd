/** Kubernetes object shapes that health checks read: objects, metadata, conditions and references. */
export type { KubeObject, ObjectMeta, KubeCondition, ObjectRef } from './types.js';
export { computeStatus, groupOf, POD_SCHEDULE_WINDOW_MS } from './kstatus.js';
/** Types of computeStatus: kstatus status values, one object's result, and its options. */
export type { HealthStatus, StatusResult, ComputeOptions } from './kstatus.js';
export { waitForHealth, formatObjectId, DEFAULT_POLL_INTERVAL_MS } from './wait.js';
export { formatGoDuration } from '../util/duration.js';
/** Types of waitForHealth: the object fetcher, its options, and per-object and overall results. */
export type { GetObject, WaitForHealthOptions, ObjectHealth, HealthOutcome, HealthResult } from './wait.js';
