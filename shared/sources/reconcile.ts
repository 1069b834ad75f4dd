/**
 * GitRepository reconcile: ask the remote for its refs; when the revision is new, fetch it
 * shallowly, archive it, store the artifact (keeping the last 2) and record it in the
 * source's status, as Flux's source-controller does.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { buildArtifact } from '../artifacts/build.js';
import type { ArtifactStore } from '../artifacts/store.js';
import type { SecretReader } from '../kube/secrets.js';
import { readRecord, recordKey, setCondition, removeCondition, MAX_EVENTS, type ObjectRecord } from '../reconcile/records.js';
import type { StateStore } from '../state/index.js';
import { errorMessage, FluxlessError } from '../util/errors.js';
import { log } from '../util/log.js';
import { fetchGitRepository, parseGitRepository } from './git.js';
import { GitAuthError } from './git-errors.js';
import type { GitCredentials } from './types.js';

export interface SourceDeps {
  state: StateStore;
  artifacts: ArtifactStore;
  secrets: SecretReader;
  now?: () => Date;
  signal?: AbortSignal;
}

export interface SourceOutcome {
  ready: boolean;
  /** True when a new artifact was stored. */
  changed: boolean;
  revision?: string;
  reason: string;
  message: string;
  requeueAfterMs?: number;
}

function jitter(ms: number): number {
  return Math.round(ms * (0.95 + Math.random() * 0.1));
}

export async function reconcileGitRepository(deps: SourceDeps, ref: { namespace: string; name: string }): Promise<SourceOutcome> {
  const key = recordKey('GitRepository', ref.namespace, ref.name);
  const rec = await readRecord(deps.state, key);
  const at = () => (deps.now ? deps.now() : new Date());
  if (!rec?.object) return { ready: false, changed: false, reason: 'NotFound', message: `GitRepository ${ref.namespace}/${ref.name} is not defined` };
  if (rec.deleted) {
    const n = await deps.artifacts.deleteAll(key);
    await deps.state.delete(key);
    return { ready: false, changed: false, reason: 'Finalized', message: `GitRepository deleted, ${n} artifact(s) removed` };
  }
  let intervalMs = 60_000;
  const work = await mkdtemp(path.join(os.tmpdir(), 'fluxless-git-'));
  try {
    const repo = parseGitRepository(rec.object, { defaultNamespace: ref.namespace });
    intervalMs = repo.spec.intervalMs;
    if (repo.spec.suspend || rec.suspended) return { ready: true, changed: false, reason: 'Suspended', message: 'GitRepository is suspended' };
    let auth: GitCredentials | undefined;
    if (repo.spec.secretRef) {
      const data = await deps.secrets.get(ref.namespace, repo.spec.secretRef.name);
      auth = { username: data.username, password: data.password, bearerToken: data.bearerToken };
    }
    // Skip the fetch only when the stored artifact was built from the same ignore rules.
    const cur = rec.status.artifact;
    const last = cur && (cur.ignore ?? '') === (repo.spec.ignore ?? '') ? cur.revision : undefined;
    const res = await fetchGitRepository(repo.spec, auth, { dir: path.join(work, 'checkout'), lastRevision: last, signal: deps.signal });
    if (!res.changed) {
      await writeSourceStatus(deps, key, { ready: true, reason: 'Succeeded', message: `stored artifact for revision '${res.revision}'`, nextRunMs: jitter(intervalMs) }, at());
      return { ready: true, changed: false, revision: res.revision, reason: 'Succeeded', message: 'unchanged', requeueAfterMs: intervalMs };
    }
    const art = await buildArtifact(res.dir, { ignore: repo.spec.ignore });
    const stored = await deps.artifacts.put(key, res.revision, art.tarGz);
    await deps.artifacts.gc(key, 2, { protect: [stored.key] }).catch((err: unknown) => log.warn('artifact gc failed', { error: errorMessage(err) }));
    const subject = res.message.split('\n')[0];
    await writeSourceStatus(
      deps,
      key,
      {
        ready: true,
        reason: 'Succeeded',
        message: `stored artifact for revision '${res.revision}'`,
        nextRunMs: jitter(intervalMs),
        artifact: { revision: res.revision, digest: stored.digest, key: stored.key, size: stored.size, url: stored.url, lastUpdateTime: stored.lastUpdateTime, ignore: repo.spec.ignore },
        event: { severity: 'info', reason: 'NewArtifact', message: `stored artifact for commit '${subject}'`, revision: res.revision },
      },
      at(),
    );
    log.info('new artifact', { source: `GitRepository/${ref.namespace}/${ref.name}`, revision: res.revision, files: art.fileCount, size: art.size });
    return { ready: true, changed: true, revision: res.revision, reason: 'Succeeded', message: `stored artifact for revision '${res.revision}'`, requeueAfterMs: intervalMs };
  } catch (err) {
    const reason = err instanceof GitAuthError ? 'AuthenticationFailed' : err instanceof FluxlessError && err.code === 'ValidationFailed' ? 'InvalidSpec' : 'GitOperationFailed';
    const message = errorMessage(err);
    await writeSourceStatus(deps, key, { ready: false, reason, message, nextRunMs: jitter(intervalMs), event: { severity: 'error', reason, message } }, at());
    log.warn('source failed', { source: `GitRepository/${ref.namespace}/${ref.name}`, reason, error: message });
    return { ready: false, changed: false, reason, message, requeueAfterMs: intervalMs };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function writeSourceStatus(
  deps: SourceDeps,
  key: ReturnType<typeof recordKey>,
  u: {
    ready: boolean;
    reason: string;
    message: string;
    nextRunMs: number;
    artifact?: NonNullable<ObjectRecord['status']['artifact']>;
    event?: { severity: 'info' | 'error'; reason: string; message: string; revision?: string };
  },
  at: Date,
): Promise<void> {
  const now = at.toISOString();
  await deps.state.update<ObjectRecord>(key, (cur) => {
    if (!cur) return undefined;
    const gen = Number(cur.object?.metadata.generation ?? 1);
    let conds = setCondition(cur.status.conditions, { type: 'Ready', status: u.ready ? 'True' : 'False', reason: u.reason, message: u.message, observedGeneration: gen }, now);
    conds = removeCondition(conds, 'Reconciling');
    if (u.artifact || cur.status.artifact) {
      conds = setCondition(conds, { type: 'ArtifactInStorage', status: 'True', reason: 'Succeeded', message: `stored artifact for revision '${(u.artifact ?? cur.status.artifact)!.revision}'`, observedGeneration: gen }, now);
    }
    const lastEvent = cur.events?.at(-1);
    const dup = u.event && lastEvent && lastEvent.reason === u.event.reason && lastEvent.message === u.event.message;
    return {
      ...cur,
      status: {
        ...cur.status,
        conditions: conds,
        observedGeneration: gen,
        artifact: u.artifact ?? cur.status.artifact,
        lastReconciledAt: now,
        lastHandledReconcileAt: cur.requestedAt ?? cur.status.lastHandledReconcileAt,
        nextRunAt: new Date(at.getTime() + u.nextRunMs).toISOString(),
      },
      events: u.event && !dup ? [...(cur.events ?? []), { timestamp: now, ...u.event }].slice(-MAX_EVENTS) : cur.events,
    };
  });
}
