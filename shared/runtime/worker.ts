/**
 * The worker: handles one reconcile message. Sources fetch and store artifacts, then
 * enqueue the Kustomizations that use them; Kustomizations reconcile, then enqueue the
 * definitions they created or removed and the Kustomizations that depend on them.
 *
 * A reconcile that fails on its own terms (bad manifest, health check) is recorded in the
 * object's status and retried on schedule (retryInterval); the message is acked. An error
 * that says nothing about the object (API server unreachable, store down) is thrown, so the
 * queue redelivers the message and, after N tries, dead-letters it with the reason.
 */
import type { ReceivedMessage } from '../queue/index.js';
import { reconcileKustomization } from '../reconcile/kustomization.js';
import { registeredDependents, unregisterDependents } from '../reconcile/dependents.js';
import { isReady, readRecord, recordKey, type ObjectRecord } from '../reconcile/records.js';
import { reconcileGitRepository } from '../sources/reconcile.js';
import { log } from '../util/log.js';
import { enqueue, type Target } from './enqueue.js';
import type { Runtime } from './runtime.js';

export const DEFINITION_ONLY_KINDS = new Set(['Receiver', 'Alert', 'Provider']);

async function kustomizationsWhere(rt: Runtime, pred: (rec: ObjectRecord, t: Target) => boolean): Promise<Target[]> {
  const out: Target[] = [];
  for (const key of await rt.state.list({ kind: 'Kustomization' })) {
    const rec = await readRecord(rt.state, key);
    if (rec?.object && !rec.deleted && pred(rec, key)) out.push(key);
  }
  return out;
}

/** A dedup key per definition generation (or deletion). */
export async function definitionKey(rt: Runtime, key: Target): Promise<string> {
  const rec = await readRecord(rt.state, key);
  return rec?.deleted ? 'finalize' : `gen-${rec?.object?.metadata.generation ?? 0}`;
}

export async function handleMessage(rt: Runtime, msg: ReceivedMessage, signal?: AbortSignal): Promise<void> {
  const t = msg.message.target;
  const logger = log.child({ target: `${t.kind}/${t.namespace}/${t.name}`, reason: msg.message.reason, delivery: msg.receiveCount });
  switch (t.kind) {
    case 'GitRepository': {
      const out = await reconcileGitRepository({ state: rt.state, artifacts: rt.artifacts, secrets: rt.secrets, now: () => rt.now(), signal }, t);
      if (out.changed && out.revision) {
        const users = await kustomizationsWhere(rt, (rec, k) => {
          const sr = (rec.object?.spec as { sourceRef?: { kind?: string; name?: string; namespace?: string } } | undefined)?.sourceRef;
          return sr?.kind === 'GitRepository' && sr.name === t.name && (sr.namespace ?? k.namespace) === t.namespace;
        });
        for (const k of users) await enqueue(rt, k, 'source', { revision: out.revision, dedupKey: out.revision });
      }
      return;
    }
    case 'Kustomization': {
      const out = await reconcileKustomization(
        {
          state: rt.state,
          client: rt.client,
          fieldManager: rt.fieldManager,
          mapper: rt.mapper,
          healthIntervalMs: rt.healthIntervalMs,
          now: () => rt.now(),
          signal,
          artifacts: rt.artifactCache,
        },
        t,
      );
      if (out.transientError) throw out.transientError;
      for (const d of [...out.changedDefinitions, ...out.removedDefinitions]) {
        if (DEFINITION_ONLY_KINDS.has(d.kind)) continue;
        // Same key as the scheduler's for this generation, so the two requests collapse.
        await enqueue(rt, d, 'dependency', { dedupKey: await definitionKey(rt, d) });
      }
      if (out.ready) {
        // Wake the Kustomizations waiting on this one (the index holds hints: check each).
        const gone: Target[] = [];
        for (const d of await registeredDependents(rt.state, t)) {
          const k = recordKey('Kustomization', d.namespace, d.name);
          const rec = await readRecord(rt.state, k);
          const deps = (rec?.object?.spec as { dependsOn?: Array<{ name: string; namespace?: string }> } | undefined)?.dependsOn ?? [];
          if (!rec?.object || rec.deleted || !deps.some((x) => x.name === t.name && (x.namespace ?? d.namespace) === t.namespace)) gone.push(k);
          else if (rec.status.lastAppliedRevision !== out.revision || !isReady(rec)) await enqueue(rt, k, 'dependency', { dedupKey: `dep-${out.revision}` });
        }
        await unregisterDependents(rt.state, t, gone);
      }
      logger.info('kustomization handled', { ready: out.ready, reason: out.reason });
      return;
    }
    default: {
      const rec = await readRecord(rt.state, recordKey(t.kind, t.namespace, t.name));
      if (rec?.deleted) await rt.state.delete(recordKey(t.kind, t.namespace, t.name));
      else if (!DEFINITION_ONLY_KINDS.has(t.kind)) logger.warn(`${t.kind} is not supported yet: the definition is kept but not reconciled`);
    }
  }
}
