/**
 * Wires the Receiver app to the runtime: Receivers come from the state store (definitions
 * found in Git) with their tokens from Secrets on the management cluster, and a valid hook
 * marks its targets (`requestedAt`) and enqueues them.
 */
import type { Hono } from 'hono';
import { createReceiverApp, type ReconcileRequestInfo } from '../receivers/app.js';
import type { DeliveryDeduper } from '../receivers/dedupe.js';
import { resolveReceiverEntry, type ReceiverDirectory, type ReceiverEntry } from '../receivers/directory.js';
import type { RegistryArtifact } from '../receivers/images.js';
import { ReceiverTargetsError } from '../receivers/errors.js';
import { parseReceiverObject, type ResourceSelector } from '../receivers/spec.js';
import { tenancyOf } from '../kube/tenancy.js';
import { IMAGE_SOURCE_KINDS, repositoryMatches, watchedRepository } from '../images/match.js';
import type { KubeObject } from '../kube/object.js';
import { corruptMessage, isCorrupt, listRecords, type ObjectRecord } from '../state/records.js';
import { errorMessage } from '../util/errors.js';
import { log } from '../util/log.js';
import { requestPreview } from '../preview/enqueue.js';
import { enqueue } from './enqueue.js';
import type { Runtime } from './runtime.js';
import { withCel } from '../cel/load.js';

/** The Receivers to serve: from the state store, with their tokens from Secrets. */
export function stateReceiverDirectory(rt: Runtime): ReceiverDirectory {
  return {
    async list() {
      const out: ReceiverEntry[] = [];
      for (const read of await listRecords(rt.state, { kind: 'Receiver' })) {
        const { key, record: rec } = read;
        if (read.corrupt) {
          log.error('receiver not served: its state record is corrupt', { error: corruptMessage(read) });
          continue;
        }
        if (!rec?.object || rec.deleted) continue;
        try {
          const parsed = await withCel(() => parseReceiverObject(rec.object));
          out.push(await resolveReceiverEntry({ ...parsed, namespace: key.namespace, name: key.name }, (ns, n) => rt.secrets.get(ns, n)));
        } catch (err) {
          log.warn('receiver not served', { receiver: `${key.namespace}/${key.name}`, error: errorMessage(err) });
        }
      }
      return out;
    },
  };
}

function labelsMatch(labels: Record<string, string> | undefined, want: Record<string, string> | undefined): boolean {
  return Object.entries(want ?? {}).every(([k, v]) => labels?.[k] === v);
}

/**
 * True when a registry event's artifacts concern the object: an ImageRepository,
 * OCIRepository or HelmRepository (type oci) must watch one of the repositories; other
 * objects (or ones whose repository cannot be told) are not narrowed.
 */
function aboutObject(artifacts: readonly RegistryArtifact[], obj: KubeObject): boolean {
  if (!IMAGE_SOURCE_KINDS.has(obj.kind)) return true;
  const watched = watchedRepository(obj);
  if (!watched) return true;
  return artifacts.some((a) => repositoryMatches(a, watched));
}

/**
 * Marks the targets as requested now (`requestedAt`) and enqueues them; returns how many.
 * With `info.artifacts` (registry receivers), the image sources a `*` selector matches are
 * marked only when they watch a repository the event names. With `receiver` and the
 * `noCrossNamespaceRefs` lockdown, a target in another namespace is refused, as Flux's
 * receiver does: the other targets are still marked, then ReceiverTargetsError is thrown
 * (the app answers 500).
 */
export async function requestReconcile(
  rt: Runtime,
  targets: readonly ResourceSelector[],
  info: ReconcileRequestInfo = {},
  receiver?: { namespace: string; name: string },
): Promise<number> {
  const requestedAt = rt.now().toISOString();
  const lockdown = receiver !== undefined && tenancyOf(rt.settings).noCrossNamespaceRefs === true;
  const refused: string[] = [];
  let n = 0;
  for (const [i, t] of targets.entries()) {
    const ns = t.namespace ?? 'default';
    if (lockdown && ns !== receiver.namespace) {
      refused.push(`resources[${i}] ${t.kind}/${ns}/${t.name}: cross-namespace references are not allowed`);
      continue;
    }
    const keys =
      t.name === '*'
        ? await rt.state.list({ kind: t.kind, namespace: ns })
        : [{ kind: t.kind, namespace: ns, name: t.name }];
    for (const key of keys) {
      let res: Awaited<ReturnType<typeof rt.state.update<ObjectRecord>>>;
      try {
        res = await rt.state.update<ObjectRecord>(key, (cur) => {
          if (!cur?.object || cur.deleted) return undefined;
          if (t.name === '*' && !labelsMatch(cur.object.metadata.labels, t.matchLabels)) return undefined;
          // Registry events name their images: a `*` selector marks only the image sources
          // watching one of them (a named target is marked, as Flux does).
          if (t.name === '*' && info.artifacts && !aboutObject(info.artifacts, cur.object)) return undefined;
          // Receiver CEL filters (resourceFilter, resources[].filter) decide per object.
          if (info.accept && !info.accept(i, { apiVersion: cur.object.apiVersion, kind: cur.object.kind, metadata: cur.object.metadata })) return undefined;
          return { ...cur, requestedAt };
        });
      } catch (err) {
        if (!isCorrupt(err)) throw err;
        log.error('webhook target skipped: its state record is corrupt', { target: `${key.kind}/${key.namespace}/${key.name}`, error: errorMessage(err) });
        continue;
      }
      if (res?.value.requestedAt !== requestedAt) continue;
      await enqueue(rt, key, 'webhook', { dedupKey: info.deliveryId ?? requestedAt });
      n++;
    }
  }
  if (refused.length > 0 && receiver !== undefined) throw new ReceiverTargetsError(receiver, refused);
  return n;
}

/** The Receiver app (hono) on the runtime. */
export function createWebhookApp(rt: Runtime, opts: { deduper?: DeliveryDeduper } = {}): Hono {
  return createReceiverApp({
    directory: stateReceiverDirectory(rt),
    deduper: opts.deduper,
    requester: {
      request: async (targets, receiver, info) => {
        // A pull (merge) request to preview: rendered and dry-run by the worker (shared/preview).
        // The reconcile comes first; a preview that cannot be queued never costs it, and a
        // refused target (ReceiverTargetsError, thrown after the others are marked) does not
        // cost the preview.
        let marked: number | undefined;
        let refused: unknown;
        try {
          marked = await requestReconcile(rt, targets, info, receiver);
        } catch (err) {
          if (!(err instanceof ReceiverTargetsError)) throw err;
          refused = err;
        }
        if (info.preview) {
          await requestPreview(rt, receiver, info.preview).catch((err: unknown) =>
            log.error('pull request preview not queued', { receiver: `${receiver.namespace}/${receiver.name}`, repository: info.preview?.repository, number: info.preview?.number, error: errorMessage(err) }),
          );
        }
        if (refused !== undefined) throw refused;
        return marked ?? 0;
      },
    },
  });
}
