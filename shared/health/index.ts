export type { KubeObject, ObjectMeta, KubeCondition, ObjectRef } from './types.js';
export { computeStatus, groupOf, POD_SCHEDULE_WINDOW_MS } from './kstatus.js';
export type { HealthStatus, StatusResult, ComputeOptions } from './kstatus.js';
export { waitForHealth, formatObjectId, DEFAULT_POLL_INTERVAL_MS } from './wait.js';
export { formatGoDuration } from '../util/duration.js';
export type { GetObject, WaitForHealthOptions, ObjectHealth, HealthOutcome, HealthResult } from './wait.js';
