/**
 * The runtime context: the stores, the queue and the management cluster, injected into
 * every handler. Built by the local runtime (filesystem, on-disk queue) or the Lambda
 * functions (S3, SQS) from the same configuration; the handlers never know which.
 */
import type { ArtifactCache } from '../artifacts/cache.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { KubeClient } from '../kube/client.js';
import type { RestMapper } from '../kube/mapper.js';
import type { SecretReader } from '../kube/secrets.js';
import type { WorkQueue } from '../queue/index.js';
import type { StateStore } from '../state/index.js';

export interface Runtime {
  state: StateStore;
  artifacts: ArtifactStore;
  /** Artifacts extracted once per process for the builds (over `artifacts`). */
  artifactCache: ArtifactCache;
  queue: WorkQueue;
  client: KubeClient;
  /** Discovery of the management cluster, shared by the reconciles of this process. */
  mapper: RestMapper;
  secrets: SecretReader;
  fieldManager: string;
  /** Health polling interval for Kustomizations (Flux: 5s). */
  healthIntervalMs?: number;
  now(): Date;
}
