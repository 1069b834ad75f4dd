/** Builds a Runtime from the configuration: filesystem + on-disk queue, or S3 + SQS. */
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { KubeConfig } from '@kubernetes/client-node';
import path from 'node:path';
import { ArtifactCache } from '../artifacts/cache.js';
import { FsArtifactStore } from '../artifacts/fs-store.js';
import { S3ArtifactStore } from '../artifacts/s3-store.js';
import type { FluxlessConfig } from '../config/config.js';
import { isKnownKind } from '../kinds/descriptors.js';
import { createKubeClient, type KubeClient } from '../kube/client.js';
import { closeTargetClusters } from '../kube/targets.js';
import type { TenancySettings } from '../kube/tenancy.js';
import { kubeConfigFor } from '../kube/kubeconfig.js';
import { RestMapper } from '../kube/mapper.js';
import { createSecretReader } from '../kube/secrets.js';
import { alertListingProjection, notificationSink } from '../notify/sink.js';
import { LocalWorkQueue, SqsWorkQueue } from '../queue/index.js';
import type { ReconcileSettings } from '../reconcile/contract.js';
import { registerEventSink } from '../reconcile/events.js';
import { configureKustomizeBatching } from '../render/kustomize-batch-options.js';
import { FsStateStore, S3StateStore } from '../state/index.js';
import { trackKindGenerations } from '../state/kind-generation.js';
import { parseDuration } from '../util/duration.js';
import { S3_CLIENT_DEFAULTS } from '../util/s3.js';
import type { Runtime } from './runtime.js';

/** The reconcile settings of a configuration (the tenancy lockdown included, kube/tenancy.ts). */
export function reconcileSettings(cfg: FluxlessConfig): ReconcileSettings & TenancySettings {
  return {
    defaultServiceAccount: cfg.lockdown.defaultServiceAccount,
    noCrossNamespaceRefs: cfg.lockdown.noCrossNamespaceRefs,
    noRemoteBases: cfg.lockdown.noRemoteBases,
    insecureKubeconfigExec: cfg.cluster.insecureKubeconfigExec ?? false,
    insecureKubeconfigTLS: cfg.cluster.insecureKubeconfigTLS ?? false,
    healthIntervalMs: parseDuration(cfg.worker.healthInterval, 'worker.healthInterval'),
    allowRemoteBases: cfg.render.allowRemoteBases,
    toolMemoryMiB: cfg.render.toolMemoryMiB,
    applyFluxComponents: cfg.applyFluxComponents,
    strictPostBuildSubstitutions: cfg.featureGates.StrictPostBuildSubstitutions,
    additiveCELDependencyCheck: cfg.featureGates.AdditiveCELDependencyCheck,
  };
}

/**
 * The runtime of a configuration (the kubeconfig may be given, e.g. from Lambda's sources),
 * with the notification pipeline's event sink registered on its state store, which tracks
 * the Alert generation (state/kind-generation.ts).
 */
export function createRuntime(cfg: FluxlessConfig, opts: { kubeConfig?: KubeConfig } = {}): Runtime {
  if (cfg.render.kustomizeGatherMs !== undefined) configureKustomizeBatching({ gatherMs: cfg.render.kustomizeGatherMs });
  // Closing the management client also closes the remote cluster clients resolved through it.
  const kubeConfig = opts.kubeConfig ?? kubeConfigFor(cfg);
  const client: KubeClient = createKubeClient(kubeConfig, { onClose: () => closeTargetClusters(client) });
  const awsOpts = { region: cfg.aws.region ?? 'us-east-1', ...(cfg.aws.endpoint ? { endpoint: cfg.aws.endpoint } : {}) };
  let state: Runtime['state'];
  let artifacts: Runtime['artifacts'];
  if (cfg.store.type === 's3') {
    const s3 = new S3Client({ ...S3_CLIENT_DEFAULTS, ...awsOpts, forcePathStyle: Boolean(cfg.aws.endpoint) });
    state = new S3StateStore({ client: s3, bucket: cfg.store.bucket, prefix: `${cfg.store.prefix}state/` });
    artifacts = new S3ArtifactStore({ client: s3, bucket: cfg.store.bucket, prefix: `${cfg.store.prefix}artifacts/` });
  } else {
    state = new FsStateStore(path.join(cfg.store.dir, 'state'));
    artifacts = new FsArtifactStore(path.join(cfg.store.dir, 'artifacts'));
  }
  // The notification pipeline reuses its listing of Alerts while their generation stays put.
  state = trackKindGenerations(state, { Alert: alertListingProjection });
  const queue =
    cfg.queue.type === 'sqs'
      ? new SqsWorkQueue({ client: new SQSClient(awsOpts), queueUrl: cfg.queue.url, dlqUrl: cfg.queue.dlqUrl })
      : new LocalWorkQueue(cfg.queue.dir);
  const store = artifacts;
  const rt: Runtime = {
    state,
    artifacts,
    artifactCache: new ArtifactCache({ fetch: (a) => store.get(a.key, a.digest) }),
    queue,
    client,
    // helm runs with the same credentials as our own client (the local control plane, Lambda's kubeconfig, ...).
    kubeConfig,
    mapper: new RestMapper(client, { maxAgeMs: 60_000 }),
    secrets: createSecretReader(client),
    fieldManager: 'fluxless',
    settings: reconcileSettings(cfg),
    isKnownKind,
    now: () => new Date(),
  };
  // Every new event a reconciler records becomes a notify message per matching Alert (shared/notify).
  registerEventSink(state, notificationSink(rt));
  return rt;
}
