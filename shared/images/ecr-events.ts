/**
 * Amazon ECR image pushes delivered by EventBridge (`source: aws.ecr`, `detail-type: ECR
 * Image Action`, `detail.action-type: PUSH`, `detail.result: SUCCESS`): the event's
 * `<account>.dkr.ecr.<region>.amazonaws.com/<repository-name>` is matched to the
 * ImageRepositories watching it (through the image-source index, no scan of records) and
 * to the OCIRepositories and HelmRepositories (type oci) watching it (their records are
 * read: they are not in the index), which are then marked requested and enqueued as a
 * webhook would. IAM (who may put events on the bus) is the authentication.
 */
import type { ObjectKey } from '../kube/object.js';
import { ECR_HOST_PATTERN } from '../oci/ecr.js';
import type { ResourceSelector } from '../receivers/spec.js';
import type { Runtime } from '../runtime/runtime.js';
import { requestReconcile } from '../runtime/webhook.js';
import { listRecords, readRecordSafe } from '../state/records.js';
import type { StateStore } from '../state/store.js';
import { watchedRepository, type WatchedRepository } from './match.js';
import { imageSourcesFor } from './repository-index.js';

/** The fields of an EventBridge "ECR Image Action" event that matter. */
export interface EcrImageActionEvent {
  id?: string;
  source?: string;
  'detail-type'?: string;
  account?: string;
  region?: string;
  time?: string;
  detail?: {
    result?: string;
    'repository-name'?: string;
    'image-digest'?: string;
    'action-type'?: string;
    'image-tag'?: string;
  };
}

/** A successful ECR push, read from an event. */
export interface EcrPush {
  account: string;
  region: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** `<account>.dkr.ecr.<region>.amazonaws.com[.cn]` */
  host: string;
}

/** The push an event reports, or why it is ignored. */
export function ecrPush(event: EcrImageActionEvent): { push: EcrPush } | { ignored: string } {
  if (event.source !== 'aws.ecr' || event['detail-type'] !== 'ECR Image Action') return { ignored: `not an ECR image action (source ${JSON.stringify(event.source)}, detail-type ${JSON.stringify(event['detail-type'])})` };
  const d = event.detail ?? {};
  if (d['action-type'] !== 'PUSH') return { ignored: `action-type ${JSON.stringify(d['action-type'])} is not PUSH` };
  if (d.result !== 'SUCCESS') return { ignored: `result ${JSON.stringify(d.result)} is not SUCCESS` };
  const account = event.account;
  const region = event.region;
  const repository = d['repository-name'];
  if (!account || !/^[0-9]{12}$/.test(account) || !region || !/^[a-z0-9-]+$/.test(region) || !repository) {
    return { ignored: 'the event has no account, region or detail.repository-name' };
  }
  const host = `${account}.dkr.ecr.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;
  return { push: { account, region, repository, host, ...(d['image-tag'] ? { tag: d['image-tag'] } : {}), ...(d['image-digest'] ? { digest: d['image-digest'] } : {}) } };
}

/** True when the object watches the pushed ECR repository (any ECR host form of the account and region). */
export function watchesEcrPush(watched: WatchedRepository, push: EcrPush): boolean {
  const m = ECR_HOST_PATTERN.exec(watched.registry.toLowerCase());
  if (!m || m[1] !== push.account || m[2] !== push.region) return false;
  return watched.repository === push.repository || (watched.prefix && push.repository.startsWith(`${watched.repository}/`));
}

/** The image sources a push concerns: indexed ImageRepositories, OCIRepositories and oci HelmRepositories. */
export async function ecrTargets(state: StateStore, push: EcrPush): Promise<ObjectKey[]> {
  const out: ObjectKey[] = [];
  const seen = new Set<string>();
  const add = (k: ObjectKey) => {
    const id = `${k.kind}/${k.namespace}/${k.name}`;
    if (!seen.has(id)) {
      seen.add(id);
      out.push(k);
    }
  };
  for (const key of await imageSourcesFor(state, `${push.host}/${push.repository}`)) {
    const read = await readRecordSafe(state, key);
    const obj = read.record?.object;
    if (!obj || read.record?.deleted) continue;
    const w = watchedRepository(obj);
    if (w && watchesEcrPush(w, push)) add(key);
  }
  for (const kind of ['OCIRepository', 'HelmRepository']) {
    for (const read of await listRecords(state, { kind })) {
      const obj = read.record?.object;
      if (!obj || read.record?.deleted) continue;
      const w = watchedRepository(obj);
      if (w && watchesEcrPush(w, push)) add(read.key);
    }
  }
  return out;
}

/** Named selectors for requestReconcile. */
export function selectorsFor(keys: readonly ObjectKey[]): ResourceSelector[] {
  return keys.map((k) => ({ kind: k.kind, name: k.name, namespace: k.namespace }));
}

/** What one event did. */
export interface EcrEventOutcome {
  /** `<host>/<repository>:<tag>` of the push, when the event is one. */
  image?: string;
  /** Objects that watch the pushed repository. */
  enqueued: ObjectKey[];
  /** How many of them were marked requested and enqueued (deleted ones are not). */
  marked: number;
  /** Why the event changed nothing. */
  ignored?: string;
}

/**
 * Handles one EventBridge event: the watching image sources are marked requested (as a
 * webhook marks them) and enqueued; the event id deduplicates redeliveries.
 */
export async function handleEcrEvent(rt: Runtime, event: EcrImageActionEvent): Promise<EcrEventOutcome> {
  const read = ecrPush(event ?? {});
  if ('ignored' in read) return { enqueued: [], marked: 0, ignored: read.ignored };
  const { push } = read;
  const image = `${push.host}/${push.repository}${push.tag ? `:${push.tag}` : ''}`;
  const targets = await ecrTargets(rt.state, push);
  if (targets.length === 0) return { image, enqueued: [], marked: 0, ignored: `no ImageRepository or OCIRepository watches ${push.host}/${push.repository}` };
  const marked = await requestReconcile(rt, selectorsFor(targets), event.id ? { deliveryId: `ecr-${event.id}` } : {});
  return { image, enqueued: targets, marked };
}
